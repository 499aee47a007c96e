"""MASTOAuthenticator against recorded MAST-shaped responses (tests/hub/data/README.md).

No network: the authenticator's HTTP client is replaced by one that answers the token and
/info requests from the JSON files, and records what was sent."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib.util
import io
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest
from oauthenticator.oauth2 import _serialize_state
from tornado import web
from tornado.httpclient import HTTPRequest, HTTPResponse
from traitlets.config import Config

from astrohub.hub import mast_authenticator as mast
from astrohub.hub.mast_authenticator import MASTOAuthenticator

DATA = Path(__file__).parent / "data"
SHIPPED = Path(mast.__file__)
TOKEN = json.loads((DATA / "mast_token_response.json").read_text())["access_token"]
VERIFIER = "v" * 43
CALLBACK = "https://hub.example.org/hub/oauth_callback"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"mast_info_{name}.json").read_text())


class RecordedMAST:
    """Answers the token and /info requests with the recorded responses."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.requests: list[HTTPRequest] = []

    async def fetch(self, req: HTTPRequest, **kwargs: Any) -> HTTPResponse:
        self.requests.append(req)
        if req.url.endswith("/oauth/token"):
            body = (DATA / "mast_token_response.json").read_bytes()
        elif req.url.endswith("/info"):
            body = json.dumps(self.info).encode()
        else:
            raise AssertionError(f"unexpected request to {req.url}")
        return HTTPResponse(req, 200, buffer=io.BytesIO(body))


class CallbackHandler:
    """What OAuthenticator reads from the OAuth callback request."""

    def get_argument(self, name: str, default: Any = None) -> Any:
        return {"code": "recorded-code"}.get(name, default)

    def get_state_cookie(self) -> str:
        return _serialize_state({"state_id": "s", "code_verifier": VERIFIER})


def authenticator(**settings: Any) -> MASTOAuthenticator:
    config = Config()
    config.MASTOAuthenticator.update(
        client_id="astrohub",
        client_secret="recorded-client-secret",
        oauth_callback_url=CALLBACK,
        **settings,
    )
    return MASTOAuthenticator(config=config)


def sign_in(auth: MASTOAuthenticator, info: dict[str, Any]) -> tuple[Any, RecordedMAST]:
    """JupyterHub's login path: authenticate, normalize, check_allowed."""
    mast_service = RecordedMAST(info)
    auth.http_client = mast_service
    user = asyncio.run(auth.get_authenticated_user(CallbackHandler(), None))
    return user, mast_service


def test_defaults_point_at_the_mast_auth_service() -> None:
    auth = authenticator()
    assert auth.login_service == "MAST"
    assert auth.authorize_url == "https://auth.mast.stsci.edu/oauth/authorize"
    assert auth.token_url == "https://auth.mast.stsci.edu/oauth/token"
    assert auth.userdata_url == "https://auth.mast.stsci.edu/info"
    assert auth.scope == ["mast:user:info"]
    assert callable(auth.username_claim)
    assert auth.enable_pkce


def test_endpoints_and_scopes_are_configurable() -> None:
    base = "https://auth.masttest.stsci.edu"
    auth = authenticator(
        authorize_url=f"{base}/oauth/authorize",
        token_url=f"{base}/oauth/token",
        userdata_url=f"{base}/info",
        scope=["mast:user:info", "mast:exclusive_access"],
    )
    assert (auth.authorize_url, auth.token_url, auth.userdata_url) == (
        f"{base}/oauth/authorize",
        f"{base}/oauth/token",
        f"{base}/info",
    )
    assert auth.scope == ["mast:user:info", "mast:exclusive_access"]


def test_the_username_is_the_lower_cased_email() -> None:
    user, service = sign_in(authenticator(allowed_email_domains={"stsci.edu"}), recorded("stsci"))
    assert user["name"] == "astra.person@stsci.edu"
    # The code exchange carried the PKCE verifier and the callback, and /info got the token.
    token_request = parse_qs(service.requests[0].body.decode())
    assert token_request["code_verifier"] == [VERIFIER]
    assert token_request["redirect_uri"] == [CALLBACK]
    assert token_request["grant_type"] == ["authorization_code"]
    assert service.requests[1].headers["Authorization"] == f"token {TOKEN}"
    # auth_state keeps the token once, under access_token, not inside MAST's answer.
    state = user["auth_state"]
    assert state["access_token"] == TOKEN
    assert "token" not in state["mast_user"]
    assert state["mast_user"]["attrib"]["email"] == "Astra.Person@STScI.edu"


def test_userdata_token_scheme_can_be_bearer() -> None:
    auth = authenticator(allowed_users={"jane.doe@example.org"}, userdata_token_scheme="Bearer")
    _, service = sign_in(auth, recorded("external"))
    assert service.requests[1].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("settings", "info", "allowed"),
    [
        ({"allowed_email_domains": {"stsci.edu"}}, "stsci", True),
        ({"allowed_email_domains": {"@STScI.EDU"}}, "stsci", True),  # normalized
        ({"allowed_email_domains": {"stsci.edu"}}, "external", False),
        ({"allowed_email_domains": {"stsci.edu"}}, "subdomain", False),  # exact domains only
        ({"allowed_users": {"jane.doe@example.org"}}, "external", True),
        ({"allowed_users": {"jane.doe@example.org"}}, "stsci", False),
        ({"admin_users": {"astra.person@stsci.edu"}}, "stsci", True),
        ({}, "stsci", False),  # nothing allowed: nobody in
        ({"allow_all": True}, "external", True),
    ],
)
def test_allow_rules(settings: dict[str, Any], info: str, allowed: bool) -> None:
    user, _ = sign_in(authenticator(**settings), recorded(info))
    assert (user is not None) is allowed


def test_admins_are_marked_admin() -> None:
    auth = authenticator(admin_users={"astra.person@stsci.edu"}, allowed_email_domains={"x.org"})
    user, _ = sign_in(auth, recorded("stsci"))
    assert user["admin"] is True
    user, _ = sign_in(authenticator(allowed_email_domains={"stsci.edu"}), recorded("stsci"))
    assert not user["admin"]


def test_info_without_email_is_refused_with_a_clear_message() -> None:
    with pytest.raises(web.HTTPError) as refused:
        sign_in(authenticator(allow_all=True), recorded("no_email"))
    assert refused.value.status_code == 403
    assert refused.value.log_message == mast.NO_EMAIL_MESSAGE
    assert "did not return an e-mail address" in refused.value.log_message


def test_an_anonymous_session_is_refused() -> None:
    with pytest.raises(web.HTTPError) as refused:
        sign_in(authenticator(allow_all=True), recorded("anonymous"))
    assert refused.value.status_code == 403
    assert "anonymous" in refused.value.log_message


@pytest.mark.parametrize("email", ["a@b@stsci.edu", "@stsci.edu", "astro@localhost", "a b@x.org"])
def test_unusable_emails_are_refused(email: str) -> None:
    info = recorded("stsci")
    info["attrib"]["email"] = email
    with pytest.raises(web.HTTPError) as refused:
        mast.mast_email(info)
    assert refused.value.status_code == 403


def test_token_in_notebooks_needs_auth_state() -> None:
    with pytest.raises(ValueError, match="enable_auth_state"):
        authenticator(token_in_notebooks=True)
    config = Config()
    config.Authenticator.enable_auth_state = True
    config.MASTOAuthenticator.token_in_notebooks = True
    assert MASTOAuthenticator(config=config).token_in_notebooks


class FakeUser:
    def __init__(self, auth_state: dict[str, Any] | None) -> None:
        self.name = "astra.person@stsci.edu"
        self._auth_state = auth_state

    async def get_auth_state(self) -> dict[str, Any] | None:
        return self._auth_state


def test_pre_spawn_start_hands_the_token_to_the_server() -> None:
    config = Config()
    config.Authenticator.enable_auth_state = True
    config.MASTOAuthenticator.token_in_notebooks = True
    auth = MASTOAuthenticator(config=config)
    spawner = SimpleNamespace(environment={"KEEP": "1"})
    asyncio.run(auth.pre_spawn_start(FakeUser({"access_token": TOKEN}), spawner))
    assert spawner.environment == {"KEEP": "1", "MAST_API_TOKEN": TOKEN}
    # A later spawn without a token in the auth state must not reuse the old one.
    asyncio.run(auth.pre_spawn_start(FakeUser({}), spawner))
    assert spawner.environment == {"KEEP": "1"}


def test_pre_spawn_start_does_nothing_unless_asked() -> None:
    config = Config()
    config.Authenticator.enable_auth_state = True
    auth = MASTOAuthenticator(config=config)
    spawner = SimpleNamespace(environment={})
    asyncio.run(auth.pre_spawn_start(FakeUser({"access_token": TOKEN}), spawner))
    assert spawner.environment == {}


def test_the_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = Config()
    config.Authenticator.enable_auth_state = True
    config.MASTOAuthenticator.update(
        client_id="astrohub",
        client_secret="recorded-client-secret",
        oauth_callback_url=CALLBACK,
        allowed_email_domains={"stsci.edu"},
        token_in_notebooks=True,
    )
    auth = MASTOAuthenticator(config=config)
    for info in ("stsci", "external", "no_email", "anonymous"):
        refused = info in ("no_email", "anonymous")
        with pytest.raises(web.HTTPError) if refused else contextlib.nullcontext():
            sign_in(auth, recorded(info))
    asyncio.run(auth.pre_spawn_start(FakeUser({}), SimpleNamespace(environment={})))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (TOKEN, recorded("external")["token"], "recorded-client-secret"):
        assert secret not in logged


ALLOWED_IMPORTS = {"__future__", "jupyterhub", "oauthenticator", "tornado", "traitlets"}


def test_the_shipped_file_is_self_contained() -> None:
    """It is mounted into the hub image as one file: stdlib and the hub's own packages only."""
    tree = ast.parse(SHIPPED.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports in the mounted file"
            imported.add((node.module or "").split(".")[0])
    foreign = imported - ALLOWED_IMPORTS - set(sys.stdlib_module_names)
    assert not foreign, f"mast_authenticator.py imports {foreign}"


def test_the_shipped_file_loads_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the hub loads it: a top-level module named mast_authenticator."""
    spec = importlib.util.spec_from_file_location("mast_authenticator", SHIPPED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mast_authenticator", module)
    spec.loader.exec_module(module)
    assert module.MASTOAuthenticator.__mro__[1].__name__ == "GenericOAuthenticator"
