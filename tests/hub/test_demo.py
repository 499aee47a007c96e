"""The end of ``make demo``: the provider starts, the playbook renders the values with the
local inventory's own settings, the hub starts from them and prints accounts that work."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest
import requests
from hub_support import NAMESPACE, REPO, Rendered, sign_in

from astrohub_local.emulator import Emulator
from astrohub_local.localhub import local_demo
from astrohub_local.runner import run_playbook
from layered_values import deployed_values


def test_make_demo_ends_with_a_local_hub(
    mast_render: Rendered, aws_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    def render(env: Mapping[str, str]) -> int:
        # As demo.py does, but only the jupyterhub layer: mast_render deployed the rest.
        result = run_playbook(
            "deploy.yml",
            aws_emulator.url,
            tags=["jupyterhub"],
            env={**os.environ, **env},
            extra_vars={"deployment_namespace": NAMESPACE},
        )
        return result.returncode

    with local_demo(render, REPO / "build" / NAMESPACE) as (hub, provider, accounts):
        printed = capsys.readouterr().out
        assert hub.url in printed
        assert provider.url in printed
        assert 'Sign in with MAST"' in printed
        login = requests.get(f"{hub.url}/hub/login", timeout=30)
        assert "Sign in with MAST" in login.text
        admin, user = accounts
        assert f"{admin.email}  password {admin.password}" in printed
        session, answer = sign_in(hub.url, admin.email, admin.password)
        assert answer.status_code == 302
        assert session.get(f"{hub.url}/hub/admin", timeout=30).status_code == 200
        _, answer = sign_in(hub.url, user.email, user.password)
        assert answer.status_code == 302
    assert hub.process is None
    # The demo keeps no user node warm (jupyterhub_user_placeholders: 0 in the local inventory).
    values = deployed_values(REPO / "build" / NAMESPACE)
    assert values["scheduling"]["userPlaceholder"] == {"enabled": False, "replicas": 0}
