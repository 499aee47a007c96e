"""The local OAuth2/OIDC provider: its checks and the shapes of its answers, over HTTP."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from astrohub_local import oidc_provider
from astrohub_local.oidc_provider import Account, OIDCProvider, pkce_challenge

SECRET = "provider-test-secret-0123456789abcdef"
CALLBACK = "http://127.0.0.1:1/hub/oauth_callback"
ACCOUNTS = [
    Account("Astro@Example.org", "pw-astro"),
    Account("noemail@example.org", "pw-none", omit_email=True),
    Account("octo@example.org", "pw-octo", login="octo", orgs=frozenset({"astrohub-demo:staff"})),
    Account("other@example.org", "pw-other", login="other"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider(ACCOUNTS, client_secret=SECRET) as running:
        yield running


def verifier_and_challenge() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    return verifier, pkce_challenge(verifier)


def authorize(
    provider: OIDCProvider,
    username: str,
    password: str,
    *,
    github: bool = False,
    challenge: str | None = None,
    scope: str = "mast:user:info",
    redirect_uri: str = CALLBACK,
) -> requests.Response:
    """Fill in the login form; the answer is the redirect back to the client."""
    path = "/github/login/oauth/authorize" if github else "/oauth/authorize"
    params = {
        "client_id": "astrohub-local-demo",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": "st4te",
        "scope": scope,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = requests.get(provider.url + path, params=params, timeout=10)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    form |= {"username": username, "password": password, "action": "allow"}
    return requests.post(page.url, data=form, allow_redirects=False, timeout=10)


def code_from(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def exchange(provider: OIDCProvider, code: str, *, github: bool = False, **extra: str) -> Any:
    path = "/github/login/oauth/access_token" if github else "/oauth/token"
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": "astrohub-local-demo",
        "client_secret": SECRET,
        **extra,
    }
    return requests.post(
        provider.url + path, data=data, timeout=10, headers={"Accept": "application/json"}
    )


def mast_token(provider: OIDCProvider, username: str, password: str, scope: str = "") -> str:
    verifier, challenge = verifier_and_challenge()
    code = code_from(
        authorize(
            provider, username, password, challenge=challenge, scope=scope or "mast:user:info"
        )
    )
    answer = exchange(provider, code, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def info(provider: OIDCProvider, token: str, scheme: str = "token") -> dict[str, Any]:
    answer = requests.get(
        f"{provider.url}/info", timeout=10, headers={"Authorization": f"{scheme} {token}"}
    )
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def test_discovery_document(provider: OIDCProvider) -> None:
    doc = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == provider.url
    assert doc["authorization_endpoint"] == f"{provider.url}/oauth/authorize"
    assert doc["code_challenge_methods_supported"] == ["S256"]


def test_mast_flow_with_pkce_and_the_info_shape(provider: OIDCProvider) -> None:
    token = mast_token(provider, "astro@example.org", "pw-astro")
    answer = info(provider, token)
    assert answer["anon"] is False
    assert answer["attrib"]["email"] == "Astro@Example.org"
    assert {"eppn", "ezid", "scopes", "session", "token"} <= set(answer)
    assert answer["scopes"] == ["mast:user:info"]
    assert info(provider, token, scheme="Bearer")["attrib"]["email"] == "Astro@Example.org"


def test_an_unknown_token_is_an_anonymous_session(provider: OIDCProvider) -> None:
    assert info(provider, "not-a-token")["anon"] is True
    assert requests.get(f"{provider.url}/info", timeout=10).json()["anon"] is True


def test_an_account_can_have_no_email(provider: OIDCProvider) -> None:
    answer = info(provider, mast_token(provider, "noemail@example.org", "pw-none"))
    assert answer["anon"] is False
    assert "email" not in answer["attrib"]
    assert "eppn" not in answer


def test_wrong_password_shows_the_form_again(provider: OIDCProvider) -> None:
    answer = authorize(provider, "astro@example.org", "wrong")
    assert answer.status_code == 401
    assert "Incorrect username or password." in answer.text


def test_cancel_returns_access_denied(provider: OIDCProvider) -> None:
    page = requests.get(
        f"{provider.url}/oauth/authorize",
        timeout=10,
        params={
            "client_id": "astrohub-local-demo",
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "state": "st4te",
        },
    )
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text)) | {"action": "deny"}
    answer = requests.post(page.url, data=form, allow_redirects=False, timeout=10)
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["access_denied"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"client_id": "someone-else"}, 400),
        ({"redirect_uri": "https://evil.example.com/cb"}, 400),
        ({"redirect_uri": ""}, 400),
    ],
)
def test_authorize_refuses_unknown_clients_and_redirects(
    provider: OIDCProvider, params: dict[str, str], status: int
) -> None:
    query = {
        "client_id": "astrohub-local-demo",
        "redirect_uri": CALLBACK,
        "response_type": "code",
    } | params
    answer = requests.get(
        f"{provider.url}/oauth/authorize", params=query, timeout=10, allow_redirects=False
    )
    assert answer.status_code == status


def test_plain_pkce_is_refused(provider: OIDCProvider) -> None:
    answer = requests.get(
        f"{provider.url}/oauth/authorize",
        allow_redirects=False,
        timeout=10,
        params={
            "client_id": "astrohub-local-demo",
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
    )
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]


def test_pkce_verifier_is_checked(provider: OIDCProvider) -> None:
    _, challenge = verifier_and_challenge()
    code = code_from(authorize(provider, "astro@example.org", "pw-astro", challenge=challenge))
    answer = exchange(provider, code, code_verifier=secrets.token_urlsafe(32))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    code = code_from(authorize(provider, "astro@example.org", "pw-astro", challenge=challenge))
    assert exchange(provider, code).json()["error"] == "invalid_grant"  # verifier missing


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_client_secret_is_checked(provider: OIDCProvider) -> None:
    code = code_from(authorize(provider, "astro@example.org", "pw-astro"))
    answer = exchange(provider, code, client_secret="wrong")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_basic_client_authentication(provider: OIDCProvider) -> None:
    code = code_from(authorize(provider, "astro@example.org", "pw-astro"))
    basic = base64.b64encode(f"astrohub-local-demo:{SECRET}".encode()).decode()
    answer = requests.post(
        f"{provider.url}/oauth/token",
        timeout=10,
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
    )
    assert answer.status_code == 200, answer.text


def test_redirect_uri_must_match(provider: OIDCProvider) -> None:
    code = code_from(authorize(provider, "astro@example.org", "pw-astro"))
    answer = exchange(provider, code, redirect_uri="http://127.0.0.1:2/other")
    assert answer.json()["error"] == "invalid_grant"


def test_codes_are_single_use_and_a_replay_revokes_the_token(provider: OIDCProvider) -> None:
    code = code_from(authorize(provider, "astro@example.org", "pw-astro"))
    token = exchange(provider, code).json()["access_token"]
    assert info(provider, token)["anon"] is False
    replay = exchange(provider, code)
    assert replay.json()["error"] == "invalid_grant"
    assert info(provider, token)["anon"] is True


def test_codes_expire(provider: OIDCProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oidc_provider, "CODE_TTL", -1.0)
    code = code_from(authorize(provider, "astro@example.org", "pw-astro"))
    assert exchange(provider, code).json()["error_description"] == "The code has expired."


def test_openid_scope_gets_an_id_token(provider: OIDCProvider) -> None:
    code = code_from(authorize(provider, "astro@example.org", "pw-astro", scope="openid email"))
    answer = exchange(provider, code).json()
    claims = jwt.decode(
        answer["id_token"], SECRET, algorithms=["HS256"], audience="astrohub-local-demo"
    )
    assert claims["email"] == "Astro@Example.org"
    assert claims["iss"] == provider.url
    userinfo = requests.get(
        f"{provider.url}/oauth/userinfo",
        timeout=10,
        headers={"Authorization": f"Bearer {answer['access_token']}"},
    )
    assert userinfo.json()["email"] == "Astro@Example.org"


def github_token(provider: OIDCProvider, login: str, password: str, scope: str) -> str:
    code = code_from(authorize(provider, login, password, github=True, scope=scope))
    answer = exchange(provider, code, github=True).json()
    assert answer["token_type"] == "bearer"
    assert answer["scope"] == scope.replace(" ", ",")
    token: str = answer["access_token"]
    return token


def gh(provider: OIDCProvider, token: str, path: str) -> requests.Response:
    return requests.get(
        f"{provider.github_api}{path}",
        allow_redirects=True,
        timeout=10,
        headers={"Authorization": f"token {token}"},
    )


def test_github_user_and_memberships(provider: OIDCProvider) -> None:
    token = github_token(provider, "octo", "pw-octo", "read:org")
    user = gh(provider, token, "/user").json()
    assert user["login"] == "octo"
    assert user["email"] == "octo@example.org"
    assert gh(provider, token, "/orgs/astrohub-demo/members/octo").status_code == 204
    assert gh(provider, token, "/orgs/astrohub-demo/members/other").status_code == 404
    assert gh(provider, token, "/orgs/astrohub-demo/teams/staff/members/octo").status_code == 204
    assert gh(provider, token, "/orgs/astrohub-demo/teams/other/members/octo").status_code == 404
    assert gh(provider, token, "/user/teams").json()[0]["slug"] == "staff"
    assert gh(provider, token, "/user/emails").status_code == 404  # needs user:email


def test_github_private_membership_needs_read_org(provider: OIDCProvider) -> None:
    token = github_token(provider, "octo", "pw-octo", "user:email")
    answer = gh(provider, token, "/orgs/astrohub-demo/members/octo")
    assert answer.status_code == 404
    assert answer.history and answer.history[0].status_code == 302
    assert gh(provider, token, "/user/emails").json()[0]["primary"] is True


def test_github_bad_credentials(provider: OIDCProvider) -> None:
    answer = gh(provider, "gho_nope", "/user")
    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"


def test_github_token_errors_come_back_as_200(provider: OIDCProvider) -> None:
    answer = exchange(provider, "no-such-code", github=True)
    assert answer.status_code == 200
    assert answer.json()["error"] == "invalid_grant"


def test_github_is_served_at_the_root_too(provider: OIDCProvider) -> None:
    token = github_token(provider, "octo", "pw-octo", "read:org")
    answer = requests.get(
        f"{provider.url}/api/v3/user", timeout=10, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.json()["login"] == "octo"


def test_tokens_of_one_dialect_do_not_work_in_the_other(provider: OIDCProvider) -> None:
    mast = mast_token(provider, "octo@example.org", "pw-octo")
    assert gh(provider, mast, "/user").status_code == 401
    github = github_token(provider, "octo", "pw-octo", "read:org")
    assert info(provider, github)["anon"] is True


def test_account_specs() -> None:
    account = Account.parse("Ada@Example.org:pw:astrohub-demo:staff,other-org")
    assert account.password == "pw"
    assert account.login == "ada"
    assert account.orgs == {"astrohub-demo:staff", "astrohub-demo", "other-org"}
    with pytest.raises(ValueError, match="EMAIL:PASSWORD"):
        Account.parse("ada@example.org")


def test_nothing_secret_is_logged(provider: OIDCProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="astrohub_local.oidc_provider")
    mast_token(provider, "astro@example.org", "pw-astro")
    github_token(provider, "octo", "pw-octo", "read:org")
    authorize(provider, "astro@example.org", "wrong-password")
    # The handlers log from the provider's thread; wait (bounded) for the last line.
    deadline = time.monotonic() + 10
    while "sign-in refused" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "signed in Astro@Example.org (mast)" in caplog.text
    for secret in [*provider.secrets_issued(), "pw-astro", "pw-octo", "wrong-password"]:
        assert secret not in caplog.text


def test_cli_prints_its_url_and_serves(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    env = {**os.environ, "ASTROHUB_DEMO_CLIENT_SECRET": "cli-secret"}
    cmd = [
        sys.executable,
        "-m",
        "astrohub_local.oidc_provider",
        "--port",
        "0",
        "--url-file",
        str(url_file),
        "--user",
        "cli@example.org:cli-pw",
        "--omit-email",
        "cli@example.org",
    ]
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the provider did not write its URL"
            time.sleep(0.05)
        url = url_file.read_text().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        doc = requests.get(f"{url}/.well-known/openid-configuration", timeout=10).json()
        assert doc["issuer"] == url
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert out.strip() == url
    assert process.returncode == 0
    assert not url_file.exists()  # gone with the server: nobody takes it for a live one
    assert "cli-secret" not in out + err


def test_cli_needs_the_secret_in_the_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASTROHUB_DEMO_CLIENT_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "astrohub_local.oidc_provider", "--user", "a@b.org:p"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "ASTROHUB_DEMO_CLIENT_SECRET" in done.stderr


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        OIDCProvider(ACCOUNTS, client_secret=SECRET, host="0.0.0.0")  # noqa: S104


def test_sha256_helper_is_standard() -> None:
    digest = hashlib.sha256(b"x").digest()
    assert pkce_challenge("x") == base64.urlsafe_b64encode(digest).decode().rstrip("=")
