"""Two `make molecule` runs on one machine take turns (their scenarios share /tmp paths)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from molecule_runner import one_run_per_machine


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
