"""playbooks/auth.yml switches login (and HTTPS) on a running deployment, idempotently, in plan
mode, on the operator's deployment; the assertions read the values Helm would receive (the
values file the playbook wrote, coalesced with the chart's defaults by Helm's own engine) and
the chart it rendered. No secret reaches the output, even at -vvv."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python
import pytest
import yaml

from astrohub import manifests
from astrohub.runner import PlaybookResult
from deployments import Deployment
from pinned import CHART

GITHUB = {
    "auth_provider": "github",
    "mast_token_in_notebooks": False,
    "github_client_id": "astrohub-ssh-test",
    "github_client_secret": "not-a-real-github-secret-either",
    "github_allowed_organizations": ["astrohub-demo"],
}
# A certificate the operator keeps in a kubernetes.io/tls Secret of the hub's namespace.
TLS_SECRET = {"https_mode": "secret", "https_tls_secret_name": "hub-example-org-tls"}


def changed(result: PlaybookResult) -> int:
    assert result.returncode == 0, result.failures or result.output[-3000:]
    return result.changed


def helm_values(d: Deployment) -> dict[str, Any]:
    """What the release gets: the written values file coalesced with the chart's defaults."""
    written = yaml.safe_load((d.build / "jupyterhub-values.yaml").read_text())
    with helm_python.Chart.load(str(CHART)) as chart:
        merged: dict[str, Any] = chart.merge_values(written)
    return merged


def rendered(d: Deployment) -> list[dict[str, Any]]:
    return manifests.load_documents((d.build / "jupyterhub-rendered.yaml").read_text())


@pytest.fixture
def back_to_mast(deployment: Deployment) -> Iterator[Deployment]:
    """Leave the operator's deployment as its site settings say (MAST, Let's Encrypt)."""
    yield deployment
    assert deployment.run("auth.yml").returncode == 0


def test_switch_to_github_and_back_to_mast(back_to_mast: Deployment) -> None:
    d = back_to_mast
    assert changed(d.run("auth.yml", extra_vars=GITHUB)) > 0
    config = helm_values(d)["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "github"
    github = config["GitHubOAuthenticator"]
    assert github["allowed_organizations"] == ["astrohub-demo"]
    assert github["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert "MASTOAuthenticator" not in config  # the release no longer knows MAST
    assert "mast-authenticator" not in (helm_values(d)["hub"].get("extraFiles") or {})
    assert changed(d.run("auth.yml", extra_vars=GITHUB)) == 0

    assert changed(d.run("auth.yml")) > 0
    config = helm_values(d)["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "mast_authenticator.MASTOAuthenticator"
    assert config["MASTOAuthenticator"]["allowed_email_domains"] == ["example.org"]
    assert "GitHubOAuthenticator" not in config
    assert changed(d.run("auth.yml")) == 0


def test_https_from_a_tls_secret(back_to_mast: Deployment) -> None:
    """https_mode secret: the proxy serves the operator's certificate; no Let's Encrypt."""
    d = back_to_mast
    assert changed(d.run("auth.yml", extra_vars=TLS_SECRET)) > 0
    https = helm_values(d)["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "secret"
    assert https["secret"]["name"] == "hub-example-org-tls"
    assert https["hosts"] == ["hub.example.org"]
    docs = rendered(d)
    autohttps = [x for x in docs if x["metadata"]["name"] == "autohttps"]
    assert autohttps == [], "no certificate manager for a given certificate"
    proxy = next(x for x in docs if x["kind"] == "Deployment" and x["metadata"]["name"] == "proxy")
    mounted = {
        v.get("secret", {}).get("secretName") for v in proxy["spec"]["template"]["spec"]["volumes"]
    }
    assert "hub-example-org-tls" in mounted


def test_auth_values_hold_no_secret(deployment: Deployment) -> None:
    secret = deployment.settings["mast_client_secret"]
    assert secret not in (deployment.build / "jupyterhub-values.yaml").read_text()
    secrets_file = deployment.build / "jupyterhub-secrets.yaml"
    assert secret in secrets_file.read_text()
    assert secrets_file.stat().st_mode & 0o077 == 0


def test_no_secret_in_a_very_verbose_run(back_to_mast: Deployment) -> None:
    d = back_to_mast
    for extra in (GITHUB, {}):
        auth = d.run("auth.yml", extra_vars=extra, verbosity=3)
        assert auth.returncode == 0
        assert d.settings["mast_client_secret"] not in auth.output
        assert GITHUB["github_client_secret"] not in auth.output
    deploy = d.run("deploy.yml", tags=["jupyterhub"], verbosity=3)
    assert deploy.returncode == 0, deploy.failures
    assert d.settings["mast_client_secret"] not in deploy.output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in deploy.output or "censored" in deploy.output
