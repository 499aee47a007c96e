"""Fixtures for the hub tests: the local OIDC provider, the hub values rendered by the real
playbook (deploy.yml against the AWS emulator), and real local hubs started from them.

The values are never written by hand here: the jupyterhub role renders
build/astrohub-hubtest/jupyterhub-{values,secrets}.yaml, which are copied as they are to
build/hub-tests/<case>/ because the GitHub render overwrites the MAST one.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_support import (
    ACCOUNTS,
    GITHUB_SETTINGS,
    MAST_SETTINGS,
    NAMESPACE,
    OUT,
    REPO,
    TIMINGS,
    Rendered,
)

from astrohub.unprivileged import checkout_dir
from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub, LocalHubError, deployed_values_files, free_port
from astrohub_local.oidc_provider import OIDCProvider
from astrohub_local.runner import run_playbook

RENDER_DIR = REPO / "build" / NAMESPACE


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


def _render(
    name: str,
    emulator: Emulator,
    provider: OIDCProvider,
    port: int,
    settings: dict[str, Any],
    tags: list[str],
) -> Rendered:
    for leftover in RENDER_DIR.glob("jupyterhub-*.yaml"):
        leftover.unlink()
    env = {
        **os.environ,
        "ASTROHUB_LOCAL_OIDC_URL": provider.url,
        "ASTROHUB_LOCAL_HUB_HOST": f"127.0.0.1:{port}",
        "ASTROHUB_DEMO_CLIENT_SECRET": provider.state.client_secret,
    }
    started = time.monotonic()
    result = run_playbook(
        "deploy.yml",
        emulator.url,
        tags=tags,
        env=env,
        extra_vars={"deployment_namespace": NAMESPACE, **settings},
    )
    TIMINGS[f"render {name} ({'full deploy' if not tags else ','.join(tags)})"] = (
        time.monotonic() - started
    )
    assert result.returncode == 0, result.failures or result.output[-3000:]
    case_dir = OUT / name
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    files = deployed_values_files(RENDER_DIR)
    assert [f.name for f in files][-1:] == ["99-secrets.yaml"], f"the role rendered {files}"
    copies = [Path(shutil.copy2(file, case_dir / file.name)) for file in files]
    # Homes where uid 1000 (the servers' user) can reach them, whatever the checkout allows.
    homes = checkout_dir("hub-tests", name, "homes")
    shutil.rmtree(homes, ignore_errors=True)
    return Rendered(name, copies, homes, case_dir / "localhub", port, result.output)


@pytest.fixture(scope="session")
def mast_render(
    aws_emulator: Emulator, provider: OIDCProvider, hub_ports: dict[str, int]
) -> Rendered:
    """The whole deploy (the AWS foundation, then the Kubernetes layer in plan mode) with
    auth_provider mast."""
    aws_emulator.reset()
    return _render("mast", aws_emulator, provider, hub_ports["mast"], MAST_SETTINGS, tags=[])


@pytest.fixture(scope="session")
def github_render(
    mast_render: Rendered,
    aws_emulator: Emulator,
    provider: OIDCProvider,
    hub_ports: dict[str, int],
) -> Rendered:
    """Switching the running deployment to GitHub: only the jupyterhub layer again."""
    return _render(
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
