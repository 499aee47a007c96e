"""Users' homes and the hub's state survive a cluster rebuild.

A user signs in to a local hub, writes a file in the home through their server and creates an
API token. Then the cluster is rebuilt as an operator rebuilds it (`teardown.yml -t kubernetes`,
then `deploy.yml`, against the emulator with the Kubernetes layer in plan mode), and a new hub
starts on the same homes and database claim (EFS's /home and /hub-db access points) in a fresh
state directory, where the chart's own generated secrets are new, as in a new cluster. The user,
the token and the file must all be there.

Found by this test: with the chart generating the CryptKeeper key, the rebuilt hub could not
decrypt the user's auth state and refused the token (403) until the user logged in again. The
deployment now keeps its cookie secret and CryptKeeper key (efs_home, Parameter Store).
"""

from __future__ import annotations

import shutil
import time

from hub_support import (
    MAST_SETTINGS,
    MAST_USER,
    NAMESPACE,
    OUT,
    RENDER_DIR,
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
from astrohub_local.localhub import LocalHub, free_port
from astrohub_local.oidc_provider import OIDCProvider
from astrohub_local.runner import run_playbook
from aws_state import snapshot

NOTE = "written before the rebuild\n"
FILE = "survives-the-rebuild.txt"


def test_homes_and_hub_state_survive_teardown_kubernetes_and_deploy(
    mast_render: Rendered, aws_emulator: Emulator, provider: OIDCProvider
) -> None:
    port = free_port()
    before = render_deployment(
        "rebuild-before", aws_emulator, provider, port, MAST_SETTINGS, tags=["jupyterhub"]
    )
    # The hub's database claim: EFS's /hub-db access point, which no teardown of the cluster
    # touches. Both hubs mount it, as both clusters would.
    hub_db = OUT / "rebuild-hub-db"
    shutil.rmtree(hub_db, ignore_errors=True)
    user = MAST_USER.email

    def hub_of(cluster: Rendered) -> LocalHub:
        """The hub a cluster's render runs: its own state, the homes and database on EFS."""
        return LocalHub(
            cluster.values_files,
            before.homes,
            port,
            namespace=NAMESPACE,
            state_dir=cluster.state_dir,
            hub_db=hub_db,
        )

    with hub_of(before) as hub:
        session, answer = sign_in(hub.url, user, MAST_USER.password)
        assert answer.status_code == 302, answer.text[:500]
        token = create_token(hub, session, user)
        created = hub_api(hub, token, "GET", "/user").json()["created"]
        server = start_server(hub, token, user)
        write_home_file(server, token, FILE, NOTE)
        old_secrets = hub.generated_secrets()
        old_config = hub.values["hub"]["config"]

    foundation = snapshot(aws_emulator.url, NAMESPACE)
    storage = (RENDER_DIR / "efs-home-storage.yaml").read_text()
    started = time.monotonic()
    teardown = run_playbook(
        "teardown.yml",
        aws_emulator.url,
        tags=["kubernetes"],
        env=hub_env(provider, port),
        extra_vars={"deployment_namespace": NAMESPACE, **MAST_SETTINGS},
    )
    assert teardown.returncode == 0, teardown.failures or teardown.output[-3000:]
    after = render_deployment("rebuild-after", aws_emulator, provider, port, MAST_SETTINGS, tags=[])
    TIMINGS["rebuild (teardown -t kubernetes, deploy)"] = time.monotonic() - started
    # The rebuild kept the home store: the same file system and access points, and the new
    # cluster's volumes name them.
    assert snapshot(aws_emulator.url, NAMESPACE) == foundation
    assert (RENDER_DIR / "efs-home-storage.yaml").read_text() == storage

    with hub_of(after) as rebuilt:
        # A new cluster's chart generates its secrets afresh, but the values set the kept ones.
        key = "hub.config.CryptKeeper.keys[0]"
        assert rebuilt.generated_secrets()[key] != old_secrets[key]
        config = rebuilt.values["hub"]["config"]
        assert config["CryptKeeper"] == old_config["CryptKeeper"]
        assert config["JupyterHub"]["cookie_secret"] == old_config["JupyterHub"]["cookie_secret"]
        # The token still works and names the same user, created before the rebuild.
        me = hub_api(rebuilt, token, "GET", "/user")
        assert me.status_code == 200, me.text[:500]
        assert (me.json()["name"], me.json()["created"]) == (user, created)
        session, answer = sign_in(rebuilt.url, user, MAST_USER.password)
        assert answer.status_code == 302, answer.text[:500]
        assert signed_in_as(session, rebuilt.url) == user
        server = start_server(rebuilt, token, user)
        assert read_home_file(server, token, FILE) == NOTE
