"""jupyterhub-singleuser from each image environment starts under a real JupyterHub 5
(the chart's hub version), as a non-root user, and answers through the proxy."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from image_hub import GID, UID, USERNAME, running_hub
from image_support import IMAGE_NAMES, hub_jupyterhub_version

from astrohub import images
from astrohub.runner import LOOPBACK_ONLY

CRDS_SERVERS = {"jwst": "https://jwst-crds.stsci.edu", "hst": "https://hst-crds.stsci.edu"}


def proc_ids(pid: int) -> tuple[list[int], list[int]]:
    status = Path(f"/proc/{pid}/status").read_text()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
    return uids, gids


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_singleuser_runs_non_root_under_the_hub(
    name: str, image_env: Callable[[str], images.ImageEnv]
) -> None:
    env = image_env(name)
    pins = env.image.pins()
    hub_version = hub_jupyterhub_version()
    user_env = {
        # Everything but loopback goes to a dead proxy: the server must not need the network.
        **LOOPBACK_ONLY,
        "CRDS_PATH": "{home}/crds_cache",
        "CRDS_SERVER_URL": CRDS_SERVERS[name],
    }
    singleuser = env.bin("jupyterhub-singleuser")
    with running_hub(singleuser, user_env) as hub:
        info = hub.session.get(f"{hub.url}/hub/api", timeout=10).json()
        assert info["version"] == hub_version == "5.5.0"

        assert hub.api("POST", f"/users/{USERNAME}").status_code == 201
        spawn = hub.api("POST", f"/users/{USERNAME}/server")
        assert spawn.status_code in (201, 202), f"{spawn.text}\n{hub.log_tail()}"
        model = hub.wait_until_ready()
        assert model["servers"][""]["url"] == f"/user/{USERNAME}/"

        response = hub.api(
            "POST",
            f"/users/{USERNAME}/tokens",
            json={"scopes": [f"access:servers!user={USERNAME}"], "expires_in": 600},
        )
        assert response.status_code == 201, response.text
        headers = {"Authorization": f"token {response.json()['token']}"}

        # The user's server answers /api through the proxy, with the user's token.
        api = hub.session.get(f"{hub.url}/user/{USERNAME}/api", headers=headers, timeout=30)
        assert api.status_code == 200, api.text
        assert api.headers["Content-Type"].startswith("application/json")
        assert api.json()["version"] == pins["jupyter-server"]
        # ... and it is the lock's jupyterhub-singleuser: same major (and version) as the hub.
        singleuser_version = api.headers.get("X-JupyterHub-Version")
        assert singleuser_version == pins["jupyterhub"]
        assert singleuser_version.split(".")[0] == hub_version.split(".")[0]

        # Without a token the server refuses (redirects to the hub's login).
        anonymous = hub.session.get(
            f"{hub.url}/user/{USERNAME}/api/contents", timeout=30, allow_redirects=False
        )
        assert anonymous.status_code in (302, 403), anonymous.status_code

        # The server process is not root: real, effective, saved and fs uid are 1000.
        pid = hub.singleuser_pid()
        uids, gids = proc_ids(pid)
        assert uids == [UID] * 4, uids
        assert gids == [GID] * 4, gids
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert str(env.path).encode() in b" ".join(cmdline)

        # What it writes belongs to that user.
        created = hub.session.post(
            f"{hub.url}/user/{USERNAME}/api/contents",
            headers=headers,
            json={"type": "file", "ext": ".txt"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        stat = (hub.home / created.json()["path"]).stat()
        assert (stat.st_uid, stat.st_gid) == (UID, GID)
