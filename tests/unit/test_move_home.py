"""The restore Job's move step (roles/home_restore/files/move_home.py) on a directory tree laid
out as EFS lays out an item-level restore, for a user whose name has '@', '.' and capitals."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from astrohub.storage import home_directory

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "home_restore" / "files" / "move_home.py"
USER = "Astro.Person@Example.org"
NAME = home_directory(USER)


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("move_home", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def efs_root(tmp_path: Path) -> Path:
    _write(tmp_path / "home" / NAME / "notes.txt", "damaged")
    _write(tmp_path / "home" / "someone-40example-2eorg" / "notes.txt", "not theirs to touch")
    older = tmp_path / "aws-backup-restore_2026-11-01T10-00-00-000Z" / "home" / NAME
    _write(older / "notes.txt", "a month old")
    newest = tmp_path / "aws-backup-restore_2026-12-01T10-00-00-000Z" / "home" / NAME
    _write(newest / "analysis" / "notes.txt", "good")
    _write(newest / "notes.txt", "good")
    return tmp_path


def test_the_newest_copy_replaces_the_home_and_the_damaged_one_is_kept(efs_root: Path) -> None:
    # KubeSpawner escapes capitals too (then lower-cases): the name even starts with "-".
    assert NAME == "-41stro-2e-50erson-40-45xample-2eorg"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(efs_root), NAME, "20261203T0600Z"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    home = efs_root / "home" / NAME
    assert result["changed"] and result["home"] == str(home)
    assert (home / "notes.txt").read_text() == "good"
    assert (home / "analysis" / "notes.txt").read_text() == "good"
    aside = efs_root / "home" / f"{NAME}.before-restore-20261203T0600Z"
    assert result["kept_aside"] == str(aside)
    assert (aside / "notes.txt").read_text() == "damaged"
    assert (efs_root / "home" / "someone-40example-2eorg" / "notes.txt").exists()
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [home, *home.rglob("*")]}
    assert owners == {(1000, 100)}
    # The emptied restore directory goes; the older one, not moved, stays.
    assert not (efs_root / "aws-backup-restore_2026-12-01T10-00-00-000Z").exists()
    assert (efs_root / "aws-backup-restore_2026-11-01T10-00-00-000Z" / "home" / NAME).is_dir()


def test_a_second_run_after_success_changes_nothing(efs_root: Path) -> None:
    script = _script()
    script.move_home(efs_root, NAME, "first")
    older_only = efs_root / "aws-backup-restore_2026-11-01T10-00-00-000Z"
    for path in sorted(older_only.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    older_only.rmdir()
    assert script.move_home(efs_root, NAME, "second") == {
        "changed": False,
        "home": str(efs_root / "home" / NAME),
    }


def test_nothing_to_move_and_no_home_is_an_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), NAME, "x"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert f"no restored copy of {NAME} under" in json.loads(done.stdout)["msg"]


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_names_that_leave_the_homes_are_refused(efs_root: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a home directory name"):
        _script().move_home(efs_root, name, "x")
