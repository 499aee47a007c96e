"""Fixtures for the hub tests: the local OIDC provider, the hub values rendered by the real
playbook (deploy.yml against the AWS emulator), and real local hubs started from them.

The values are never written by hand here: the jupyterhub role renders
build/astrohub-hubtest/jupyterhub-{values,secrets}.yaml, which are copied as they are to
build/hub-tests/<case>/ because the GitHub render overwrites the MAST one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hub_support import (
    ACCOUNTS,
    GITHUB_SETTINGS,
    MAST_SETTINGS,
    NAMESPACE,
    OUT,
    TIMINGS,
    Rendered,
    render_deployment,
)

from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub, LocalHubError, free_port
from astrohub_local.oidc_provider import OIDCProvider


@pytest.fixture(scope="session")
def provider() -> Iterator[OIDCProvider]:
    """The stand-in for MAST and GitHub, its log kept for the secrets check. The client secret
    stays inside it: a fixture or helper argument would be printed in a failure report."""
    OUT.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(OUT / "oidc-provider.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("astrohub_local.oidc_provider")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    with OIDCProvider(ACCOUNTS, client_secret=secrets.token_urlsafe(24)) as running:
        yield running
    logger.removeHandler(handler)
    handler.close()


@pytest.fixture(scope="session")
def hub_ports() -> dict[str, int]:
    """The hubs' ports, chosen before rendering: the callback URL names them."""
    return {"mast": free_port(), "github": free_port()}


@pytest.fixture(scope="session")
def mast_render(
    aws_emulator: Emulator, provider: OIDCProvider, hub_ports: dict[str, int]
) -> Rendered:
    """The whole deploy (the AWS foundation, then the Kubernetes layer in plan mode) with
    auth_provider mast."""
    aws_emulator.reset()
    port = hub_ports["mast"]
    return render_deployment("mast", aws_emulator, provider, port, MAST_SETTINGS, tags=[])


@pytest.fixture(scope="session")
def github_render(
    mast_render: Rendered,
    aws_emulator: Emulator,
    provider: OIDCProvider,
    hub_ports: dict[str, int],
) -> Rendered:
    """Switching the running deployment to GitHub: only the jupyterhub layer again."""
    return render_deployment(
        "github", aws_emulator, provider, hub_ports["github"], GITHUB_SETTINGS, tags=["jupyterhub"]
    )


def _hub(rendered: Rendered) -> Iterator[LocalHub]:
    hub = LocalHub(
        rendered.values_files,
        rendered.homes,
        rendered.port,
        namespace=NAMESPACE,
        state_dir=rendered.state_dir,
    )
    started = time.monotonic()
    try:
        hub.start()
    except LocalHubError as exc:
        pytest.fail(f"the {rendered.name} hub did not start: {exc}")
    TIMINGS[f"start {rendered.name} hub"] = time.monotonic() - started
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def mast_hub(mast_render: Rendered) -> Iterator[LocalHub]:
    yield from _hub(mast_render)


@pytest.fixture(scope="session")
def github_hub(github_render: Rendered) -> Iterator[LocalHub]:
    yield from _hub(github_render)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("hub tests: timings")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
