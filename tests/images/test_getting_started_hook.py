"""The start hook that copies the image's getting-started notebooks into the user's home.

Runs the real hook with bash as uid 1000 (setpriv), the way start.sh runs it in a pod, on the
notebooks an image ships (images/common/getting-started plus the image's own).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_support import IMAGES_DIR

from astrohub import images
from astrohub.unprivileged import GID, UID, run_as_prefix, scratch_dir

SOURCE_HOOK = IMAGES_DIR / "common" / "start-notebook.d" / "20-getting-started.sh"


@pytest.fixture
def dirs() -> Iterator[dict[str, Path]]:
    """The hst image's notebooks (root-owned, read-only, as in the image), a home owned by
    the notebook user and the hook, in the runtime directory uid 1000 can reach."""
    if os.geteuid() != 0:
        pytest.fail("the hook tests switch to uid 1000 with setpriv and need root")
    base = scratch_dir("getting-started-hook-")
    hook = base / "20-getting-started.sh"
    shutil.copy2(SOURCE_HOOK, hook)
    hook.chmod(0o644)
    shipped = base / "shipped"
    image = next(i for i in images.load_images(IMAGES_DIR) if i.name == "hst")
    images.copy_getting_started(image, shipped)
    for path in [shipped, *shipped.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    home = base / "home"
    home.mkdir()
    os.chown(home, UID, GID)
    try:
        yield {"base": base, "hook": hook, "shipped": shipped, "home": home}
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(base)


def run_hook(
    dirs: dict[str, Path], *, as_user: bool = True, shipped: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(dirs["home"])}
    if shipped:
        env["ASTROHUB_GETTING_STARTED"] = str(dirs["shipped"])
    prefix = run_as_prefix() if as_user else []
    return subprocess.run(
        [*prefix, "bash", str(dirs["hook"])], env=env, capture_output=True, text=True, timeout=60
    )


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_the_first_start_copies_every_notebook_as_the_users(dirs: dict[str, Path]) -> None:
    proc = run_hook(dirs)
    assert proc.returncode == 0, proc.stderr
    copied = dirs["home"] / "getting-started"
    assert names(copied) == names(dirs["shipped"])
    assert "03-hst-drizzle.ipynb" in names(copied)
    assert f"{len(names(copied))} new in {copied}" in proc.stdout
    for path in [copied, *copied.iterdir()]:
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (UID, GID)
    # The copies are the user's to edit (the shipped files are read-only).
    edit = subprocess.run(
        [
            *run_as_prefix(),
            "sh",
            "-c",
            f'echo "{{}}" > "{copied / "01-find-data-in-the-cloud.ipynb"}"',
        ],
        capture_output=True,
        text=True,
    )
    assert edit.returncode == 0, edit.stderr


def test_later_starts_keep_edits_deletions_and_offer_new_notebooks(
    dirs: dict[str, Path],
) -> None:
    assert run_hook(dirs).returncode == 0
    copied = dirs["home"] / "getting-started"
    edited = copied / "02-stream-fits-from-s3.ipynb"
    subprocess.run([*run_as_prefix(), "sh", "-c", f'echo mine > "{edited}"'], check=True)
    deleted = copied / "01-find-data-in-the-cloud.ipynb"
    subprocess.run([*run_as_prefix(), "rm", str(deleted)], check=True)

    # A later image ships one more notebook.
    dirs["shipped"].chmod(0o755)
    (dirs["shipped"] / "04-new.ipynb").write_text("{}")
    proc = run_hook(dirs)
    assert proc.returncode == 0, proc.stderr
    assert edited.read_text() == "mine\n", "the user's copy is never replaced"
    assert not deleted.exists(), "a notebook the user deleted does not come back"
    assert (copied / "04-new.ipynb").read_text() == "{}"
    assert "1 new in" in proc.stdout


def test_sourcing_leaves_the_start_script_alone(dirs: dict[str, Path]) -> None:
    """start.sh sources the hook: no exit, no shell options, no functions left behind."""
    script = (
        f'set -eu; source "{dirs["hook"]}"; set +eu; echo after; '
        "declare -F | grep -c _astrohub_ || true"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(dirs["home"]),
        "ASTROHUB_GETTING_STARTED": str(dirs["shipped"]),
    }
    proc = subprocess.run(
        [*run_as_prefix(), "bash", "-c", script], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-2:] == ["after", "0"]


def test_without_notebooks_or_as_root_it_writes_nothing(dirs: dict[str, Path]) -> None:
    proc = run_hook(dirs, shipped=False)
    assert (proc.returncode, proc.stdout) == (0, "")
    proc = run_hook(dirs, as_user=False)
    assert proc.returncode == 0, proc.stderr
    assert "running as root" in proc.stdout
    assert names(dirs["home"]) == []
