"""The refusals, over HTTP (requests, no browser), against real local hubs started from the
values the playbook rendered, signing in at the local provider."""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from hub_support import (
    GH_ADMIN,
    GH_OUTSIDER,
    GH_USER,
    GH_VISITOR,
    MAST_ADMIN,
    MAST_GUEST,
    MAST_NO_EMAIL,
    MAST_OUTSIDER,
    MAST_USER,
    callback_url,
    sign_in,
    signed_in_as,
)

from astrohub.hub.mast_authenticator import NO_EMAIL_MESSAGE
from astrohub_local.localhub import LocalHub

NOT_AUTHORIZED = "Sorry, you are not currently authorized to use this hub."


def test_the_login_page_offers_mast(mast_hub: LocalHub) -> None:
    page = requests.get(f"{mast_hub.url}/hub/login", timeout=30)
    assert page.status_code == 200
    assert "Sign in with MAST" in page.text


def test_the_login_page_offers_github(github_hub: LocalHub) -> None:
    page = requests.get(f"{github_hub.url}/hub/login", timeout=30)
    assert "Sign in with GitHub" in page.text


def test_allowed_mast_accounts_get_in(mast_hub: LocalHub) -> None:
    # By e-mail domain (the username is the lower-cased e-mail) and by e-mail.
    for account in (MAST_USER, MAST_GUEST):
        session, answer = sign_in(mast_hub.url, account.email, account.password)
        assert answer.status_code == 302, unescape(answer.text)[:800]
        assert signed_in_as(session, mast_hub.url) == account.email.lower()


def test_mast_account_outside_the_allow_list_gets_403(mast_hub: LocalHub) -> None:
    session, answer = sign_in(mast_hub.url, MAST_OUTSIDER.email, MAST_OUTSIDER.password)
    assert answer.status_code == 403
    assert NOT_AUTHORIZED in unescape(answer.text)
    assert signed_in_as(session, mast_hub.url) is None


def test_github_account_outside_the_allow_list_gets_403(github_hub: LocalHub) -> None:
    # In the organisation, but not in the allowed team.
    session, answer = sign_in(github_hub.url, GH_OUTSIDER.login, GH_OUTSIDER.password)
    assert answer.status_code == 403
    assert signed_in_as(session, github_hub.url) is None


def test_allowed_github_accounts_get_in(github_hub: LocalHub) -> None:
    # By team membership (read:org) and by user name.
    for account in (GH_USER, GH_VISITOR):
        session, answer = sign_in(github_hub.url, account.login, account.password)
        assert answer.status_code == 302, unescape(answer.text)[:800]
        assert signed_in_as(session, github_hub.url) == account.login


def test_mast_info_without_email_is_refused_with_the_message(mast_hub: LocalHub) -> None:
    session, answer = sign_in(mast_hub.url, MAST_NO_EMAIL.email, MAST_NO_EMAIL.password)
    assert answer.status_code == 403
    assert NO_EMAIL_MESSAGE in unescape(answer.text)
    assert signed_in_as(session, mast_hub.url) is None


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_tampered_state_is_refused(mast_hub: LocalHub) -> None:
    session = requests.Session()
    callback = callback_url(mast_hub.url, MAST_USER.email, MAST_USER.password, session)
    state = dict(parse_qsl(urlsplit(callback).query))["state"]
    forged = _with_state(callback, state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB"))
    answer = session.get(forged, allow_redirects=False, timeout=30)
    assert answer.status_code == 400
    assert "OAuth state" in unescape(answer.text)
    assert signed_in_as(session, mast_hub.url) is None


def test_a_callback_replayed_in_another_browser_is_refused(mast_hub: LocalHub) -> None:
    # The code and state were issued to the first session; a second one has no state cookie.
    callback = callback_url(mast_hub.url, MAST_USER.email, MAST_USER.password, requests.Session())
    other = requests.Session()
    answer = other.get(callback, allow_redirects=False, timeout=30)
    assert answer.status_code == 400
    assert "OAuth state missing from cookies" in unescape(answer.text)
    assert signed_in_as(other, mast_hub.url) is None


def test_an_admin_reaches_the_admin_page_a_user_does_not(mast_hub: LocalHub) -> None:
    admin, answer = sign_in(mast_hub.url, MAST_ADMIN.email, MAST_ADMIN.password)
    assert answer.status_code == 302
    assert admin.get(f"{mast_hub.url}/hub/admin", timeout=30).status_code == 200
    user, answer = sign_in(mast_hub.url, MAST_USER.email, MAST_USER.password)
    assert answer.status_code == 302
    assert user.get(f"{mast_hub.url}/hub/admin", timeout=30).status_code == 403


def test_github_admin_by_user_name(github_hub: LocalHub) -> None:
    admin, answer = sign_in(github_hub.url, GH_ADMIN.login, GH_ADMIN.password)
    assert answer.status_code == 302
    assert admin.get(f"{github_hub.url}/hub/admin", timeout=30).status_code == 200
    user, _ = sign_in(github_hub.url, GH_USER.login, GH_USER.password)
    assert user.get(f"{github_hub.url}/hub/admin", timeout=30).status_code == 403


def test_logout_ends_the_session(mast_hub: LocalHub) -> None:
    session, answer = sign_in(mast_hub.url, MAST_USER.email, MAST_USER.password)
    assert answer.status_code == 302
    assert signed_in_as(session, mast_hub.url) == MAST_USER.email
    logout = session.get(f"{mast_hub.url}/hub/logout", allow_redirects=False, timeout=30)
    assert logout.status_code == 302
    assert "jupyterhub-hub-login=;" in logout.headers.get("Set-Cookie", "").replace('""', "")
    assert signed_in_as(session, mast_hub.url) is None
    home = session.get(f"{mast_hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 302
    assert "/hub/login" in home.headers["Location"]
