"""Shared pytest fixtures: an offline AWS environment and the local AWS emulator."""

from collections.abc import Iterator

import pytest

from astrohub.emulator import Emulator

# A discard port: anything that ignores NO_PROXY fails fast instead of reaching AWS.
_DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="session", autouse=True)
def offline_aws_env() -> Iterator[None]:
    """Dummy credentials and a dead proxy, so no test can reach real AWS."""
    with pytest.MonkeyPatch.context() as mp:
        # Lower-case proxy variables win over upper-case ones in urllib/requests,
        # so set both spellings.
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            mp.setenv(name, _DEAD_PROXY)
        for name in ("NO_PROXY", "no_proxy"):
            mp.setenv(name, "127.0.0.1,localhost")
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
