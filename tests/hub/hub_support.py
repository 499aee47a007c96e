"""Helpers for the hub tests: accounts of the local provider, signing in with requests."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from astrohub.unprivileged import checkout_dir
from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub, deployed_values_files
from astrohub_local.oidc_provider import Account, OIDCProvider
from astrohub_local.runner import run_playbook

REPO = Path(__file__).resolve().parents[2]
# The namespace the tests render into (build/astrohub-hubtest/, copied per case below).
NAMESPACE = "astrohub-hubtest"
OUT = REPO / "build" / "hub-tests"
# Where deploy.yml renders the values files for NAMESPACE.
RENDER_DIR = REPO / "build" / NAMESPACE
SCREENSHOTS = REPO / "build" / "screenshots"
TIMINGS: dict[str, float] = {}
# How long a local server may take to start.
SPAWN_DEADLINE = 120.0
# How long the login and hub-API helpers wait for an answer (the many-users bench, which loads
# the hub as fifty browsers would, waits longer, as a browser does).
HTTP_TIMEOUT = 30.0


def _password() -> str:
    return secrets.token_urlsafe(12)


# MAST accounts; the MAST render allows example.org, one outside address, and one admin.
MAST_ADMIN = Account("Admin@Example.org", _password())
MAST_USER = Account("astronomer@example.org", _password())
MAST_GUEST = Account("guest@elsewhere.net", _password())
MAST_OUTSIDER = Account("eve@elsewhere.net", _password())
MAST_NO_EMAIL = Account("noemail@example.org", _password(), omit_email=True)
# GitHub accounts; the GitHub render allows the team astrohub-demo:astronomers, one user, and
# one admin. The outsider is in the organisation but not in the team.
GH_ADMIN = Account("astro-admin@example.org", _password(), login="astro-admin")
GH_USER = Account(
    "octo@example.org",
    _password(),
    login="octo-astronomer",
    orgs=frozenset({"astrohub-demo:astronomers"}),
)
GH_VISITOR = Account("visitor@example.org", _password(), login="visiting-astronomer")
GH_OUTSIDER = Account(
    "outsider@example.org", _password(), login="outsider", orgs=frozenset({"astrohub-demo"})
)
ACCOUNTS = [
    MAST_ADMIN,
    MAST_USER,
    MAST_GUEST,
    MAST_OUTSIDER,
    MAST_NO_EMAIL,
    GH_ADMIN,
    GH_USER,
    GH_VISITOR,
    GH_OUTSIDER,
]

MAST_SETTINGS = {
    "auth_provider": "mast",
    "mast_allowed_users": [MAST_GUEST.email],
    "mast_allowed_email_domains": ["example.org"],
    "mast_admin_users": [MAST_ADMIN.email],
    "mast_token_in_notebooks": True,
}
GITHUB_SETTINGS = {
    "auth_provider": "github",
    "mast_token_in_notebooks": False,
    "github_allowed_organizations": ["astrohub-demo:astronomers"],
    "github_allowed_users": [GH_VISITOR.login],
    "github_admin_users": [GH_ADMIN.login],
}


@dataclass
class Rendered:
    """The values files the jupyterhub role rendered for one case (in Helm's order), and what
    the hub needs."""

    name: str
    values_files: list[Path]
    homes: Path
    state_dir: Path
    port: int
    output: str = field(repr=False)


def hub_env(provider: OIDCProvider, port: int) -> dict[str, str]:
    """The environment a playbook run renders a local hub's values with: the provider's
    address and client secret, and the hub's address (its callback URL names the port)."""
    return {
        **os.environ,
        "ASTROHUB_LOCAL_OIDC_URL": provider.url,
        "ASTROHUB_LOCAL_HUB_HOST": f"127.0.0.1:{port}",
        "ASTROHUB_DEMO_CLIENT_SECRET": provider.state.client_secret,
    }


def render_deployment(
    name: str,
    emulator: Emulator,
    provider: OIDCProvider,
    port: int,
    settings: dict[str, Any],
    tags: list[str],
) -> Rendered:
    """deploy.yml (tags: only those) for the hub case `name` on `port`; the values files it
    rendered, copied to build/hub-tests/<name>/, and fresh homes for the case."""
    for leftover in RENDER_DIR.glob("jupyterhub-*.yaml"):
        leftover.unlink()
    started = time.monotonic()
    result = run_playbook(
        "deploy.yml",
        emulator.url,
        tags=tags,
        env=hub_env(provider, port),
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


def login_form(page: requests.Response, username: str, password: str) -> dict[str, str]:
    assert page.status_code == 200, page.text[:500]
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    return {
        **{k: unescape(v) for k, v in form.items()},
        "username": username,
        "password": password,
        "action": "allow",
    }


def callback_url(hub_url: str, username: str, password: str, session: requests.Session) -> str:
    """Start the hub's OAuth login and sign in at the provider; the URL the provider sends the
    browser back to (the hub's oauth_callback with code and state), not yet followed."""
    start = session.get(f"{hub_url}/hub/oauth_login", allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert start.status_code == 302, start.text[:500]
    page = session.get(start.headers["Location"], timeout=HTTP_TIMEOUT)
    signed_in = session.post(
        page.url,
        data=login_form(page, username, password),
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    location: str = signed_in.headers["Location"]
    assert location.startswith(f"{hub_url}/hub/oauth_callback?")
    return location


def sign_in(hub_url: str, username: str, password: str) -> tuple[requests.Session, Any]:
    """The whole login as a browser does it; the hub's answer to the callback."""
    session = requests.Session()
    callback = callback_url(hub_url, username, password, session)
    return session, session.get(callback, allow_redirects=False, timeout=2 * HTTP_TIMEOUT)


def signed_in_as(session: requests.Session, hub_url: str) -> str | None:
    """The user the session's cookies belong to, from /hub/home; None when signed out."""
    home = session.get(f"{hub_url}/hub/home", allow_redirects=False, timeout=HTTP_TIMEOUT)
    if home.status_code != 200:
        return None
    match = re.search(r'<span class="me-1">([^<]+)</span>', home.text)
    return unescape(match.group(1)).strip() if match else ""


def hub_api(
    hub: LocalHub, token: str, method: str, path: str, **kwargs: object
) -> requests.Response:
    """A call to the hub's REST API with a token."""
    return requests.request(
        method,
        f"{hub.url}/hub/api{path}",
        headers={"Authorization": f"token {token}"},
        timeout=HTTP_TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def create_token(hub: LocalHub, session: requests.Session, name: str) -> str:
    """A token the signed-in user creates for themselves, as the hub's token page does."""
    assert session.get(f"{hub.url}/hub/token", timeout=HTTP_TIMEOUT).status_code == 200
    answer = session.post(
        f"{hub.url}/hub/api/users/{quote(name, safe='@~')}/tokens",
        json={"note": "made by a test"},
        headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""},
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code == 201, answer.text[:500]
    token: str = answer.json()["token"]
    return token


def start_server(
    hub: LocalHub, token: str, name: str, poll: float = 0.5, deadline: float = SPAWN_DEADLINE
) -> str:
    """Start the user's server with the minimal profile; its URL once it is ready (asked
    every ``poll`` seconds, for at most ``deadline`` seconds)."""
    user = f"/users/{quote(name, safe='@~')}"
    started = hub_api(hub, token, "POST", f"{user}/server", json={"profile": "minimal"})
    assert started.status_code in (201, 202), started.text[:500]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        server = hub_api(hub, token, "GET", user).json()["servers"].get("", {})
        if server.get("ready"):
            return f"{hub.url}{server['url']}"
        time.sleep(poll)
    raise AssertionError(f"the server did not start in {deadline} s:\n{hub.log_tail()}")


def write_home_file(server_url: str, token: str, name: str, text: str) -> None:
    """Write a text file in the user's home through their server's contents API."""
    written = requests.put(
        f"{server_url}api/contents/{name}",
        headers={"Authorization": f"token {token}"},
        json={"type": "file", "format": "text", "content": text},
        timeout=30,
    )
    assert written.status_code in (200, 201), written.text[:500]


def read_home_file(server_url: str, token: str, name: str) -> str:
    """A text file of the user's home, through their server's contents API."""
    read = requests.get(
        f"{server_url}api/contents/{name}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert read.status_code == 200, read.text[:500]
    content: str = read.json()["content"]
    return content
