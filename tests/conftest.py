"""Shared pytest fixtures: an offline AWS environment and the local AWS emulator."""

from collections.abc import Iterator

import pytest

from astrohub_local.emulator import Emulator
from astrohub_local.runner import LOOPBACK_ONLY


@pytest.fixture(scope="session", autouse=True)
def offline_aws_env() -> Iterator[None]:
    """Dummy credentials and a dead proxy, so no test can reach real AWS."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in LOOPBACK_ONLY.items():
            mp.setenv(name, value)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def aws_emulator(offline_aws_env: None) -> Iterator[Emulator]:
    """One emulator for the session. Moto state is process-wide: reset() wipes it all."""
    with Emulator() as emulator:
        yield emulator
