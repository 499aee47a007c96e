"""No secret in any log: the client secret, the codes and tokens the provider issued, the
hub's generated secrets, the deployment's kept ones (Parameter Store) and the passwords typed
in, searched for in every log the session wrote (each hub with its servers and proxy, the
provider, the playbook runs).

Runs after the browser and HTTP tests when the whole directory runs (refused logins included);
on its own it signs in on each hub first, so there is something to find."""

from __future__ import annotations

import boto3
import pytest
from hub_support import (
    ACCOUNTS,
    GH_OUTSIDER,
    GH_USER,
    MAST_OUTSIDER,
    MAST_USER,
    NAMESPACE,
    OUT,
    sign_in,
)

from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub
from astrohub_local.oidc_provider import OIDCProvider

LOGS = ["mast hub", "github hub", "provider", "mast render", "github render"]


class Evidence:
    """The logs and the secrets; its repr (in a failure report) shows neither."""

    def __init__(self, logs: dict[str, str], secrets: dict[str, str]) -> None:
        self.logs = logs
        self.secrets = secrets

    def __repr__(self) -> str:
        return f"<{len(self.logs)} logs, {len(self.secrets)} secrets (not shown)>"


@pytest.fixture(scope="module")
def evidence(
    request: pytest.FixtureRequest, provider: OIDCProvider, aws_emulator: Emulator
) -> Evidence:
    mast_hub: LocalHub = request.getfixturevalue("mast_hub")
    github_hub: LocalHub = request.getfixturevalue("github_hub")
    for hub, account, name in (
        (mast_hub, MAST_USER, MAST_USER.email),
        (mast_hub, MAST_OUTSIDER, MAST_OUTSIDER.email),
        (github_hub, GH_USER, GH_USER.login),
        (github_hub, GH_OUTSIDER, GH_OUTSIDER.login),
    ):
        sign_in(hub.url, name, account.password)
    logs = {
        "mast hub": mast_hub.log_path.read_text(errors="replace"),
        "github hub": github_hub.log_path.read_text(errors="replace"),
        "provider": (OUT / "oidc-provider.log").read_text(errors="replace"),
        "mast render": request.getfixturevalue("mast_render").output,
        "github render": request.getfixturevalue("github_render").output,
    }
    secrets = {f"issued #{i}": s for i, s in enumerate(provider.secrets_issued())}
    secrets |= {f"password of {a.email}": a.password for a in ACCOUNTS}
    for hub in (mast_hub, github_hub):
        for name, value in hub.generated_secrets().items():
            secrets[f"{hub.state_dir.parent.name} {name}"] = value
    ssm = boto3.client("ssm", endpoint_url=aws_emulator.url, region_name="us-east-1")
    path = f"/astrohub/{NAMESPACE}/hub"
    kept = ssm.get_parameters_by_path(Path=path, WithDecryption=True)["Parameters"]
    assert len(kept) == 3, "the deploy keeps the hub's cookie secret, crypt key, operator token"
    secrets |= {f"kept {p['Name']}": p["Value"] for p in kept}
    return Evidence(logs, secrets)


@pytest.mark.parametrize("log", LOGS)
def test_no_secret_in_the_log(log: str, evidence: Evidence) -> None:
    text = evidence.logs[log]
    assert len(text) > 1000, f"the {log} log is missing"
    assert len(evidence.secrets) > len(ACCOUNTS) + 8
    # Name the secrets found, never their values.
    found = sorted(name for name, secret in evidence.secrets.items() if secret in text)
    # An issued code in a hub log comes from tornado's warning line for a refused callback:
    # hub.extraConfig must scrub BaseHandler._request_summary (as JupyterHub's access log does).
    assert not found, f"secrets in the {log} log: {found}"


def test_the_logs_show_the_logins(evidence: Evidence) -> None:
    assert "User logged in: astronomer@example.org" in evidence.logs["mast hub"]
    assert "signed in octo@example.org (github)" in evidence.logs["provider"]
