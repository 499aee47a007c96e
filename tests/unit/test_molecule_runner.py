"""Two `make molecule` runs on one machine take turns (their scenarios share /tmp paths)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from molecule_runner import SCRATCH_GLOB, one_run_per_machine, remove_scratch


def test_a_second_run_waits_for_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "molecule.lock"
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        entered.set()
        with one_run_per_machine(lock):
            order.append("second")

    with one_run_per_machine(lock):
        order.append("first")
        thread = threading.Thread(target=second)
        thread.start()
        entered.wait(5)
        # Bounded wait for the second run to announce that it is waiting.
        deadline = time.monotonic() + 5
        err = ""
        while "waiting for pid" not in err and time.monotonic() < deadline:
            err += capsys.readouterr().err
            time.sleep(0.05)
        assert "waiting for pid" in err
        assert order == ["first"]
    thread.join(5)
    assert order == ["first", "second"]


def test_only_the_scenarios_scratch_is_removed(tmp_path: Path) -> None:
    ours = tmp_path / SCRATCH_GLOB.replace("*", "plan-network")
    (ours / "sub").mkdir(parents=True)
    (ours / "sub" / "kops-cluster.yaml").write_text("kind: Cluster\n")
    theirs = tmp_path / "astrohub-other"
    theirs.mkdir()
    remove_scratch(tmp_path)
    assert not ours.exists()
    assert theirs.is_dir()
