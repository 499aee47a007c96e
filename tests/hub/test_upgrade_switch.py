"""The upgrade's switch, with two local hubs standing in for the old and the new cluster's.

A user signs in to the old hub, writes a file in the home through their server and creates an
API token. `upgrade.yml` (the emulator, the Kubernetes layer in plan mode) builds the new
generation: its release is a standby whose hub never opens the live database. Then the switch
as the hub_switch role makes it: the users' servers stop (`servers.yml -t stop`, the real
playbook, against the old hub), the old hub stops, the new hub starts on the same homes and
database (EFS's /home and /hub-db) under the same address (the hub's name, moved), and the
operators' token lists at least as many users there. The login gap, from the old hub stopping
to the new one answering, is written to build/upgrade-switch.json for `make bench`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import boto3
import requests
import yaml
from hub_support import (
    MAST_SETTINGS,
    MAST_USER,
    NAMESPACE,
    OUT,
    RENDER_DIR,
    REPO,
    TIMINGS,
    Rendered,
    create_token,
    hub_api,
    hub_env,
    read_home_file,
    render_deployment,
    sign_in,
    signed_in_as,
    start_server,
    write_home_file,
)

from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub, deployed_values_files, free_port
from astrohub_local.oidc_provider import OIDCProvider
from astrohub_local.runner import run_playbook

NOTE = "written before the upgrade\n"
FILE = "survives-the-upgrade.txt"
REPORT = REPO / "build" / "upgrade-switch.json"


def _user_count(hub: LocalHub, operator_token: str) -> int:
    """What the hub_switch role compares: the users the operators' token sees."""
    answer = requests.get(
        f"{hub.url}/hub/api/users?limit=1",
        headers={
            "Authorization": f"token {operator_token}",
            "Accept": "application/jupyterhub-pagination+json",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    total: int = answer.json()["_pagination"]["total"]
    return total


def _without_db(values_files: list[Path]) -> list[Any]:
    layers = [yaml.safe_load(f.read_text()) or {} for f in values_files]
    for layer in layers:
        layer.get("hub", {}).pop("db", None)
    return layers


def test_the_switch_keeps_users_files_and_tokens_within_the_login_gap(
    mast_render: Rendered, aws_emulator: Emulator, provider: OIDCProvider
) -> None:
    port = free_port()
    env = hub_env(provider, port)
    settings = {"deployment_namespace": NAMESPACE, **MAST_SETTINGS}
    old = render_deployment(
        "upgrade-old", aws_emulator, provider, port, MAST_SETTINGS, ["jupyterhub"]
    )
    hub_db = OUT / "upgrade-hub-db"
    shutil.rmtree(hub_db, ignore_errors=True)
    operator = boto3.client(
        "ssm", endpoint_url=aws_emulator.url, region_name="us-east-1"
    ).get_parameter(Name=f"/astrohub/{NAMESPACE}/hub/operator-token", WithDecryption=True)[
        "Parameter"
    ]["Value"]
    user = MAST_USER.email

    def hub(state_dir: Path) -> LocalHub:
        """A cluster's hub: its own state, the homes and database on EFS, the hub's name."""
        return LocalHub(
            old.values_files,
            old.homes,
            port,
            namespace=NAMESPACE,
            state_dir=state_dir,
            hub_db=hub_db,
        )

    old_hub = hub(old.state_dir).start()
    try:
        session, answer = sign_in(old_hub.url, user, MAST_USER.password)
        assert answer.status_code == 302, answer.text[:500]
        token = create_token(old_hub, session, user)
        created = hub_api(old_hub, token, "GET", "/user").json()["created"]
        server = start_server(old_hub, token, user)
        write_home_file(server, token, FILE, NOTE)

        # The new generation, built while the old hub serves.
        upgrade = run_playbook("upgrade.yml", aws_emulator.url, env=env, extra_vars=settings)
        assert upgrade.returncode == 0, upgrade.failures or upgrade.output[-3000:]
        standby_files = deployed_values_files(RENDER_DIR / "upgrade")
        standby_state = OUT / "upgrade-standby"
        standby_state.mkdir(parents=True, exist_ok=True)
        standby = LocalHub(
            standby_files, old.homes, port, namespace=NAMESPACE, state_dir=standby_state
        ).render()
        [deployment] = [
            d for d in standby if d["kind"] == "Deployment" and d["metadata"]["name"] == "hub"
        ]
        volumes = {v["name"] for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
        assert "pvc" not in volumes, "the standby hub must not mount the database claim"
        # The switch gives the new release the live values: they differ only in the database.
        assert _without_db(standby_files) == _without_db(old.values_files)

        # The switch: the users' servers stop through the hub's API (the real playbook).
        stopped = run_playbook(
            "servers.yml", aws_emulator.url, tags=["stop"], env=env, extra_vars=settings
        )
        assert stopped.returncode == 0, stopped.failures or stopped.output[-3000:]
        assert hub_api(old_hub, token, "GET", "/user").json()["servers"] == {}
        users_before = _user_count(old_hub, operator)
    finally:
        gap_started = time.monotonic()
        old_hub.stop()
    new_hub = hub(OUT / "upgrade-new" / "localhub").start()  # returns once /hub/api answers
    gap = time.monotonic() - gap_started
    try:
        TIMINGS["upgrade login gap (old hub stops, new one answers)"] = gap
        REPORT.write_text(json.dumps({"login_gap_seconds": round(gap, 2)}) + "\n")
        assert _user_count(new_hub, operator) >= users_before
        me = hub_api(new_hub, token, "GET", "/user")
        assert me.status_code == 200, me.text[:500]
        assert (me.json()["name"], me.json()["created"], me.json()["servers"]) == (
            user,
            created,
            {},
        )
        session, answer = sign_in(new_hub.url, user, MAST_USER.password)
        assert answer.status_code == 302, answer.text[:500]
        assert signed_in_as(session, new_hub.url) == user
        server = start_server(new_hub, token, user)
        assert read_home_file(server, token, FILE) == NOTE
    finally:
        new_hub.stop()
