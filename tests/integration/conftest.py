"""Fixtures for running the real playbooks against the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from astrohub.emulator import Emulator
from astrohub.runner import PlaybookResult, run_playbook


@pytest.fixture
def clean_emulator(aws_emulator: Emulator) -> Iterator[Emulator]:
    """The session emulator with nothing in it and its call counter at zero."""
    aws_emulator.reset()
    yield aws_emulator


Runner = Callable[..., PlaybookResult]


@pytest.fixture(scope="session")
def playbook(aws_emulator: Emulator) -> Runner:
    """Run a playbook from playbooks/ with the local inventory against the emulator."""

    def run(name: str, **kwargs: Any) -> PlaybookResult:
        return run_playbook(name, aws_emulator.url, **kwargs)

    return run


@pytest.fixture(scope="session")
def deployed(aws_emulator: Emulator, playbook: Runner) -> dict[str, Any]:
    """One full deployment (AWS foundation + Kubernetes layer in plan mode) for the session.

    test_cluster_plan reads it; test_foundation then checks it, re-runs it and tears it down.
    """
    aws_emulator.reset()
    first = playbook("deploy.yml")
    assert first.returncode == 0, first.failures or first.output[-3000:]
    return {"first": first, "calls": aws_emulator.calls()}
