"""playbooks/auth.yml switches login (and HTTPS) on a running deployment, idempotently, in plan
mode, on the operator's deployment (over SSH, MAST behind Let's Encrypt). The assertions read
the values Helm would receive (the values file the playbook wrote, coalesced with the chart's
defaults by Helm's own engine) and the chart it rendered. No secret reaches the output, even at
-vvvv."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from astrohub import manifests
from astrohub_local.localhub import deployed_values_files
from astrohub_local.runner import PlaybookResult
from deployments import Deployment
from layered_values import release_values

# GitHub login, with a certificate the operator keeps in a kubernetes.io/tls Secret.
GITHUB_WITH_TLS_SECRET = {
    "auth_provider": "github",
    "mast_token_in_notebooks": False,
    "github_client_id": "astrohub-ssh-test",
    "github_client_secret": "not-a-real-github-secret-either",
    "github_allowed_organizations": ["astrohub-demo"],
    "https_mode": "secret",
    "https_tls_secret_name": "hub-example-org-tls",
}


def succeeded(result: PlaybookResult) -> PlaybookResult:
    assert result.returncode == 0, result.failures or result.output[-3000:]
    return result


def proxy_secrets(docs: list[dict[str, Any]]) -> set[str]:
    """The Secrets the rendered proxy Deployment mounts."""
    proxy = next(x for x in docs if x["kind"] == "Deployment" and x["metadata"]["name"] == "proxy")
    volumes = proxy["spec"]["template"]["spec"].get("volumes") or []
    return {v["secret"]["secretName"] for v in volumes if "secret" in v}


@pytest.fixture(scope="module")
def switched(deployment: Deployment) -> Iterator[dict[str, Any]]:
    """The operator switches to GitHub and a TLS secret (at -vvv), runs it again, then goes
    back to the site's settings (MAST, Let's Encrypt) and runs that again."""
    github = deployment.run("auth.yml", extra_vars=GITHUB_WITH_TLS_SECRET, verbosity=3)
    runs: dict[str, Any] = {"github": succeeded(github)}
    runs["github values"] = release_values(deployment.build)
    runs["github rendered"] = manifests.load_documents(
        (deployment.build / "jupyterhub-rendered.yaml").read_text()
    )
    runs["github again"] = succeeded(deployment.run("auth.yml", extra_vars=GITHUB_WITH_TLS_SECRET))
    runs["mast"] = succeeded(deployment.run("auth.yml"))
    runs["mast rendered"] = manifests.load_documents(
        (deployment.build / "jupyterhub-rendered.yaml").read_text()
    )
    runs["mast again"] = succeeded(deployment.run("auth.yml"))
    yield runs


def test_switching_to_github_replaces_mast(
    switched: dict[str, Any], deployment: Deployment
) -> None:
    assert switched["github"].changed > 0
    assert switched["github"].stats[deployment.ci_node_id()]["ok"] > 0  # reached over SSH
    config = switched["github values"]["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "github"
    github = config["GitHubOAuthenticator"]
    assert github["allowed_organizations"] == ["astrohub-demo"]
    assert github["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert "MASTOAuthenticator" not in config  # the release no longer knows MAST
    assert "mast-authenticator" not in (switched["github values"]["hub"].get("extraFiles") or {})
    assert switched["github again"].changed == 0, switched["github again"].changes


def test_https_from_a_tls_secret(switched: dict[str, Any]) -> None:
    """https_mode secret: the proxy serves the operator's certificate; no Let's Encrypt."""
    https = switched["github values"]["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "secret"
    assert https["secret"]["name"] == "hub-example-org-tls"
    assert https["hosts"] == ["hub.example.org"]
    docs = switched["github rendered"]
    assert not [x for x in docs if x["metadata"]["name"] == "autohttps"]
    assert "hub-example-org-tls" in proxy_secrets(docs)


def test_switching_back_to_mast(switched: dict[str, Any], deployment: Deployment) -> None:
    assert switched["mast"].changed > 0
    values = release_values(deployment.build)
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "mast_authenticator.MASTOAuthenticator"
    assert config["MASTOAuthenticator"]["allowed_email_domains"] == ["example.org"]
    assert "GitHubOAuthenticator" not in config
    https = values["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "letsencrypt"  # the site's setting
    assert https["letsencrypt"]["contactEmail"] == "ops@example.org"
    # The release serves Let's Encrypt's certificate again, not the GitHub switch's secret.
    docs = switched["mast rendered"]
    assert [x["kind"] for x in docs if x["metadata"]["name"] == "autohttps"]
    assert "hub-example-org-tls" not in proxy_secrets(docs)
    assert switched["mast again"].changed == 0, switched["mast again"].changes


def test_auth_values_hold_no_secret(switched: dict[str, Any], deployment: Deployment) -> None:
    secret = deployment.settings["mast_client_secret"]
    *layers, secrets_file = deployed_values_files(deployment.build)
    assert secrets_file.name == "99-secrets.yaml"
    assert layers and all(secret not in layer.read_text() for layer in layers)
    assert secret in secrets_file.read_text()
    assert secrets_file.stat().st_mode & 0o077 == 0


def test_no_secret_in_a_very_verbose_run(switched: dict[str, Any], deployment: Deployment) -> None:
    verbose = switched["github"].output
    assert GITHUB_WITH_TLS_SECRET["github_client_secret"] not in verbose
    assert deployment.settings["mast_client_secret"] not in verbose
    # -vvvv, the most an operator debugging a run would use: the lookups and modules print their
    # results there unless no_log hides them.
    deploy = succeeded(deployment.run("deploy.yml", tags=["jupyterhub"], verbosity=4))
    assert deployment.settings["mast_client_secret"] not in deploy.output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in deploy.output or "censored" in deploy.output
    # A count, so that a failure report does not print the secrets it found.
    leaked = sum(secret in verbose + deploy.output for secret in deployment.kept_hub_secrets())
    assert leaked == 0, f"{leaked} of the hub's kept secrets printed"
