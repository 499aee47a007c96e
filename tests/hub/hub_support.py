"""Helpers for the hub tests: accounts of the local provider, signing in with requests."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import requests

from astrohub_local.oidc_provider import Account

REPO = Path(__file__).resolve().parents[2]
# The namespace the tests render into (build/astrohub-hubtest/, copied per case below).
NAMESPACE = "astrohub-hubtest"
OUT = REPO / "build" / "hub-tests"
SCREENSHOTS = REPO / "build" / "screenshots"
TIMINGS: dict[str, float] = {}


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
    start = session.get(f"{hub_url}/hub/oauth_login", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text[:500]
    page = session.get(start.headers["Location"], timeout=30)
    signed_in = session.post(
        page.url, data=login_form(page, username, password), allow_redirects=False, timeout=30
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    location: str = signed_in.headers["Location"]
    assert location.startswith(f"{hub_url}/hub/oauth_callback?")
    return location


def sign_in(hub_url: str, username: str, password: str) -> tuple[requests.Session, Any]:
    """The whole login as a browser does it; the hub's answer to the callback."""
    session = requests.Session()
    callback = callback_url(hub_url, username, password, session)
    return session, session.get(callback, allow_redirects=False, timeout=60)


def signed_in_as(session: requests.Session, hub_url: str) -> str | None:
    """The user the session's cookies belong to, from /hub/home; None when signed out."""
    home = session.get(f"{hub_url}/hub/home", allow_redirects=False, timeout=30)
    if home.status_code != 200:
        return None
    match = re.search(r'<span class="me-1">([^<]+)</span>', home.text)
    return unescape(match.group(1)).strip() if match else ""
