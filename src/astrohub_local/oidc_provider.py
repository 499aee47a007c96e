"""A small OAuth 2.0 / OpenID Connect provider on loopback, standing in for MAST and GitHub.

The local hub (``make demo``) and the tests sign in through it instead of the real services,
so nothing leaves 127.0.0.1. It speaks the two dialects the hub's authenticators expect:

MAST (MASTOAuthenticator; its endpoints are ``<url>/oauth/authorize``, ``/oauth/token``,
``/info``)
    ``/info`` answers like MAST's auth service: ``{"anon": false, "ezid": ..., "eppn": ...,
    "scopes": [...], "session": null, "token": ..., "attrib": {"email": ..., ...}}``; an
    unknown token gets ``{"anon": true, ...}``. An account can be set to have no e-mail.
GitHub (GitHubOAuthenticator with ``github_url = <url>/github``, ``github_api =
<url>/github/api``; also at the root: ``github_url = <url>``, default api ``<url>/api/v3``)
    ``/login/oauth/authorize``, ``/login/oauth/access_token`` and the REST calls
    OAuthenticator 17 makes: ``<api>/user``, ``/user/emails``, ``/user/teams``,
    ``/orgs/{org}/members/{user}`` (204 for a member, private memberships visible only with
    the ``read:org`` scope) and ``/orgs/{org}/teams/{team}/members/{user}``.
OpenID Connect
    ``/.well-known/openid-configuration``, ``/oauth/userinfo`` and an HS256 ``id_token`` (keyed
    with the client secret) when the ``openid`` scope is asked for.

Authorize shows a login form (user name and password); the token endpoint checks the client
id and secret, the code (single use, 60 s), the redirect URI and PKCE S256 when a challenge was
sent. Nothing secret is logged: the access log has paths without query strings.

    python -m astrohub_local.oidc_provider --port 0 --url-file F --user EMAIL:PASSWORD[:ORGS] ...

The client secret is read from the environment (``--client-secret-env``), never argv.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tornado import web
from tornado.escape import xhtml_escape
from tornado.httpserver import HTTPServer
from tornado.httputil import url_concat
from tornado.netutil import bind_sockets

from astrohub_local.stopping import serve_until_signalled

log = logging.getLogger("astrohub_local.oidc_provider")

DEFAULT_CLIENT_ID = "astrohub-local-demo"
DEFAULT_SECRET_ENV = "ASTROHUB_DEMO_CLIENT_SECRET"  # noqa: S105  # a variable's name
CODE_TTL = 60.0
MAST = "mast"
GITHUB = "github"
GITHUB_DOCS = "https://docs.github.com/rest"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_LOGIN_CHARS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Account:
    """A user of the provider. ``orgs`` holds GitHub memberships: "org" or "org:team"."""

    email: str
    password: str = field(repr=False)
    login: str = ""
    name: str = ""
    orgs: frozenset[str] = frozenset()
    omit_email: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", self.email.strip())
        if not self.login:
            local = self.email.partition("@")[0].lower()
            object.__setattr__(self, "login", _LOGIN_CHARS.sub("-", local).strip("-") or "user")
        if not self.name:
            object.__setattr__(self, "name", self.login.replace("-", " ").title())
        # A team membership implies the organisation's.
        orgs = set(self.orgs) | {org.partition(":")[0] for org in self.orgs}
        object.__setattr__(self, "orgs", frozenset(o.lower() for o in orgs))

    @classmethod
    def parse(cls, spec: str) -> Account:
        """``EMAIL:PASSWORD[:ORG,ORG:TEAM,...]`` (the password may not contain a colon)."""
        email, sep, rest = spec.partition(":")
        password, _, orgs = rest.partition(":")
        if not sep or not email or not password:
            raise ValueError(f"expected EMAIL:PASSWORD[:ORGS], got {spec.split(':')[0]}:...")
        return cls(email=email, password=password, orgs=frozenset(filter(None, orgs.split(","))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        return cls(
            email=data["email"],
            password=data["password"],
            login=data.get("login", ""),
            name=data.get("name", ""),
            orgs=frozenset(data.get("orgs", ())),
            omit_email=bool(data.get("omit_email", False)),
        )

    def in_org(self, org: str, team: str | None = None) -> bool:
        return (f"{org}:{team}" if team else org).lower() in self.orgs


@dataclass
class _Grant:
    account: Account
    flavour: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    nonce: str | None
    expires: float


@dataclass
class _Token:
    account: Account
    flavour: str
    client_id: str
    scopes: list[str]
    code: str


@dataclass
class _State:
    """Everything the handlers share. They run on the provider's one event loop thread; the
    lock is for tests reading from theirs."""

    accounts: list[Account]
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: frozenset[str] = frozenset()
    require_pkce: bool = False
    base_url: str = ""
    # Codes and tokens: kept out of reprs (a failing test prints its arguments).
    grants: dict[str, _Grant] = field(default_factory=dict, repr=False)
    used_codes: dict[str, str | None] = field(default_factory=dict, repr=False)
    tokens: dict[str, _Token] = field(default_factory=dict, repr=False)
    issued: list[str] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, name: str, flavour: str) -> Account | None:
        name = name.strip().lower()
        for account in self.accounts:
            names = {account.email.lower()}
            if flavour == GITHUB:
                names.add(account.login.lower())
            if name in names:
                return account
        return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _hs256_jwt(claims: dict[str, Any], key: str) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def _log_request(handler: web.RequestHandler) -> None:
    # Paths only: query strings carry codes and state, bodies carry secrets.
    request = handler.request
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING
    log.log(
        level,
        "%d %s %s %.1fms",
        status,
        request.method,
        request.path,
        1000.0 * request.request_time(),
    )


class _Base(web.RequestHandler):
    flavour = MAST

    def initialize(self, state: _State) -> None:
        self.state = state

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data))

    def bearer(self) -> tuple[str, _Token] | None:
        """The token from ``Authorization: token|Bearer X`` (or MAST's mast_token cookie)."""
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() in {"token", "bearer"} else ""
        if not token and self.flavour == MAST:
            token = self.get_cookie("mast_token", "") or ""
        with self.state.lock:
            found = self.state.tokens.get(token)
        return (token, found) if found and found.flavour == self.flavour else None


class AuthorizeHandler(_Base):
    """GET: the login form. POST: check the password, redirect back with a code."""

    PARAMS = (
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    )

    def _params(self) -> dict[str, str]:
        return {name: self.get_argument(name, "") for name in self.PARAMS}

    def _redirect_error(self, params: dict[str, str], error: str, description: str) -> None:
        query = {"error": error, "error_description": description}
        if params["state"]:
            query["state"] = params["state"]
        self.redirect(url_concat(params["redirect_uri"], query))

    def _check(self, params: dict[str, str]) -> bool:
        """Validate the request; False when an error was already sent."""
        if params["client_id"] != self.state.client_id:
            self.send_error(400, reason="Unknown client_id")
            return False
        uri = params["redirect_uri"]
        parts = urlsplit(uri)
        if self.state.redirect_uris:
            allowed = uri in self.state.redirect_uris
        else:
            allowed = parts.scheme in {"http", "https"} and parts.hostname in LOOPBACK_HOSTS
        if not allowed:
            # Never redirect to an unchecked URI (RFC 6749 section 4.1.2.1).
            self.send_error(400, reason="redirect_uri is not registered for this client")
            return False
        if params["response_type"] != "code":
            self._redirect_error(params, "unsupported_response_type", "only code is supported")
            return False
        if params["code_challenge"] and params["code_challenge_method"] != "S256":
            self._redirect_error(params, "invalid_request", "code_challenge_method must be S256")
            return False
        if self.state.require_pkce and not params["code_challenge"]:
            self._redirect_error(params, "invalid_request", "PKCE (S256) is required")
            return False
        return True

    def _form(self, params: dict[str, str], message: str = "") -> None:
        brand = "MAST" if self.flavour == MAST else "GitHub"
        label = "E-mail" if self.flavour == MAST else "Username or e-mail address"
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{xhtml_escape(value)}">'
            for name, value in params.items()
        )
        error = f'<p class="error" role="alert">{xhtml_escape(message)}</p>' if message else ""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_LOGIN_PAGE.format(brand=brand, label=label, hidden=hidden, error=error))

    def get(self) -> None:
        params = self._params()
        if self._check(params):
            self._form(params)

    def post(self) -> None:
        params = self._params()
        if not self._check(params):
            return
        if self.get_body_argument("action", "") == "deny":
            self._redirect_error(params, "access_denied", "The user declined to sign in.")
            return
        username = self.get_body_argument("username", "")
        password = self.get_body_argument("password", "")
        account = self.state.find(username, self.flavour)
        if account is None or not hmac.compare_digest(account.password, password):
            log.warning("sign-in refused for %r (%s)", username[:100], self.flavour)
            self.set_status(401)
            self._form(params, "Incorrect username or password.")
            return
        code = secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.grants[code] = _Grant(
                account=account,
                flavour=self.flavour,
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                scopes=params["scope"].split(),
                challenge=params["code_challenge"] or None,
                nonce=params["nonce"] or None,
                expires=time.monotonic() + CODE_TTL,
            )
            self.state.issued.append(code)
        log.info("signed in %s (%s)", account.email, self.flavour)
        query = {"code": code}
        if params["state"]:
            query["state"] = params["state"]
        self.redirect(url_concat(params["redirect_uri"], query))


class GitHubAuthorizeHandler(AuthorizeHandler):
    flavour = GITHUB


class TokenHandler(_Base):
    """Exchange a code for an access token (RFC 6749 section 4.1.3, RFC 7636 section 4.6)."""

    def _error(self, error: str, description: str, status: int = 400) -> None:
        if self.flavour == GITHUB:
            # GitHub answers token errors with 200 and an error document.
            status = 200
        elif status == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="token"')
        self.json({"error": error, "error_description": description}, status)

    def _client(self) -> tuple[str, str]:
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return "", ""
            return client_id, secret
        return self.get_body_argument("client_id", ""), self.get_body_argument("client_secret", "")

    def post(self) -> None:
        client_id, client_secret = self._client()
        if client_id != self.state.client_id or not hmac.compare_digest(
            client_secret.encode(), self.state.client_secret.encode()
        ):
            log.warning("token request with a wrong client id or secret")
            self._error("invalid_client", "Client authentication failed.", 401)
            return
        if self.get_body_argument("grant_type", "") != "authorization_code":
            self._error("unsupported_grant_type", "Only authorization_code is supported.")
            return
        code = self.get_body_argument("code", "")
        with self.state.lock:
            grant = self.state.grants.pop(code, None)
            if grant is None and code in self.state.used_codes:
                # A replayed code revokes what it was exchanged for (RFC 6749 section 4.1.2).
                self.state.tokens.pop(self.state.used_codes[code] or "", None)
            self.state.used_codes.setdefault(code, None)
        if grant is None or grant.flavour != self.flavour:
            self._error("invalid_grant", "The code is unknown or was already used.")
            return
        if time.monotonic() > grant.expires:
            self._error("invalid_grant", "The code has expired.")
            return
        if grant.client_id != client_id:
            self._error("invalid_grant", "The code was issued to another client.")
            return
        if self.get_body_argument("redirect_uri", "") != grant.redirect_uri:
            self._error("invalid_grant", "redirect_uri does not match the authorization request.")
            return
        if grant.challenge is not None:
            verifier = self.get_body_argument("code_verifier", "")
            if not verifier or not hmac.compare_digest(pkce_challenge(verifier), grant.challenge):
                log.warning("token request with a wrong PKCE code_verifier")
                self._error("invalid_grant", "PKCE verification failed.")
                return
        token = self._new_token()
        with self.state.lock:
            self.state.tokens[token] = _Token(
                grant.account, self.flavour, client_id, grant.scopes, code
            )
            self.state.used_codes[code] = token
            self.state.issued.append(token)
        self._respond(token, grant)

    def _new_token(self) -> str:
        return secrets.token_hex(16)

    def _respond(self, token: str, grant: _Grant) -> None:
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
            "expires_in": 10 * 24 * 3600,
        }
        if "openid" in grant.scopes:
            now = int(time.time())
            claims = {
                "iss": self.state.base_url,
                "sub": _subject(grant.account),
                "aud": grant.client_id,
                "iat": now,
                "exp": now + 3600,
                "email": None if grant.account.omit_email else grant.account.email,
                "name": grant.account.name,
            }
            if grant.nonce:
                claims["nonce"] = grant.nonce
            answer["id_token"] = _hs256_jwt(claims, self.state.client_secret)
        self.json(answer)


class GitHubTokenHandler(TokenHandler):
    flavour = GITHUB

    def _new_token(self) -> str:
        return "gho_" + secrets.token_hex(18)

    def _respond(self, token: str, grant: _Grant) -> None:
        # GitHub lists granted scopes comma-separated; form-encoded unless JSON is asked for.
        answer = {"access_token": token, "token_type": "bearer", "scope": ",".join(grant.scopes)}
        if "json" in self.request.headers.get("Accept", ""):
            self.json(answer)
        else:
            self.set_header("Content-Type", "application/x-www-form-urlencoded")
            self.finish(urlencode(answer))


def _subject(account: Account) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "astrohub-local:" + account.email.lower()))


def mast_info(account: Account, token: str, scopes: Sequence[str]) -> dict[str, Any]:
    """A signed-in account as MAST's /info describes it."""
    first, _, last = account.name.partition(" ")
    attrib: dict[str, Any] = {
        "uuid": _subject(account),
        "first_name": first,
        "last_name": last,
        "display_name": account.name,
        "internal": "1" if account.email.lower().endswith("@stsci.edu") else "0",
        "email": account.email,
        "Jwstcalengdataaccess": "false",
    }
    info: dict[str, Any] = {
        "anon": False,
        "attrib": attrib,
        "eppn": account.email,
        "ezid": account.login,
        "scopes": list(scopes),
        "session": None,
        "token": token,
    }
    if account.omit_email:
        del attrib["email"], info["eppn"]
    return info


ANONYMOUS_INFO: dict[str, Any] = {
    "anon": True,
    "attrib": {},
    "ezid": None,
    "scopes": [],
    "session": None,
    "token": None,
}


class MastInfoHandler(_Base):
    def get(self) -> None:
        found = self.bearer()
        if found is None:
            # MAST answers an unknown token as an anonymous session, not with an error.
            self.json(ANONYMOUS_INFO)
            return
        token, grant = found
        self.json(mast_info(grant.account, token, grant.scopes))


class UserInfoHandler(_Base):
    """OpenID Connect userinfo for the MAST-side tokens."""

    def get(self) -> None:
        found = self.bearer()
        if found is None:
            self.set_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.json({"error": "invalid_token"}, 401)
            return
        account = found[1].account
        claims: dict[str, Any] = {
            "sub": _subject(account),
            "name": account.name,
            "preferred_username": account.login,
        }
        if not account.omit_email:
            claims.update(email=account.email, email_verified=True)
        self.json(claims)


class DiscoveryHandler(_Base):
    def get(self) -> None:
        base = self.state.base_url
        self.json(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth/authorize",
                "token_endpoint": f"{base}/oauth/token",
                "userinfo_endpoint": f"{base}/oauth/userinfo",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["HS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "scopes_supported": ["openid", "email", "profile", "mast:user:info"],
                "claims_supported": ["sub", "email", "email_verified", "name"],
            }
        )


class GitHubApiHandler(_Base):
    """The few GitHub REST calls GitHubOAuthenticator 17 makes."""

    flavour = GITHUB

    def not_found(self) -> None:
        self.json({"message": "Not Found", "documentation_url": GITHUB_DOCS}, 404)

    def get(self, path: str) -> None:
        found = self.bearer()
        if found is None:
            given = self.request.headers.get("Authorization")
            message = "Bad credentials" if given else "Requires authentication"
            self.json({"message": message, "documentation_url": GITHUB_DOCS}, 401)
            return
        found = found[1]
        me = found.account
        parts = path.strip("/").split("/")
        if parts == ["user"]:
            self.json(self._user(me))
        elif parts == ["user", "emails"]:
            if not {"user", "user:email"} & set(found.scopes) or me.omit_email:
                self.not_found()
                return
            self.json(
                [{"email": me.email, "primary": True, "verified": True, "visibility": "private"}]
            )
        elif parts == ["user", "teams"]:
            teams = sorted(o for o in me.orgs if ":" in o)
            self.json([self._team(t) for t in teams] if "read:org" in found.scopes else [])
        elif len(parts) == 4 and parts[0] == "orgs" and parts[2] == "members":
            self._membership(found, parts[1], None, parts[3])
        elif len(parts) == 4 and parts[0] == "orgs" and parts[2] == "public_members":
            self.not_found()  # every membership here is private
        elif len(parts) == 6 and parts[0:5:2] == ["orgs", "teams", "members"]:
            self._membership(found, parts[1], parts[3], parts[5])
        else:
            self.not_found()

    def _membership(self, found: _Token, org: str, team: str | None, username: str) -> None:
        # Private memberships are visible only to members of the org with read:org.
        visible = "read:org" in found.scopes and found.account.in_org(org)
        if not visible and team is None:
            self.redirect(self.request.path.replace("/members/", "/public_members/"))
            return
        member = self.state.find(username, GITHUB)
        if visible and member is not None and member.in_org(org, team):
            self.set_status(204)
            self.finish()
        else:
            self.not_found()

    def _user(self, account: Account) -> dict[str, Any]:
        base = self.state.base_url
        number = int(_subject(account).replace("-", "")[:7], 16)
        return {
            "login": account.login,
            "id": number,
            "node_id": _b64url(f"04:User{number}".encode()),
            "avatar_url": "",
            "html_url": f"{base}/{account.login}",
            "type": "User",
            "site_admin": False,
            "name": account.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": None if account.omit_email else account.email,
            "hireable": None,
            "bio": None,
            "public_repos": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
        }

    def _team(self, org_team: str) -> dict[str, Any]:
        org, _, slug = org_team.partition(":")
        return {"name": slug, "slug": slug, "organization": {"login": org}}


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Sign in to {brand} (local stand-in)</title>
<style>
body {{ font-family: sans-serif; max-width: 26em; margin: 4em auto; }}
label, input, button {{ display: block; width: 100%; margin: .4em 0; font-size: 1em; }}
.error {{ color: #b00020; }} .note {{ color: #555; font-size: .85em; }}
</style></head>
<body>
<h1>Sign in to {brand}</h1>
<p class="note">Local stand-in for {brand} on loopback (astrohub demo and tests).</p>
{error}
<form method="post">
{hidden}
<label for="username">{label}</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="allow">Sign in</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</form>
</body></html>
"""


class OIDCProvider:
    """The provider, served from a background thread with its own event loop.

    >>> provider = OIDCProvider([Account("astro@stsci.edu", "pw")], client_secret="s").start()
    >>> provider.url  # doctest: +SKIP
    'http://127.0.0.1:40123'
    >>> provider.stop()
    """

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        client_secret: str,
        client_id: str = DEFAULT_CLIENT_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        redirect_uris: Iterable[str] = (),
        require_pkce: bool = False,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the provider only listens on loopback, not {host}")
        if not client_secret:
            raise ValueError("a client secret is required")
        self.host = host
        self.port = port
        self.state = _State(
            accounts=list(accounts),
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=frozenset(redirect_uris),
            require_pkce=require_pkce,
        )
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return self.state.base_url

    @property
    def client_id(self) -> str:
        return self.state.client_id

    @property
    def github_url(self) -> str:
        """GitHubOAuthenticator.github_url for this provider."""
        return self.url + "/github"

    @property
    def github_api(self) -> str:
        """GitHubOAuthenticator.github_api for this provider."""
        return self.url + "/github/api"

    def add_accounts(self, accounts: Iterable[Account]) -> None:
        """More accounts, while running (the many-users bench signs in fifty)."""
        with self.state.lock:
            self.state.accounts.extend(accounts)

    def tokens_of(self, email: str) -> list[str]:
        """The live access tokens issued to an account (for tests comparing, never printing)."""
        with self.state.lock:
            return [
                token
                for token, issued in self.state.tokens.items()
                if issued.account.email.lower() == email.lower()
            ]

    def secrets_issued(self) -> list[str]:
        """The client secret and every code and token issued so far (for log checks)."""
        with self.state.lock:
            return [self.state.client_secret, *self.state.issued]

    def application(self) -> web.Application:
        kwargs = {"state": self.state}
        return web.Application(
            [
                (r"/oauth/authorize", AuthorizeHandler, kwargs),
                (r"/oauth/token", TokenHandler, kwargs),
                (r"/info", MastInfoHandler, kwargs),
                (r"/oauth/userinfo", UserInfoHandler, kwargs),
                (r"/\.well-known/openid-configuration", DiscoveryHandler, kwargs),
                # GitHub under /github (github_url <url>/github, github_api <url>/github/api)
                # and at the root (github_url <url>, whose default github_api is <url>/api/v3).
                (r"/github/login/oauth/authorize", GitHubAuthorizeHandler, kwargs),
                (r"/github/login/oauth/access_token", GitHubTokenHandler, kwargs),
                (r"/github/api/(.*)", GitHubApiHandler, kwargs),
                (r"/login/oauth/authorize", GitHubAuthorizeHandler, kwargs),
                (r"/login/oauth/access_token", GitHubTokenHandler, kwargs),
                (r"/api/v3/(.*)", GitHubApiHandler, kwargs),
            ],
            log_function=_log_request,
            xsrf_cookies=False,
        )

    def start(self) -> OIDCProvider:
        self._sockets = bind_sockets(self.port, address=self.host)
        self.port = self._sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.state.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="oidc-provider", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the OIDC provider did not start")
        log.info("OIDC provider on %s", self.url)
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        server = HTTPServer(self.application())
        server.add_sockets(self._sockets)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            server.stop()
            loop.run_until_complete(server.close_all_connections())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop = None
        self._thread = None

    def __enter__(self) -> OIDCProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_accounts(
    specs: Sequence[str], users_file: Path | None, omit_email: Sequence[str]
) -> list[Account]:
    accounts = [Account.parse(spec) for spec in specs]
    if users_file is not None:
        accounts += [Account.from_dict(item) for item in json.loads(users_file.read_text())]
    missing = {e.lower() for e in omit_email} - {a.email.lower() for a in accounts}
    if missing:
        raise ValueError(f"--omit-email names unknown accounts: {', '.join(sorted(missing))}")
    omit = {e.lower() for e in omit_email}
    return [
        Account.from_dict({**a.__dict__, "omit_email": a.omit_email or a.email.lower() in omit})
        for a in accounts
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m astrohub_local.oidc_provider",
        description="A local OAuth2/OIDC provider on loopback standing in for MAST and GitHub.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    parser.add_argument("--url-file", type=Path, help="write the provider's URL here when up")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument(
        "--client-secret-env",
        default=DEFAULT_SECRET_ENV,
        help="environment variable holding the client secret (default %(default)s)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="EMAIL:PASSWORD[:ORGS]",
        help="an account; ORGS is a comma list of org or org:team",
    )
    parser.add_argument(
        "--users-file",
        type=Path,
        help="JSON list of {email, password, login, name, orgs, omit_email}",
    )
    parser.add_argument(
        "--omit-email",
        action="append",
        default=[],
        metavar="EMAIL",
        help="MAST /info for this account has no attrib.email",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="registered redirect URI (default: any on loopback)",
    )
    parser.add_argument("--require-pkce", action="store_true", help="refuse requests without PKCE")
    args = parser.parse_args(argv)

    secret = os.environ.get(args.client_secret_env, "")
    if not secret:
        parser.error(f"set the client secret in ${args.client_secret_env}")
    try:
        accounts = load_accounts(args.user, args.users_file, args.omit_email)
    except (ValueError, KeyError, OSError) as exc:
        parser.error(str(exc))
    if not accounts:
        parser.error("give at least one --user or --users-file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    provider = OIDCProvider(
        accounts,
        client_id=args.client_id,
        client_secret=secret,
        host=args.host,
        port=args.port,
        redirect_uris=args.redirect_uri,
        require_pkce=args.require_pkce,
    )
    serve_until_signalled(lambda: provider.start().url, provider.stop, url_file=args.url_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
