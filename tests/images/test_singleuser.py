"""jupyterhub-singleuser from each image environment starts under the platform's local hub
(src/astrohub_local/localhub.py: JupyterHub 5.5.0, the chart's hub version, behind the real
configurable-http-proxy, configured from chart values as the hub pod is) as a non-root user,
and answers through the proxy.

Nobody logs in (the "null" authenticator): a hub service with an admin token, declared in the
values as an operator would, creates the user, starts the server and issues the user a token.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from image_support import IMAGE_NAMES, hub_jupyterhub_version

from astrohub import images
from astrohub.unprivileged import GID, UID, scratch_dir
from astrohub_local.localhub import LocalHub, LocalHubError, free_port
from astrohub_local.runner import LOOPBACK_ONLY

CRDS_SERVERS = {"jwst": "https://jwst-crds.stsci.edu", "hst": "https://hst-crds.stsci.edu"}
USERNAME = "astro"
SERVICE = "astrohub-image-test"
SPAWN_DEADLINE = 180.0


def proc_ids(pid: int) -> tuple[list[int], list[int]]:
    status = Path(f"/proc/{pid}/status").read_text()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
    return uids, gids


class HubAPI:
    """The hub's REST API with the test service's admin token."""

    def __init__(self, hub: LocalHub, token: str) -> None:
        self.hub = hub
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.hub.url}/hub/api{path}", timeout=30, **kwargs)

    def wait_until_ready(self) -> dict[str, Any]:
        """Bounded polling of the user model until the default server is ready."""
        deadline = time.monotonic() + SPAWN_DEADLINE
        while True:
            model: dict[str, Any] = self("GET", f"/users/{USERNAME}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return model
            if not model.get("pending") and not server:
                pytest.fail(f"the server did not start:\n{self.hub.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in {SPAWN_DEADLINE} s:\n{self.hub.log_tail()}")
            time.sleep(0.2)


@pytest.fixture
def hub_dir() -> Iterator[Path]:
    """Homes and hub state in the runtime directory, which uid 1000 can reach (the checkout
    and pytest's tmp may not be)."""
    base = scratch_dir("image-hub-")
    yield base
    # Cleanup only: the hub has stopped; a file a late-exiting server leaves must not turn a
    # finished test into an error (the scratch directory is thrown away either way).
    shutil.rmtree(base, ignore_errors=True)


def hub_values(base: Path, name: str, token: str) -> tuple[Path, Path]:
    """Chart values for the local hub: an admin service, no login, the image's environment."""
    home = base / "homes" / USERNAME
    values = {
        "hub": {
            "config": {"JupyterHub": {"authenticator_class": "null"}},
            "services": {SERVICE: {"apiToken": token}},
            "loadRoles": {
                SERVICE: {
                    "scopes": ["admin:users", "admin:servers", "tokens", "read:users"],
                    "services": [SERVICE],
                }
            },
        },
        "cull": {"enabled": False},
        "singleuser": {
            "extraEnv": {
                # Everything but loopback goes to a dead proxy: the server must not need it.
                **LOOPBACK_ONLY,
                "CRDS_PATH": str(home / "crds_cache"),
                "CRDS_SERVER_URL": CRDS_SERVERS[name],
            }
        },
    }
    values_file, secrets_file = base / "values.yaml", base / "secrets.yaml"
    values_file.write_text(yaml.safe_dump(values))
    secrets_file.write_text("{}\n")
    return values_file, secrets_file


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_singleuser_runs_non_root_under_the_local_hub(
    name: str, image_env: Callable[[str], images.ImageEnv], hub_dir: Path
) -> None:
    env = image_env(name)
    pins = env.image.pins()
    hub_version = hub_jupyterhub_version()
    token = secrets.token_hex(32)
    values_file, secrets_file = hub_values(hub_dir, name, token)
    hub = LocalHub(
        [values_file, secrets_file],
        hub_dir / "homes",
        free_port(),
        state_dir=hub_dir / "hub",
        singleuser=env.bin("jupyterhub-singleuser"),
    )
    try:
        hub.start()
    except LocalHubError as error:
        pytest.fail(str(error))
    api = HubAPI(hub, token)
    try:
        assert api("GET", "").json()["version"] == hub_version == "5.5.0"
        assert api("POST", f"/users/{USERNAME}").status_code == 201
        spawn = api("POST", f"/users/{USERNAME}/server")
        assert spawn.status_code in (201, 202), f"{spawn.text}\n{hub.log_tail()}"
        model = api.wait_until_ready()
        assert model["servers"][""]["url"] == f"/user/{USERNAME}/"

        response = api(
            "POST",
            f"/users/{USERNAME}/tokens",
            json={"scopes": [f"access:servers!user={USERNAME}"], "expires_in": 600},
        )
        assert response.status_code == 201, response.text
        user = requests.Session()
        user.headers["Authorization"] = f"token {response.json()['token']}"

        # The user's server answers /api through the proxy, with the user's token.
        server_api = user.get(f"{hub.url}/user/{USERNAME}/api", timeout=30)
        assert server_api.status_code == 200, server_api.text
        assert server_api.headers["Content-Type"].startswith("application/json")
        assert server_api.json()["version"] == pins["jupyter-server"]
        # ... and it is the lock's jupyterhub-singleuser: same major (and version) as the hub.
        singleuser_version = server_api.headers.get("X-JupyterHub-Version")
        assert singleuser_version == pins["jupyterhub"]
        assert singleuser_version.split(".")[0] == hub_version.split(".")[0]

        # Without a token the server refuses (redirects to the hub's login).
        anonymous = requests.get(
            f"{hub.url}/user/{USERNAME}/api/contents", timeout=30, allow_redirects=False
        )
        assert anonymous.status_code in (302, 403), anonymous.status_code

        # The server process is not root: real, effective, saved and fs uid are 1000.
        (pid,) = hub.singleuser_pids()
        uids, gids = proc_ids(pid)
        assert uids == [UID] * 4, uids
        assert gids == [GID] * 4, gids
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert str(env.path).encode() in b" ".join(cmdline)

        # What it writes belongs to that user.
        created = user.post(
            f"{hub.url}/user/{USERNAME}/api/contents",
            json={"type": "file", "ext": ".txt"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        stat = (hub_dir / "homes" / USERNAME / created.json()["path"]).stat()
        assert (stat.st_uid, stat.st_gid) == (UID, GID)
    finally:
        api.session.close()
        hub.stop()
