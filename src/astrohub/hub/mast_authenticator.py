"""Sign in to JupyterHub with a MAST account (the STScI archive's accounts).

MASTOAuthenticator is OAuthenticator's GenericOAuthenticator set up for the MAST auth service:
the login button says "Sign in with MAST", the endpoints default to auth.mast.stsci.edu
(auth.masttest.stsci.edu is MAST's test service) and the scope to ``mast:user:info``.

* The hub username is the account's e-mail (``attrib.email`` in MAST's /info answer),
  lower-cased. An account whose info has no usable e-mail, or an anonymous session, is
  refused with a 403 that says why.
* Who may sign in: ``allowed_users`` (e-mails), ``allowed_email_domains`` (e.g. stsci.edu,
  matched exactly, not subdomains) and ``admin_users`` (e-mails), on top of OAuthenticator's
  other allow rules.
* ``token_in_notebooks``: the MAST access token is kept in the encrypted auth state and handed
  to the user's server as ``MAST_API_TOKEN``, which ``astroquery.mast.Observations.login()``
  reads. It needs ``Authenticator.enable_auth_state``. The token is never logged.

This file is deployed as one module mounted into the hub image (the chart's hub.extraFiles),
so it imports only the standard library, jupyterhub, oauthenticator, tornado and traitlets.
"""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler
from tornado import web
from traitlets import Bool, Set, Unicode, default, validate

MAST_AUTH_URL = "https://auth.mast.stsci.edu"
MAST_TEST_AUTH_URL = "https://auth.masttest.stsci.edu"
TOKEN_ENV = "MAST_API_TOKEN"  # noqa: S105  # a variable's name

NO_EMAIL_MESSAGE = (
    "MAST did not return an e-mail address for this account, so it cannot be used to sign in. "
    "Add an e-mail address to your MAST account profile at auth.mast.stsci.edu and sign in "
    "again, or ask the hub's administrators for help."
)
BAD_EMAIL_MESSAGE = (
    "MAST returned an e-mail address this hub cannot use as a user name. "
    "Please ask the hub's administrators for help."
)
ANONYMOUS_MESSAGE = (
    "MAST reported an anonymous session instead of a signed-in account. "
    "Please sign in to MAST again."
)


def mast_email(user_info: dict[str, Any]) -> str:
    """The account's e-mail from a MAST /info answer, lower-cased: the hub username.

    Raises a 403 with a message for the user when there is none to use."""
    if user_info.get("anon"):
        raise web.HTTPError(403, ANONYMOUS_MESSAGE)
    attrib = user_info.get("attrib")
    email = attrib.get("email") if isinstance(attrib, dict) else None
    if not isinstance(email, str) or not email.strip():
        raise web.HTTPError(403, NO_EMAIL_MESSAGE)
    email = email.strip().lower()
    local, _, domain = email.rpartition("@")
    # The domain allow-list relies on there being exactly one @ and a real domain after it.
    if not local or "@" in local or "." not in domain or any(ch.isspace() for ch in email):
        raise web.HTTPError(403, BAD_EMAIL_MESSAGE)
    return email


class MASTCallbackHandler(OAuthCallbackHandler):
    """OAuthenticator's callback handler, minus the code in tornado's warning lines."""

    def _request_summary(self) -> str:
        # Tornado's warning for a refused callback (403, 400) names the request; JupyterHub's
        # access log scrubs the query (the OAuth code and state), tornado's line would not.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"


class MASTOAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator for the MAST auth service; see the module docstring."""

    callback_handler = MASTCallbackHandler

    # Where the MAST /info answer is kept in auth_state.
    user_auth_state_key = "mast_user"

    @default("login_service")
    def _login_service_default(self) -> str:
        return "MAST"

    @default("authorize_url")
    def _authorize_url_default(self) -> str:
        return f"{MAST_AUTH_URL}/oauth/authorize"

    @default("token_url")
    def _token_url_default(self) -> str:
        return f"{MAST_AUTH_URL}/oauth/token"

    @default("userdata_url")
    def _userdata_url_default(self) -> str:
        return f"{MAST_AUTH_URL}/info"

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["mast:user:info"]

    @default("username_claim")
    def _username_claim_default(self) -> Any:
        return mast_email

    userdata_token_scheme = Unicode(
        "token",
        config=True,
        help="""Authorization scheme for the token sent to /info.

        STScI's own applications send ``Authorization: token <access token>`` to the MAST
        auth service's /info; set "Bearer" if a MAST service expects that instead.
        """,
    )

    allowed_email_domains = Set(
        Unicode(),
        config=True,
        help="""Allow every MAST account whose e-mail is in one of these domains.

        Matched exactly against the part after the @ (``stsci.edu`` does not allow
        ``sub.stsci.edu``), case-insensitively. Adds to ``allowed_users`` and the other
        allow rules.
        """,
    ).tag(allow_config=True)

    token_in_notebooks = Bool(
        False,
        config=True,
        help="""Hand the user's MAST access token to their server as MAST_API_TOKEN.

        The token is kept in the encrypted auth state, so this needs
        ``Authenticator.enable_auth_state = True`` (and CryptKeeper keys, which the chart
        generates).
        """,
    )

    @validate("allowed_email_domains")
    def _normalize_domains(self, proposal: Any) -> set[str]:
        return {domain.strip().lstrip("@").lower() for domain in proposal.value}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Fail at start-up, not at the first spawn, when the token would have nowhere to live.
        if self.token_in_notebooks and not self.enable_auth_state:
            raise ValueError(
                f"{type(self).__name__}.token_in_notebooks is True, but "
                "Authenticator.enable_auth_state is False: the MAST token can only be handed "
                "to notebooks from the encrypted auth state. Set "
                "Authenticator.enable_auth_state = True (the chart generates the CryptKeeper "
                "keys), or set token_in_notebooks = False."
            )

    def build_userdata_request_headers(self, access_token: str, token_type: str) -> dict[str, str]:
        headers: dict[str, str] = super().build_userdata_request_headers(access_token, token_type)
        headers["Authorization"] = f"{self.userdata_token_scheme} {access_token}"
        return headers

    async def token_to_user(self, token_info: dict[str, Any]) -> dict[str, Any]:
        user_info: dict[str, Any] = await super().token_to_user(token_info)
        # MAST's /info echoes the token back; drop it so no log or error page can show it
        # (auth_state keeps it under access_token).
        user_info.pop("token", None)
        return user_info

    def _email_domain(self, username: str, auth_model: dict[str, Any]) -> str:
        """The e-mail domain to check: from MAST's answer, else from the username."""
        user_info = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        try:
            email = mast_email(user_info)
        except web.HTTPError:
            email = username
        return email.rpartition("@")[2] if "@" in email else ""

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        if await super().check_allowed(username, auth_model):
            return True
        if auth_model is not None and self.allowed_email_domains:
            domain = self._email_domain(username, auth_model)
            if domain and domain in self.allowed_email_domains:
                return True
        return False

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        if not self.token_in_notebooks:
            return
        auth_state = await user.get_auth_state() or {}
        token = auth_state.get("access_token")
        environment = dict(spawner.environment)
        if token:
            environment[TOKEN_ENV] = token
        else:
            # A stale token from an earlier login must not outlive the auth state.
            environment.pop(TOKEN_ENV, None)
            self.log.warning(
                "No MAST token in the auth state of %s: %s is not set", user.name, TOKEN_ENV
            )
        spawner.environment = environment
