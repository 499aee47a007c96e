"""A real JupyterHub on 127.0.0.1 with the configuration the chart would give the hub pod.

``make demo`` and the tests run it from the values the jupyterhub role rendered
(``build/<namespace>/jupyterhub-values.yaml`` and ``jupyterhub-secrets.yaml``, merged over the
chart's own values.yaml as Helm does). It applies them the way z2jh 4.4.0's
jupyterhub_config.py does: hub.config passed through, hub.extraFiles written out (imports
from their pod directories, once on sys.path, load the local copies), hub.extraConfig run in
sorted key order, cull.* as the jupyterhub-idle-culler service, hub.services and
hub.loadRoles, singleuser.defaultUrl, singleuser.extraEnv and singleuser.profileList. The
chart-generated secrets (cookie secret, CryptKeeper keys, proxy token) are generated once and
kept, 0600, in the state directory.

Only what the cluster provides differs: configurable-http-proxy from node_modules on loopback,
and instead of KubeSpawner local processes whose homes are ``<homes>/<escaped user>``. The
single-user server runs as uid 1000 / gid 100 (like jovyan) through ``setpriv`` when we are
root; each profile of the spawn page runs the same local environment.

    python -m astrohub.localhub --values V --secrets S --homes H --port N [--ip 127.0.0.1]

The hub process imports this module for :func:`configure` and :class:`LocalProfileSpawner`.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.machinery
import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import url_path_join
from tornado.escape import xhtml_escape
from traitlets import Integer, List, Unicode, default

REPO = Path(__file__).resolve().parents[2]
CHART_VERSION = "4.4.0"
CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
# Where the single-user servers' environment (JupyterLab) is looked for. The venv made for the
# local hub comes first: it is built on Debian's /usr/bin/python3, which uid 1000 can run (the
# project venv's interpreter may live under root's home, which uid 1000 cannot read).
SINGLEUSER_VENVS = (REPO / "build" / "localhub-venv", Path(sys.executable).parent.parent)
UID, GID = 1000, 100
START_DEADLINE = 90.0
POLL = 0.2
# Variables the single-user servers inherit: tests and the demo keep all traffic on loopback.
PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy")
# What z2jh's jupyterhub_config.py reads from hub.* into c.JupyterHub.
HUB_TRAITS = (
    "concurrent_spawn_limit",
    "active_server_limit",
    "base_url",
    "allow_named_servers",
    "named_server_limit_per_user",
    "authenticate_prometheus",
    "redirect_to_server",
    "shutdown_on_logout",
    "template_paths",
    "template_vars",
)
_SAFE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")
# The hub pod's configuration directory (where z2jh mounts its files and config).
POD_CONFIG_DIR = "/usr/local/etc/jupyterhub"


class LocalHubError(Exception):
    """The local hub could not be configured or started."""


def camel_case(name: str) -> str:
    """snake_case to camelCase, as z2jh names values after traits."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def escape_username(name: str) -> str:
    """KubeSpawner's {escaped_username}: [a-z0-9] kept, other bytes as -XX, lower-cased."""
    return "".join(
        ch if ch in _SAFE_CHARS else "".join(f"-{b:02x}" for b in ch.encode()) for ch in name
    )


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values files: maps merge, anything else replaces, null deletes."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def find_chart(explicit: Path | None = None) -> Path:
    """The z2jh chart (a directory or .tgz) whose values.yaml holds the defaults."""
    candidates = [explicit] if explicit else []
    if not explicit:
        name = f"charts/jupyterhub-{CHART_VERSION}"
        if os.environ.get("ASTROHUB_FIXTURES"):
            candidates.append(Path(os.environ["ASTROHUB_FIXTURES"]) / name)
        candidates += [
            REPO / "build" / "cache" / f"jupyterhub-{CHART_VERSION}.tgz",
            REPO.parent / "shared" / "fixtures" / name,
        ]
    for candidate in candidates:
        if candidate is not None and candidate.exists():
            return candidate
    raise LocalHubError(
        f"the jupyterhub {CHART_VERSION} chart was not found (tried "
        f"{', '.join(str(c) for c in candidates)}); the deploy downloads it to build/cache/, "
        "or give --chart"
    )


def chart_defaults(chart: Path) -> dict[str, Any]:
    if chart.is_dir():
        text = (chart / "values.yaml").read_text()
    else:
        with tarfile.open(chart) as tar:
            member = tar.extractfile("jupyterhub/values.yaml")
            if member is None:
                raise LocalHubError(f"{chart} has no jupyterhub/values.yaml")
            text = member.read().decode()
    data: dict[str, Any] = yaml.safe_load(text) or {}
    return data


def load_values(values: Path, secrets_file: Path, chart: Path | None = None) -> dict[str, Any]:
    """The values the hub pod would see: chart defaults, then values, then secrets."""
    merged = chart_defaults(find_chart(chart))
    for path in (values, secrets_file):
        try:
            layer = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise LocalHubError(f"cannot read {path}: {exc.strerror}") from exc
        merged = merge_values(merged, layer)
    return merged


def dotted(values: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """z2jh's get_config: values["a"]["b"]["c"] for "a.b.c", or default."""
    value: Any = values
    for level in key.split("."):
        if not isinstance(value, Mapping) or level not in value:
            return default
        value = value[level]
    return value


def authenticator_settings(values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The authenticator class named in hub.config and its hub.config section."""
    config = dotted(values, "hub.config", {}) or {}
    name = str(dotted(config, "JupyterHub.authenticator_class", "") or "")
    section = {"github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}.get(
        name, name.rpartition(".")[2]
    )
    return section, dict(config.get(section) or {})


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def run_as_prefix(uid: int = UID, gid: int = GID) -> list[str]:
    """How the hub starts the single-user server: as uid/gid when we are root, else as us."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"]


def let_user_traverse(target: Path, uid: int = UID) -> None:
    """Let ``uid`` reach ``target``: a fresh clone's build/ is 0750 (Ansible creates it with
    build/<namespace>). Add o+x (traverse, not list) to the directories under build/ on the
    way; refuse, naming the directory, to touch anything above build/."""
    build = (REPO / "build").resolve()
    target = target.resolve()
    for parent in [target, *target.parents]:
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH:
            continue
        if parent != build and build not in parent.parents:
            raise LocalHubError(f"uid {uid} cannot reach {target}: {parent} is not traversable")
        parent.chmod(mode | stat.S_IXOTH)


def _runs(python: Path, code: str, as_user: bool = False) -> bool:
    if not python.exists():
        return False
    cmd = [*(run_as_prefix() if as_user else []), str(python), "-c", code]
    probe = subprocess.run(cmd, capture_output=True, check=False, timeout=120, cwd="/")
    return probe.returncode == 0


# The kernel is a child of the server: the user must be able to start the interpreter again
# (a venv whose base interpreter it cannot read starts once, on the wrong stdlib, then fails).
_SINGLEUSER_PROBE = (
    "import subprocess, sys, jupyterlab, ipykernel; "
    "subprocess.run([sys.executable, '-c', 'import ipykernel'], check=True)"
)


def find_singleuser() -> Path:
    """jupyterhub-singleuser of the first venv with JupyterLab that the server's user can run."""
    for venv in SINGLEUSER_VENVS:
        if _runs(venv / "bin" / "python", _SINGLEUSER_PROBE, as_user=True):
            return venv / "bin" / "jupyterhub-singleuser"
    raise LocalHubError(
        "no single-user environment with JupyterLab that uid 1000 can run: create "
        f"{SINGLEUSER_VENVS[0]} on /usr/bin/python3 with jupyterhub==5.5.0 and "
        "jupyterlab==4.6.6 (make localhub-venv)"
    )


def _process_matches(pid: int, needle: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return needle in cmdline


def stop_pid(pid: int, needle: str, deadline: float = 15.0) -> None:
    """SIGTERM, then SIGKILL, one process we started, recognised by its command line."""
    if not _process_matches(pid, needle):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + deadline
    while time.monotonic() < end and _process_matches(pid, needle):
        time.sleep(POLL)
    if _process_matches(pid, needle):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _keep_secret(path: Path, make: Callable[[], str]) -> str:
    """A chart-generated secret: made once, then reused (like the chart's Secret lookup)."""
    if path.is_file():
        return path.read_text().strip()
    value = make()
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


class LocalHub:
    """The hub and its proxy as child processes; see the module docstring.

    >>> hub = LocalHub(values, secrets, homes, port).start()  # doctest: +SKIP
    >>> hub.url, hub.log_path                                  # doctest: +SKIP
    >>> hub.stop()                                             # doctest: +SKIP
    """

    def __init__(
        self,
        values: Path,
        secrets_file: Path,
        homes: Path,
        port: int,
        *,
        ip: str = "127.0.0.1",
        chart: Path | None = None,
        state_dir: Path | None = None,
        proxy_cmd: Path | None = None,
        singleuser: Path | None = None,
        culler_python: Path | None = None,
    ) -> None:
        self.values_file = Path(values)
        self.secrets_file = Path(secrets_file)
        self.homes = Path(homes).resolve()
        self.port = port
        self.ip = ip
        self.chart = chart
        self.state_dir = Path(state_dir or self.homes.parent / "localhub").resolve()
        self.proxy_cmd = Path(proxy_cmd) if proxy_cmd else CHP
        self.singleuser = singleuser
        self.culler_python = culler_python
        self.log_path = self.state_dir / "jupyterhub.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.values: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no hub log)"

    def _check_callback(self) -> None:
        """The provider sends users back to oauth_callback_url: it must be this hub."""
        _, section = authenticator_settings(self.values)
        callback = section.get("oauth_callback_url")
        if not callback:
            return
        parts = urlsplit(callback)
        if (parts.hostname, parts.port) != (self.ip, self.port):
            raise LocalHubError(
                f"the rendered oauth_callback_url ({callback}) does not point at this hub "
                f"({self.url}); render the values with ASTROHUB_LOCAL_HUB_HOST={self.ip}:"
                f"{self.port}"
            )

    def _culler_python(self) -> str | None:
        candidates = [self.culler_python] if self.culler_python else []
        candidates += [Path(sys.executable)] + [v / "bin" / "python" for v in SINGLEUSER_VENVS]
        for python in candidates:
            if python is not None and _runs(python, "import jupyterhub_idle_culler"):
                return str(python)
        return None

    def _let_users_reach_homes(self) -> None:
        let_user_traverse(self.homes.parent)

    def prepare(self) -> Path:
        """Check the inputs, write the settings and jupyterhub_config.py; the config's path."""
        if not self.proxy_cmd.exists():
            raise LocalHubError(f"{self.proxy_cmd} is missing: run `npm ci` in {REPO}")
        singleuser = self.singleuser or find_singleuser()
        if os.geteuid() == 0:
            # Cached environments live under build/, which a fresh clone creates 0750.
            let_user_traverse(singleuser.parent)
        self.values = load_values(self.values_file, self.secrets_file, self.chart)
        self._check_callback()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        self.homes.mkdir(parents=True, exist_ok=True)
        self.homes.chmod(0o755)
        if os.geteuid() == 0:
            self._let_users_reach_homes()
        generated = self.state_dir / "generated"
        generated.mkdir(mode=0o700, exist_ok=True)
        settings = {
            "values": self.values,
            "ip": self.ip,
            "port": self.port,
            "hub_port": free_port(self.ip),
            "proxy_api_port": free_port(self.ip),
            "proxy_cmd": str(self.proxy_cmd),
            "state_dir": str(self.state_dir),
            "homes": str(self.homes),
            "singleuser": str(singleuser),
            "culler_python": self._culler_python(),
            "run_as": [UID, GID] if os.geteuid() == 0 else None,
            "generated": {
                name: _keep_secret(generated / name, lambda: secrets.token_hex(32))
                for name in ("cookie_secret", "crypt_keys", "proxy_token")
            },
        }
        # The settings carry the client secret: readable by root only, like the chart's Secret.
        settings_path = self.state_dir / "settings.json"
        settings_path.touch(mode=0o600)
        settings_path.write_text(json.dumps(settings, indent=1))
        config_path = self.state_dir / "jupyterhub_config.py"
        config_path.write_text(
            "# Written by astrohub.localhub: the chart's hub configuration, applied locally.\n"
            "from astrohub.localhub import configure\n\n"
            f"configure(get_config(), {str(settings_path)!r})  # noqa: F821\n"
        )
        return config_path

    def start(self, deadline: float = START_DEADLINE) -> LocalHub:
        config_path = self.prepare()
        jupyterhub = Path(sys.executable).with_name("jupyterhub")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(jupyterhub), "-f", str(config_path)],
                cwd=self.state_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        end = time.monotonic() + deadline
        with requests.Session() as session:
            while True:
                if self.process.poll() is not None:
                    raise LocalHubError(
                        f"the hub exited ({self.process.returncode}):\n{self.log_tail()}"
                    )
                with contextlib.suppress(requests.RequestException):
                    if session.get(f"{self.url}/hub/api", timeout=5).status_code == 200:
                        return self
                if time.monotonic() > end:
                    self.stop()
                    raise LocalHubError(f"the hub did not answer in {deadline} s")
                time.sleep(POLL)

    def singleuser_pids(self) -> list[int]:
        """Pids of the single-user servers, from the runtime files jupyter-server writes."""
        pids = []
        pattern = str(self.homes / "*" / ".local/share/jupyter/runtime/jpserver-*.json")
        for path in glob.glob(pattern):
            with contextlib.suppress(OSError, ValueError, KeyError):
                pids.append(int(json.loads(Path(path).read_text())["pid"]))
        return pids

    def stop(self) -> None:
        """Stop the hub (which stops its servers and proxy), then anything left over."""
        leftovers = self.singleuser_pids()
        proxy_pid_file = self.state_dir / "jupyterhub-proxy.pid"
        with contextlib.suppress(OSError, ValueError):
            leftovers.append(int(proxy_pid_file.read_text().strip()))
        if self.process is not None:
            stop_pid(self.process.pid, "jupyterhub", deadline=30)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None
        for pid in leftovers:
            stop_pid(pid, "jupyterhub-singleuser")
            stop_pid(pid, "configurable-http-proxy")

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Inside the hub process


def _profile_slug(profile: Mapping[str, Any], index: int) -> str:
    name = str(profile.get("display_name", "")).lower()
    slug = profile.get("slug") or re.sub(r"[^a-z0-9]+", "-", name)
    return str(slug).strip("-") or f"profile-{index}"


class LocalProfileSpawner(SimpleLocalProcessSpawner):
    """The local stand-in for KubeSpawner: a process as uid 1000 in ``<homes>/<escaped>``.

    The spawn page lists singleuser.profileList as KubeSpawner does; every profile runs the
    same local environment (the chosen slug is in ASTROHUB_PROFILE)."""

    profile_list = List(config=True, help="singleuser.profileList")
    homes = Unicode(config=True, help="directory of the users' homes")
    run_as_uid = Integer(-1, config=True, help="uid of the server process (-1: the hub's)")
    run_as_gid = Integer(-1, config=True, help="gid of the server process")

    @default("home_dir")
    def _home_dir_default(self) -> str:
        return os.path.join(self.homes, escape_username(self.user.name))

    def get_env(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_env()
        env.update({name: os.environ[name] for name in PROXY_ENV if name in os.environ})
        return env

    @default("options_form")
    def _options_form_default(self) -> Any:
        return self._render_profiles if len(self.profile_list) > 1 else ""

    @default("options_from_form")
    def _options_from_form_default(self) -> Any:
        return self._simple_options_from_form

    def profiles(self) -> list[tuple[str, Mapping[str, Any]]]:
        return [(_profile_slug(p, i), p) for i, p in enumerate(self.profile_list)]

    def _render_profiles(self, spawner: Any) -> str:
        profiles = self.profiles()
        chosen = next((slug for slug, p in profiles if p.get("default")), profiles[0][0])
        items = []
        for slug, profile in profiles:
            checked = " checked" if slug == chosen else ""
            items.append(
                f'<label class="astrohub-profile" style="display:block;margin:.6em 0">'
                f'<input type="radio" name="profile" value="{xhtml_escape(slug)}"{checked}> '
                f"<strong>{xhtml_escape(str(profile.get('display_name', slug)))}</strong><br>"
                f"<small>{xhtml_escape(str(profile.get('description', '')))}</small></label>"
            )
        note = (
            "<p><em>Local hub: every profile runs the same local environment; on the "
            "cluster each runs its own image.</em></p>"
        )
        return note + "\n".join(items)

    def _chosen_profile(self) -> str:
        profiles = self.profiles()
        if not profiles:
            return ""
        wanted = (self.user_options or {}).get("profile")
        if wanted:
            if wanted not in {slug for slug, _ in profiles}:
                raise ValueError(f"unknown profile {wanted!r}")
            return str(wanted)
        return next((slug for slug, p in profiles if p.get("default")), profiles[0][0])

    def _prepare_home(self) -> None:
        home = Path(self.home_dir)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.run_as_uid >= 0 and os.geteuid() == 0:
            os.chown(home, self.run_as_uid, self.run_as_gid)
        home.chmod(0o700)

    async def start(self) -> Any:
        profile = self._chosen_profile()
        if profile:
            self.environment = {**self.environment, "ASTROHUB_PROFILE": profile}
            self.log.info("%s: profile %s (runs the local environment)", self.user.name, profile)
        self._prepare_home()
        return await super().start()


def _z2jh_module(values: Mapping[str, Any], secret_values: Mapping[str, str]) -> types.ModuleType:
    """A z2jh module for extraConfig snippets that import it, reading the local values."""
    module = types.ModuleType("z2jh")

    def get_config(key: str, default: Any = None) -> Any:
        return dotted(values, key, default)

    def get_secret_value(key: str, default: Any = "never-explicitly-set") -> Any:
        if key in secret_values:
            return secret_values[key]
        if default != "never-explicitly-set":
            return default
        raise Exception(f"{key} not found in either k8s Secret!")  # as z2jh does

    def set_config_if_not_none(cparent: Any, name: str, key: str) -> None:
        data = get_config(key)
        if data is not None:
            setattr(cparent, name, data)

    def get_name(name: str) -> str:
        return f"localhub-{name}"

    module.__dict__.update(
        get_config=get_config,
        get_secret_value=get_secret_value,
        set_config_if_not_none=set_config_if_not_none,
        get_name=get_name,
    )
    return module


def _log(message: str) -> None:
    # Names only, never values: these lines end up in the hub's log.
    print(f"astrohub.localhub: {message}", file=sys.stderr, flush=True)


def configure(c: Any, settings_path: str) -> None:
    """Apply the chart's configuration to ``c`` as z2jh 4.4.0 does, then the local overrides.

    Called by the jupyterhub_config.py LocalHub writes; runs inside the hub process."""
    settings = json.loads(Path(settings_path).read_text())
    values: dict[str, Any] = settings["values"]
    generated: dict[str, str] = settings["generated"]
    state_dir = Path(settings["state_dir"])
    ip, hub_port = settings["ip"], settings["hub_port"]

    def get(key: str, default: Any = None) -> Any:
        return dotted(values, key, default)

    def set_if(cparent: Any, name: str, key: str) -> None:
        data = get(key)
        if data is not None:
            setattr(cparent, name, data)

    # -- as z2jh's jupyterhub_config.py, in its order, with local stand-ins for Kubernetes --
    c.JupyterHub.spawner_class = LocalProfileSpawner
    c.JupyterHub.last_activity_interval = 60
    c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
    db_type = get("hub.db.type")
    c.JupyterHub.db_url = (
        "sqlite://"
        if db_type == "sqlite-memory"
        else (f"sqlite:///{state_dir / 'jupyterhub.sqlite'}")
    )
    for trait in HUB_TRAITS:
        set_if(c.JupyterHub, trait, "hub." + camel_case(trait))
    set_if(c.Spawner, "consecutive_failure_limit", "hub.consecutiveFailureLimit")
    set_if(c.Spawner, "start_timeout", "singleuser.startTimeout")
    extra_env = get("singleuser.extraEnv") or {}
    # Only plain values: valueFrom references name Kubernetes objects.
    c.Spawner.environment = {k: v for k, v in extra_env.items() if isinstance(v, str)}
    c.LocalProfileSpawner.profile_list = get("singleuser.profileList") or []

    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    if get("cull.enabled", False):
        _configure_culler(c, values, settings)
    secret_values: dict[str, str] = {}
    for key, service in (get("hub.services") or {}).items():
        service = dict(service)
        service.setdefault("name", key)
        token = service.pop("apiToken", None) or secrets.token_hex(32)
        secret_values[f"hub.services.{key}.apiToken"] = service["api_token"] = token
        c.JupyterHub.services.append(service)
    for key, role in (get("hub.loadRoles") or {}).items():
        c.JupyterHub.load_roles.append({"name": key, **role})
    set_if(c.Spawner, "default_url", "singleuser.defaultUrl")
    if get("debug.enabled", False):
        c.JupyterHub.log_level = "DEBUG"
        c.Spawner.debug = True

    # The chart's generated secrets, unless the values set them (as the chart's templates do).
    hub_config = get("hub.config") or {}
    cookie_secret = dotted(hub_config, "JupyterHub.cookie_secret") or generated["cookie_secret"]
    crypt_keys = dotted(hub_config, "CryptKeeper.keys") or generated["crypt_keys"]
    proxy_token = dotted(hub_config, "ConfigurableHTTPProxy.auth_token") or generated["proxy_token"]
    if isinstance(crypt_keys, list):
        crypt_keys = ";".join(crypt_keys)
    c.JupyterHub.cookie_secret = cookie_secret
    c.CryptKeeper.keys = crypt_keys.split(";")
    secret_values.update(
        {
            "hub.config.JupyterHub.cookie_secret": cookie_secret,
            "hub.config.CryptKeeper.keys": crypt_keys,
            "hub.config.ConfigurableHTTPProxy.auth_token": proxy_token,
        }
    )

    for section, cfg in hub_config.items():
        cfg = dict(cfg or {})
        if section == "JupyterHub":
            for name in ("proxy_auth_token", "cookie_secret", "services"):
                cfg.pop(name, None)
        elif section == "ConfigurableHTTPProxy":
            cfg.pop("auth_token", None)
        elif section == "CryptKeeper":
            cfg.pop("keys", None)
        if not section[:1].isupper():
            raise LocalHubError(
                f"Invalid hub.config section name: {section}. hub.config sections must be "
                "Configurable class names (e.g. JupyterHub)."
            )
        _log(f"loading pass-through config section hub.config.{section}")
        c[section].update(cfg)

    # hub.extraFiles: mounted at mountPath in the pod; here written under the state directory
    # (keeping mountPath's layout), and the pod's directories mapped to the local copies for
    # imports. As in the pod, a module is importable only once its directory is on sys.path.
    files_root = state_dir / "files"
    pod_dirs = {POD_CONFIG_DIR: files_root / POD_CONFIG_DIR.lstrip("/")}
    for key, details in (get("hub.extraFiles") or {}).items():
        target = files_root / str(details["mountPath"]).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if "stringData" in details:
            target.write_text(str(details["stringData"]).rstrip("\n") + "\n")
        elif "data" in details:
            data = details["data"]
            target.write_text(
                json.dumps(data) if target.suffix == ".json" else yaml.safe_dump(data)
            )
        else:
            _log(f"hub.extraFiles.{key}: only stringData and data are written locally")
            continue
        if "mode" in details:
            target.chmod(int(details["mode"]))
        pod_dirs[os.path.dirname(str(details["mountPath"]))] = target.parent
        _log(f"hub.extraFiles.{key} -> {target}")
    _map_pod_directories(pod_dirs)
    # The chart's jupyterhub_config.py puts its own directory first on sys.path.
    sys.path.insert(0, POD_CONFIG_DIR)

    z2jh = _z2jh_module(values, secret_values)
    sys.modules["z2jh"] = z2jh
    namespace: dict[str, Any] = {
        "c": c,
        "os": os,
        "sys": sys,
        "re": re,
        "glob": glob,
        "url_path_join": url_path_join,
        "camelCaseify": camel_case,
        **{
            name: getattr(z2jh, name)
            for name in ("get_config", "get_secret_value", "set_config_if_not_none", "get_name")
        },
    }
    for key, source in sorted((get("hub.extraConfig") or {}).items()):
        _log(f"loading extra config: {key}")
        exec(compile(source, f"hub.extraConfig.{key}", "exec"), namespace)  # noqa: S102

    # -- local overrides: loopback, our proxy, local processes instead of Kubernetes --
    c.JupyterHub.ip = ip
    c.JupyterHub.port = settings["port"]
    c.JupyterHub.hub_ip = ip
    c.JupyterHub.hub_port = hub_port
    c.JupyterHub.hub_bind_url = f"http://{ip}:{hub_port}"
    c.JupyterHub.hub_connect_url = f"http://{ip}:{hub_port}"
    c.JupyterHub.cleanup_servers = True  # local processes must not outlive the hub
    c.JupyterHub.spawner_class = LocalProfileSpawner
    c.ConfigurableHTTPProxy.should_start = True
    c.ConfigurableHTTPProxy.api_url = f"http://{ip}:{settings['proxy_api_port']}"
    c.ConfigurableHTTPProxy.command = [settings["proxy_cmd"]]
    c.ConfigurableHTTPProxy.auth_token = proxy_token
    c.ConfigurableHTTPProxy.pid_file = str(state_dir / "jupyterhub-proxy.pid")
    c.LocalProfileSpawner.homes = settings["homes"]
    if settings["run_as"]:
        uid, gid = settings["run_as"]
        c.LocalProfileSpawner.run_as_uid, c.LocalProfileSpawner.run_as_gid = uid, gid
        # setpriv drops root before the server starts (the pod runs as jovyan, uid 1000).
        c.Spawner.cmd = [*run_as_prefix(uid, gid), settings["singleuser"]]
    else:
        c.Spawner.cmd = [settings["singleuser"]]
    c.Spawner.start_timeout = max(int(get("singleuser.startTimeout") or 0), 120)
    c.Spawner.http_timeout = 120


def _map_pod_directories(pod_dirs: Mapping[str, Path]) -> None:
    """Imports from the pod's directories (on sys.path) load the local copies of their files."""
    make_finder = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)
    )
    local = {pod.rstrip("/"): path for pod, path in pod_dirs.items()}

    def pod_path_hook(entry: str) -> Any:
        if entry.rstrip("/") not in local:
            raise ImportError(f"not a pod directory: {entry}")
        return make_finder(str(local[entry.rstrip("/")]))

    sys.path_hooks.insert(0, pod_path_hook)
    sys.path_importer_cache.clear()


def _configure_culler(c: Any, values: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """cull.* as the chart's jupyterhub-idle-culler service, against the local hub API."""

    def get(key: str) -> Any:
        return dotted(values, key)

    python = settings["culler_python"]
    if python is None:
        _log("cull.enabled, but jupyterhub_idle_culler is not installed: no culler here")
        return
    role = {
        "name": "jupyterhub-idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["jupyterhub-idle-culler"],
    }
    base_url = dotted(values, "hub.baseUrl") or "/"
    api = url_path_join(base_url, "hub/api")
    cmd = [
        python,
        "-m",
        "jupyterhub_idle_culler",
        f"--url=http://{settings['ip']}:{settings['hub_port']}{api}",
    ]
    for key, flag in (
        ("timeout", "--timeout"),
        ("every", "--cull-every"),
        ("concurrency", "--concurrency"),
        ("maxAge", "--max-age"),
    ):
        if get(f"cull.{key}"):
            cmd.append(f"{flag}={get(f'cull.{key}')}")
    if get("cull.users"):
        cmd.append("--cull-users")
        role["scopes"].append("admin:users")
    if not get("cull.adminUsers"):
        cmd.append("--cull-admin-users=false")
    if get("cull.removeNamedServers"):
        cmd.append("--remove-named-servers")
    c.JupyterHub.services.append({"name": "jupyterhub-idle-culler", "command": cmd})
    c.JupyterHub.load_roles.append(role)


# ---------------------------------------------------------------------------------------------
# make demo


def demo_accounts(values: Mapping[str, Any]) -> list[Any]:
    """Accounts for the local provider that the rendered allow-lists let in.

    One admin and one user, with fresh passwords, named after the configured allow rules."""
    from astrohub.oidc_provider import Account

    section, cfg = authenticator_settings(values)
    admins = sorted(cfg.get("admin_users") or [])
    users = sorted(cfg.get("allowed_users") or [])
    accounts = []
    if section == "GitHubOAuthenticator":
        orgs = sorted(cfg.get("allowed_organizations") or [])
        admin = admins[0] if admins else "astrohub-admin"
        user = users[0] if users else "astronomer"
        accounts.append(Account(f"{admin}@example.org", secrets.token_urlsafe(9), login=admin))
        accounts.append(
            Account(
                f"{user}@example.org",
                secrets.token_urlsafe(9),
                login=user,
                orgs=frozenset(orgs[:1]),
            )
        )
    else:
        domains = sorted(cfg.get("allowed_email_domains") or [])
        admin = admins[0] if admins else "admin@" + (domains[0] if domains else "example.org")
        user = users[0] if users else "astronomer@" + (domains[0] if domains else "example.org")
        accounts.append(Account(admin, secrets.token_urlsafe(9)))
        accounts.append(Account(user, secrets.token_urlsafe(9)))
    return accounts


def demo_render_env(provider_url: str, hub_port: int, client_secret: str) -> dict[str, str]:
    """What the local inventory reads when it renders the values for the local hub."""
    return {
        "ASTROHUB_LOCAL_OIDC_URL": provider_url,
        "ASTROHUB_LOCAL_HUB_HOST": f"127.0.0.1:{hub_port}",
        "ASTROHUB_DEMO_CLIENT_SECRET": client_secret,
    }


def serve_demo(hub: LocalHub, provider: Any) -> list[Any]:
    """Start the hub, give the provider demo accounts the hub lets in, print how to sign in."""
    hub.start()
    accounts = demo_accounts(hub.values)
    provider.state.accounts.extend(accounts)
    section, cfg = authenticator_settings(hub.values)
    github = section == "GitHubOAuthenticator"
    service = cfg.get("login_service") or ("GitHub" if github else section)
    print(f'\n==> JupyterHub on {hub.url}: "Sign in with {service}"')
    print(f"    ({service} is played by the local provider on {provider.url})")
    for account, role in zip(accounts, ("admin", "user"), strict=False):
        name = account.login if github else account.email
        print(f"    {role:5}  {name}  password {account.password}")
    print(f"    hub log: {hub.log_path}", flush=True)
    return accounts


@contextlib.contextmanager
def local_demo(
    render: Callable[[Mapping[str, str]], int], namespace_dir: Path
) -> Iterator[tuple[LocalHub, Any, list[Any]]]:
    """The end of ``make demo``: start the provider, let ``render`` run the playbook with the
    environment the local inventory reads (provider URL, hub host, client secret; it returns
    an exit code), then serve the hub from what it rendered into ``namespace_dir``."""
    from astrohub.oidc_provider import OIDCProvider

    secret = os.environ.get("ASTROHUB_DEMO_CLIENT_SECRET") or secrets.token_urlsafe(24)
    with OIDCProvider([], client_secret=secret) as provider:
        port = free_port()
        returncode = render(demo_render_env(provider.url, port, secret))
        if returncode != 0:
            raise LocalHubError(f"rendering the values failed (exit code {returncode})")
        hub = LocalHub(
            namespace_dir / "jupyterhub-values.yaml",
            namespace_dir / "jupyterhub-secrets.yaml",
            namespace_dir / "homes",
            port,
        )
        try:
            accounts = serve_demo(hub, provider)
            yield hub, provider, accounts
        finally:
            hub.stop()


def run_demo(
    render: Callable[[Mapping[str, str]], int], namespace_dir: Path, *, wait: bool = True
) -> int:
    """:func:`local_demo`, kept up until Ctrl-C (or SIGTERM) when ``wait``; an exit code."""
    done = threading.Event()
    try:
        with local_demo(render, namespace_dir):
            if wait:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: done.set())
                print("==> Ctrl-C stops the hub.", flush=True)
                done.wait()
    except LocalHubError as exc:
        print(f"==> the local hub did not start: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m astrohub.localhub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--values", type=Path, required=True, help="jupyterhub-values.yaml")
    parser.add_argument("--secrets", type=Path, required=True, help="jupyterhub-secrets.yaml")
    parser.add_argument("--homes", type=Path, required=True, help="directory of the homes")
    parser.add_argument("--port", type=int, required=True, help="the hub's public port")
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--chart", type=Path, help="z2jh chart dir or .tgz (its values.yaml)")
    parser.add_argument("--state-dir", type=Path, help="default: <homes>/../localhub")
    parser.add_argument("--proxy-cmd", type=Path, help=f"default: {CHP}")
    parser.add_argument("--singleuser", type=Path, help="jupyterhub-singleuser to run")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.ip not in {"127.0.0.1", "localhost"}:
        parser.error("the local hub listens on loopback only")
    hub = LocalHub(
        args.values,
        args.secrets,
        args.homes,
        args.port,
        ip=args.ip,
        chart=args.chart,
        state_dir=args.state_dir,
        proxy_cmd=args.proxy_cmd,
        singleuser=args.singleuser,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        hub.start()
    except LocalHubError as exc:
        print(f"localhub: {exc}", file=sys.stderr)
        return 1
    print(hub.url, flush=True)
    done.wait()
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
