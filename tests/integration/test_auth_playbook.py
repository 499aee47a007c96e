"""playbooks/auth.yml switches login on a running deployment, idempotently, in plan mode
against the emulator; no secret reaches the output, even at -vvv."""

from __future__ import annotations

from typing import Any

import yaml

from astrohub.runner import DEMO_CLIENT_SECRET, REPO, PlaybookResult
from aws_state import NAMESPACE

AUTH_FILE = REPO / "build" / NAMESPACE / "jupyterhub-auth.yaml"
GITHUB = {"auth_provider": "github", "mast_token_in_notebooks": False}


def changed(result: PlaybookResult) -> int:
    assert result.returncode == 0, result.failures or result.output[-3000:]
    return result.changed


def auth_values() -> dict[str, Any]:
    return yaml.safe_load(AUTH_FILE.read_text())["hub"]["config"]


def test_switch_to_github_and_back_to_mast(deployed: dict[str, Any], playbook) -> None:
    assert changed(playbook("auth.yml", extra_vars=GITHUB)) > 0
    config = auth_values()
    assert config["JupyterHub"]["authenticator_class"] == "github"
    github = config["GitHubOAuthenticator"]
    assert github["allowed_organizations"] == ["astrohub-demo"]
    assert github["oauth_callback_url"].endswith("/hub/oauth_callback")
    assert config["MASTOAuthenticator"] is None  # Helm deletes the MAST settings
    assert changed(playbook("auth.yml", extra_vars=GITHUB)) == 0

    assert changed(playbook("auth.yml")) > 0
    config = auth_values()
    assert config["JupyterHub"]["authenticator_class"] == "mast_authenticator.MASTOAuthenticator"
    assert config["MASTOAuthenticator"]["allowed_email_domains"] == ["example.org"]
    assert config["GitHubOAuthenticator"] is None
    assert changed(playbook("auth.yml")) == 0


def test_auth_values_hold_no_secret(deployed: dict[str, Any]) -> None:
    assert DEMO_CLIENT_SECRET not in AUTH_FILE.read_text()
    secrets_file = AUTH_FILE.with_name("jupyterhub-secrets.yaml")
    assert DEMO_CLIENT_SECRET in secrets_file.read_text()
    assert secrets_file.stat().st_mode & 0o077 == 0


def test_no_secret_in_a_very_verbose_run(deployed: dict[str, Any], playbook) -> None:
    for extra in (GITHUB, {}):
        auth = playbook("auth.yml", extra_vars=extra, verbosity=3, structured=True)
        assert auth.returncode == 0
        assert DEMO_CLIENT_SECRET not in auth.output
    deploy = playbook("deploy.yml", tags=["jupyterhub"], verbosity=3)
    assert deploy.returncode == 0, deploy.failures
    assert DEMO_CLIENT_SECRET not in deploy.output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in deploy.output or "censored" in deploy.output
