"""The archive step of playbooks/storage.yml (roles/home_archive/files/archive_homes.py) on a
directory of homes laid out as the EFS /home access point holds them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from astrohub.storage import home_directory

ROLE = Path(__file__).resolve().parents[2] / "roles" / "home_archive"
SCRIPT = ROLE / "files" / "archive_homes.py"
GONE = home_directory("Retired.Person@Example.org")
STAYS = home_directory("astronomer@example.org")
STAMP = "20261203T101500Z"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("archive_homes", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(homes: Path, *names: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(homes), STAMP, *names],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    (tmp_path / GONE / "data").mkdir(parents=True)
    (tmp_path / GONE / "data" / "image.fits").write_bytes(b"\1" * 300_000)
    (tmp_path / GONE / "notes.txt").write_text("results of 2025")
    (tmp_path / GONE / "latest.fits").symlink_to("data/image.fits")
    (tmp_path / STAYS).mkdir()
    (tmp_path / STAYS / "notes.txt").write_text("still working")
    return tmp_path


def test_a_home_is_archived_whole_then_deleted_and_a_rerun_changes_nothing(homes: Path) -> None:
    code, result = _run(homes, GONE)
    archive = homes / ".archived-homes" / f"{GONE}.{STAMP}.tar.gz"
    assert (code, result) == (
        0,
        {
            "changed": True,
            "archived": [{"directory": GONE, "archive": str(archive), "bytes": 300_015}],
        },
    )
    assert not (homes / GONE).exists()
    assert (homes / STAYS / "notes.txt").read_text() == "still working"
    with tarfile.open(archive) as tar:
        assert tar.extractfile(f"{GONE}/notes.txt").read() == b"results of 2025"  # type: ignore[union-attr]
        assert tar.getmember(f"{GONE}/latest.fits").linkname == "data/image.fits"
        assert tar.getmember(f"{GONE}/data/image.fits").size == 300_000
    assert [p.name for p in (homes / ".archived-homes").iterdir()] == [archive.name]
    assert _run(homes, GONE) == (0, {"changed": False, "archived": []})


def test_an_archive_that_does_not_hold_the_home_keeps_the_home(
    homes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    on_disk = script._on_disk
    monkeypatch.setattr(script, "_on_disk", lambda home: {**on_disk(home), f"{GONE}/new": 1})
    with pytest.raises(OSError, match="does not hold what is on disk"):
        script.archive_home(homes, GONE, STAMP)
    assert (homes / GONE / "notes.txt").read_text() == "results of 2025"
    assert list((homes / ".archived-homes").iterdir()) == []


@pytest.mark.parametrize("name", ["", ".archived-homes", "../etc", "a/b"])
def test_only_a_home_directory_name_is_taken(homes: Path, name: str) -> None:
    code, result = _run(homes, name)
    assert code == 1 and result["failed"]
    assert "not a home directory name" in str(result["msg"])
