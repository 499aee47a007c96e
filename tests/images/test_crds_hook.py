"""The start hook that links a shared read-only CRDS cache into the user's cache.

Runs the real hook with bash on temporary directories, as an unprivileged user
(uid 1000, gid 100, like jovyan) through setpriv, the way start.sh runs it in a pod.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_support import IMAGES_DIR

from astrohub.unprivileged import GID, UID, run_as_prefix, scratch_dir

SOURCE_HOOK = IMAGES_DIR / "common" / "start-notebook.d" / "10-crds-shared-cache.sh"


@pytest.fixture
def dirs() -> Iterator[dict[str, Path]]:
    """A shared cache (root-owned, read-only), a home owned by the notebook user and a copy of
    the hook, in the runtime directory uid 1000 can reach (the checkout may not be: a clone
    under /root or a mktemp -d folder is private)."""
    if os.geteuid() != 0:
        pytest.fail("the hook tests switch to uid 1000 with setpriv and need root")
    base = scratch_dir("crds-hook-")
    hook = base / "10-crds-shared-cache.sh"
    shutil.copy2(SOURCE_HOOK, hook)
    hook.chmod(0o644)
    shared = base / "shared"
    files = {
        "references/jwst/jwst_nircam_gain_0001.fits": "gain",
        "references/hst/wfc3/abc_bia.fits": "bias",
        "mappings/jwst/jwst_0001.pmap": "pmap",
        "config/jwst/server_config": "not linked",
    }
    for relative, text in files.items():
        path = shared / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for path in [shared, *shared.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    home = base / "home"
    home.mkdir()
    os.chown(home, UID, GID)
    try:
        yield {
            "base": base,
            "hook": hook,
            "shared": shared,
            "home": home,
            "cache": home / "crds_cache",
        }
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(base)


def run_hook(
    dirs: dict[str, Path], *, shared: bool = True, as_user: bool = True, foreground: bool = True
) -> subprocess.CompletedProcess[str]:
    cache = dirs["cache"]
    env = {"PATH": os.environ["PATH"], "HOME": str(cache.parent), "CRDS_PATH": str(cache)}
    if shared:
        env["CRDS_SHARED_CACHE"] = str(dirs["shared"])
    if foreground:
        env["CRDS_SHARED_CACHE_FOREGROUND"] = "1"
    prefix = run_as_prefix() if as_user else []
    return subprocess.run(
        [*prefix, "bash", str(dirs["hook"])], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_a_shared_cache_it_does_nothing(dirs: dict[str, Path]) -> None:
    proc = run_hook(dirs, shared=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert not dirs["cache"].exists()


def test_links_shared_files_and_keeps_the_users_own(dirs: dict[str, Path]) -> None:
    cache, shared = dirs["cache"], dirs["shared"]
    # The user already downloaded one reference of their own.
    own = cache / "references" / "jwst" / "jwst_nircam_gain_0001.fits"
    own.parent.mkdir(parents=True)
    own.write_text("mine")
    for path in [cache, cache / "references", own.parent, own]:
        os.chown(path, UID, GID)

    proc = run_hook(dirs)
    assert proc.returncode == 0, proc.stderr
    assert "linked" in proc.stdout

    assert not own.is_symlink() and own.read_text() == "mine"
    bias = cache / "references" / "hst" / "wfc3" / "abc_bia.fits"
    pmap = cache / "mappings" / "jwst" / "jwst_0001.pmap"
    for link, target in [
        (bias, shared / "references/hst/wfc3/abc_bia.fits"),
        (pmap, shared / "mappings/jwst/jwst_0001.pmap"),
    ]:
        assert link.is_symlink()
        assert Path(os.readlink(link)) == target
        assert link.read_text() == target.read_text()
    assert not (cache / "config").exists(), "only references and mappings are shared"

    # The user's directories are real, theirs and writable: CRDS can download into them.
    for directory in [bias.parent, pmap.parent, cache / "references" / "hst"]:
        info = directory.lstat()
        assert stat.S_ISDIR(info.st_mode) and not directory.is_symlink()
        assert (info.st_uid, info.st_gid) == (UID, GID)
        assert info.st_mode & stat.S_IWUSR
    new = subprocess.run(
        [*run_as_prefix(), "touch", str(bias.parent / "new_download.fits")],
        capture_output=True,
        text=True,
    )
    assert new.returncode == 0, new.stderr
    # Nothing was written to the shared cache.
    assert sorted(p.name for p in (shared / "references" / "hst" / "wfc3").iterdir()) == [
        "abc_bia.fits"
    ]


def test_rerun_is_idempotent_and_drops_retired_links(dirs: dict[str, Path]) -> None:
    cache, shared = dirs["cache"], dirs["shared"]
    assert run_hook(dirs).returncode == 0
    first = sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))
    assert run_hook(dirs).returncode == 0
    assert sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) == first

    # A reference retired from the shared cache: its link goes, the user's files stay.
    retired = shared / "references" / "hst" / "wfc3"
    retired.chmod(0o755)
    (retired / "abc_bia.fits").unlink()
    retired.chmod(0o555)
    assert run_hook(dirs).returncode == 0
    assert not (cache / "references" / "hst" / "wfc3" / "abc_bia.fits").is_symlink()
    assert (cache / "mappings" / "jwst" / "jwst_0001.pmap").is_symlink()


def test_default_runs_in_the_background_and_logs(dirs: dict[str, Path]) -> None:
    cache = dirs["cache"]
    proc = run_hook(dirs, foreground=False)
    assert proc.returncode == 0, proc.stderr
    assert "in the background" in proc.stdout
    link = cache / "mappings" / "jwst" / "jwst_0001.pmap"
    log = cache / ".astrohub-shared-cache.log"
    deadline = time.monotonic() + 30
    while not (link.is_symlink() and log.is_file() and "linked" in log.read_text()):
        assert time.monotonic() < deadline, "background linking did not finish in 30 s"
        time.sleep(0.05)


def test_sourcing_leaves_the_start_script_alone(dirs: dict[str, Path]) -> None:
    """start.sh sources the hook: it must not exit the shell, set options or leave
    functions behind, even when it cannot link."""
    script = f'source "{dirs["hook"]}"; echo "after:$-"; declare -F | grep -c _astrohub_ || true'
    env = {
        "PATH": os.environ["PATH"],
        "CRDS_PATH": str(dirs["cache"]),
        "CRDS_SHARED_CACHE": str(dirs["base"] / "not-mounted"),
    }
    proc = subprocess.run(
        [*run_as_prefix(), "bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "is not a directory" in proc.stdout
    after = next(line for line in proc.stdout.splitlines() if line.startswith("after:"))
    assert "e" not in after.split(":", 1)[1] and "u" not in after.split(":", 1)[1]
    assert proc.stdout.strip().splitlines()[-1] == "0"


def test_as_root_it_refuses_to_write_into_the_home(dirs: dict[str, Path]) -> None:
    proc = run_hook(dirs, as_user=False)
    assert proc.returncode == 0, proc.stderr
    assert "running as root" in proc.stdout
    assert not dirs["cache"].exists()
