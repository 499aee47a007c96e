"""A minimal, real JupyterHub for the singleuser test of the image environments.

JupyterHub 5.5.0 from the project venv (the chart's hub version) behind the real
configurable-http-proxy 5.2.0 (the chart's proxy version, from npm: `npm ci`), all on
127.0.0.1 with free ports. Nobody can log in (NullAuthenticator): a service with an
admin token creates the user, starts the server and issues the user a token. The
spawner starts the image environment's ``jupyterhub-singleuser`` as an unprivileged
user (uid 1000, gid 100, like jovyan) through ``setpriv``, in a home owned by that
user. Everything is stopped by process id when the context ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from astrohub.localhub import LocalHubError, let_user_traverse, stop_pid

REPO_ROOT = Path(__file__).resolve().parents[2]
CHP = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"
SERVICE = "astrohub-image-test"
USERNAME = "astro"
UID, GID = 1000, 100
START_DEADLINE = 90.0
SPAWN_DEADLINE = 180.0
POLL = 0.2

CONFIG = """\
import json
from pathlib import Path

settings = json.loads(Path({settings_path!r}).read_text())
c = get_config()  # noqa: F821

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["proxy_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{{settings['proxy_api_port']}}"
c.ConfigurableHTTPProxy.command = [settings["chp"]]
c.ConfigurableHTTPProxy.auth_token = settings["proxy_token"]
c.JupyterHub.db_url = "sqlite:///" + settings["hub_dir"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = settings["hub_dir"] + "/jupyterhub_cookie_secret"

# Nobody logs in; the test's service manages the user through the REST API.
c.JupyterHub.authenticator_class = "null"
c.JupyterHub.services = [{{"name": settings["service"], "api_token": settings["service_token"]}}]
c.JupyterHub.load_roles = [
    {{
        "name": settings["service"],
        "scopes": ["admin:users", "admin:servers", "tokens", "read:users"],
        "services": [settings["service"]],
    }}
]

# The image environment's jupyterhub-singleuser, as uid 1000 / gid 100 (not root).
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = settings["home"]
c.Spawner.cmd = [
    "setpriv", f"--reuid={{settings['uid']}}", f"--regid={{settings['gid']}}",
    "--clear-groups", "--no-new-privs", settings["singleuser"],
]
c.Spawner.notebook_dir = settings["home"]
c.Spawner.environment = settings["user_env"]
c.Spawner.start_timeout = 150
c.Spawner.http_timeout = 150
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Hub:
    base: Path
    proxy_port: int
    service_token: str
    home: Path
    runtime_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.service_token}"}
        return self.session.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no hub log)"

    def wait_until_ready(self) -> dict[str, Any]:
        """Bounded polling of the user model until the default server is ready."""
        deadline = time.monotonic() + SPAWN_DEADLINE
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the hub exited ({self.process.returncode}):\n{self.log_tail()}")
            model: dict[str, Any] = self.api("GET", f"/users/{USERNAME}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return model
            if not model.get("pending") and not server:
                pytest.fail(f"the server did not start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready in {SPAWN_DEADLINE} s:\n{self.log_tail()}")
            time.sleep(POLL)

    def singleuser_pid(self) -> int:
        """The server's pid, from the runtime file jupyter-server writes for itself."""
        files = sorted(self.runtime_dir.glob("jpserver-*.json"))
        if len(files) != 1:
            pytest.fail(f"expected one jpserver-*.json in {self.runtime_dir}, found {files}")
        pid: int = json.loads(files[0].read_text())["pid"]
        return pid


@contextlib.contextmanager
def running_hub(singleuser: Path, user_env: dict[str, str]) -> Iterator[Hub]:
    """Start the hub; stop the user's server, the hub and the proxy afterwards.

    ``user_env`` is the single-user server's environment; ``{home}`` in a value is
    replaced by the user's home directory."""
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: run `npm ci` in {REPO_ROOT} (package-lock.json)")
    if not JUPYTERHUB.exists():
        pytest.fail(f"{JUPYTERHUB} is missing: install the project (make setup)")
    if os.geteuid() != 0:
        pytest.fail("the singleuser test switches to uid 1000 with setpriv and needs root")
    try:
        # The environment is cached under build/, which a fresh clone creates 0750.
        let_user_traverse(singleuser.parent, UID)
    except LocalHubError as error:
        pytest.fail(str(error))

    # Under /tmp, traversable by uid 1000 (pytest's own tmp directory is root-only).
    base = Path(tempfile.mkdtemp(prefix="astrohub-hub-", dir="/tmp"))
    base.chmod(0o755)
    hub_dir = base / "hub"
    hub_dir.mkdir(mode=0o700)
    home = base / "home" / USERNAME
    home.mkdir(parents=True)
    os.chown(home, UID, GID)
    home.chmod(0o700)
    runtime_dir = home / ".runtime"

    settings = {
        "proxy_port": free_port(),
        "hub_port": free_port(),
        "proxy_api_port": free_port(),
        "chp": str(CHP),
        "proxy_token": secrets.token_hex(32),
        "service": SERVICE,
        "service_token": secrets.token_hex(32),
        "hub_dir": str(hub_dir),
        "home": str(home),
        "uid": UID,
        "gid": GID,
        "singleuser": str(singleuser),
        "user_env": {
            **{key: value.format(home=home) for key, value in user_env.items()},
            "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        },
    }
    settings_path = hub_dir / "settings.json"
    settings_path.write_text(json.dumps(settings))
    config_path = hub_dir / "jupyterhub_config.py"
    config_path.write_text(CONFIG.format(settings_path=str(settings_path)))
    log_path = hub_dir / "jupyterhub.log"

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(config_path)],
            cwd=hub_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(
        base=base,
        proxy_port=settings["proxy_port"],
        service_token=settings["service_token"],
        home=home,
        runtime_dir=runtime_dir,
        log_path=log_path,
        process=process,
    )
    singleuser_pid: int | None = None
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if process.poll() is not None:
                pytest.fail(f"the hub exited ({process.returncode}):\n{hub.log_tail()}")
            with contextlib.suppress(requests.ConnectionError):
                if hub.session.get(f"{hub.url}/hub/api", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the hub did not answer in {START_DEADLINE} s:\n{hub.log_tail()}")
            time.sleep(POLL)
        yield hub
        with contextlib.suppress(Exception):
            singleuser_pid = hub.singleuser_pid()
        with contextlib.suppress(requests.RequestException):
            hub.api("DELETE", f"/users/{USERNAME}/server")
    finally:
        if singleuser_pid is None:
            with contextlib.suppress(Exception):
                singleuser_pid = hub.singleuser_pid()
        proxy_pid_file = hub_dir / "jupyterhub-proxy.pid"
        proxy_pid = int(proxy_pid_file.read_text()) if proxy_pid_file.is_file() else None
        # The hub stops the servers and the proxy it started when it shuts down.
        stop_pid(process.pid, "jupyterhub", deadline=30)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if singleuser_pid is not None:
            stop_pid(singleuser_pid, "jupyterhub-singleuser")
        if proxy_pid is not None:
            stop_pid(proxy_pid, "configurable-http-proxy")
        hub.session.close()
        shutil.rmtree(base, ignore_errors=True)
