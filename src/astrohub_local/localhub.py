"""A real JupyterHub on 127.0.0.1 that runs the hub pod of the pinned chart.

``make demo`` and the tests start it from the values files the deploy rendered
(``build/<namespace>/jupyterhub-values/*.yaml``, in name order, as the role hands them to Helm).
Nothing of the chart's hub configuration is re-implemented here: the pinned chart is rendered
with Helm's own engine (as plan mode renders it), and the hub container of the rendered
Deployment is re-created on this machine: its ConfigMap and Secret volumes are written out under
a local root in the layout the pod mounts them
(``/usr/local/etc/jupyterhub/jupyterhub_config.py``, ``z2jh.py``, ``config/``, ``secret/``,
every ``hub.extraFiles`` entry), its database claim is a local directory at ``/srv/jupyterhub``
(the hub image's working directory), its environment is the container's (``secretKeyRef``
resolved from the rendered Secret, plus the ``*_SERVICE_*`` variables Kubernetes gives a pod),
and its arguments are the container's. The chart's own ``jupyterhub_config.py`` then runs as it
is; its ``z2jh`` helper reads the pod's files through a path mapping, and imports from the pod's
directories load the local copies.

Only what needs Kubernetes is swapped, through configuration applied after the chart's
(:func:`local_overrides`): the spawner (local processes as uid 1000 in
``<homes>/<escaped user>`` instead of KubeSpawner's pods), the proxy (configurable-http-proxy
from node_modules, started by the hub) and the hub's and proxy's addresses (loopback ports
instead of the Services' names), including the address the chart gives the idle culler.
Values Helm generates at install time (cookie secret, CryptKeeper keys, proxy token, service
tokens) are generated once and kept, 0600, in the state directory, as the chart keeps them in
its Secret.

    python -m astrohub_local.localhub --values V1 [--values V2 ...] --homes H --port N \
        [--ip 127.0.0.1]

The hub process imports this module for :func:`enter_pod`, :func:`local_overrides` and
:class:`LocalProfileSpawner`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import builtins
import contextlib
import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from jupyterhub.spawner import SimpleLocalProcessSpawner
from kubespawner.slugs import escape_slug
from tornado.escape import xhtml_escape
from traitlets import Integer, List, Unicode, default

from astrohub import chart as charts
from astrohub import manifests
from astrohub.images import (
    GETTING_STARTED,
    IMAGES_DIR,
    START_HOOKS,
    ImageSpec,
    ensure_env,
    load_images,
)
from astrohub.unprivileged import GID, UID, checkout_dir, localhub_venv, run_as_prefix
from astrohub_local.stopping import serve_until_signalled, stop_on_signal

REPO = Path(__file__).resolve().parents[2]
CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
RELEASE = "jupyterhub"
# Where the jupyterhub role renders the values files, under build/<namespace>/.
VALUES_DIR = "jupyterhub-values"
START_DEADLINE = 90.0
POLL = 0.2
# Variables the single-user servers inherit: tests and the demo keep all traffic on loopback.
PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy")
# The hub image's working directory, where the chart mounts the database claim (sqlite-pvc).
HUB_WORKDIR = "/srv/jupyterhub"
# The chart's hub configuration file, as the hub container is started with it.
POD_CONFIG = "/usr/local/etc/jupyterhub/jupyterhub_config.py"
# Values the chart fills in at install time unless the values set them.
GENERATED = {
    ("JupyterHub", "cookie_secret"): lambda: secrets.token_hex(32),
    ("CryptKeeper", "keys"): lambda: [secrets.token_hex(32)],
    ("ConfigurableHTTPProxy", "auth_token"): lambda: secrets.token_hex(32),
}


class LocalHubError(Exception):
    """The local hub could not be configured or started."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def pinned_chart_version() -> str:
    """The chart version the deployment pins (group_vars/all/versions.yml)."""
    versions = yaml.safe_load((REPO / "group_vars/all/versions.yml").read_text(encoding="utf-8"))
    return str(versions["jupyterhub_chart_version"])


def locate_chart(version: str | None = None) -> Path:
    """The pinned chart where the deploy put it (``build/cache/``, or ``ASTROHUB_CACHE_DIR``),
    or in the offline cache (``ASTROHUB_FIXTURES``): the lookup the pinned_artifacts role
    makes, without fetching."""
    version = version or pinned_chart_version()
    cache_dir = Path(os.environ.get("ASTROHUB_CACHE_DIR") or REPO / "build" / "cache")
    offline = os.environ.get("ASTROHUB_FIXTURES")
    found = charts.find_chart(version, cache_dir=cache_dir, offline_cache=offline or None)
    if found is None:
        raise LocalHubError(
            f"the jupyterhub chart {version} is neither in {cache_dir} nor in an offline cache "
            "(ASTROHUB_FIXTURES): run the deploy in plan mode (make demo) first, which fetches it"
        )
    return found[0]


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
    """jupyterhub-singleuser of the local hub's environment, which the server's user can run.

    As root the servers run as uid 1000, so the environment is the one ``make localhub-venv``
    builds in the runtime directory; otherwise the project's own venv will do as well."""
    candidates = [localhub_venv()]
    if os.geteuid() != 0:
        candidates.append(Path(sys.executable).parent.parent)
    for venv in candidates:
        if _runs(venv / "bin" / "python", _SINGLEUSER_PROBE, as_user=True):
            return venv / "bin" / "jupyterhub-singleuser"
    raise LocalHubError(
        f"no single-user environment with JupyterLab that uid {UID} can run at {candidates[0]}: "
        "run `make localhub-venv`"
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


def authenticator_settings(values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The authenticator class named in hub.config and its hub.config section."""
    config = (values.get("hub") or {}).get("config") or {}
    name = str((config.get("JupyterHub") or {}).get("authenticator_class") or "")
    section = {"github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}.get(
        name, name.rpartition(".")[2]
    )
    return section, dict(config.get(section) or {})


# ---------------------------------------------------------------------------------------------
# The hub pod, from the rendered chart


def _by_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> dict[str, Mapping[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def _object_files(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """The files a ConfigMap or Secret volume shows, by key (data decoded, stringData too)."""
    files: dict[str, bytes] = {}
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("data") or {}).items():
            files[key] = base64.b64decode(value)
    else:
        for key, value in (obj.get("data") or {}).items():
            files[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            files[key] = base64.b64decode(value)
    for key, value in (obj.get("stringData") or {}).items():
        files[key] = str(value).encode()
    return files


class HubPod:
    """The hub container of the rendered chart: its files, environment and arguments."""

    def __init__(self, docs: Sequence[Mapping[str, Any]], namespace: str) -> None:
        self.docs = docs
        self.namespace = namespace
        deployment = _by_kind(docs, "Deployment").get("hub")
        if deployment is None:
            raise LocalHubError("the rendered chart has no hub Deployment")
        self.spec = deployment["spec"]["template"]["spec"]
        self.container = next(c for c in self.spec["containers"] if c["name"] == "hub")
        self.volumes = {v["name"]: v for v in self.spec.get("volumes") or []}
        self.config_maps = _by_kind(docs, "ConfigMap")
        self.secrets = _by_kind(docs, "Secret")

    def _volume_files(self, volume: Mapping[str, Any]) -> tuple[dict[str, bytes], dict[str, int]]:
        """The files a configMap/secret volume mounts, by path, and their modes."""
        if "configMap" in volume:
            source, name = volume["configMap"], volume["configMap"]["name"]
            obj = self.config_maps[name]
        else:
            source, name = volume["secret"], volume["secret"]["secretName"]
            obj = self.secrets[name]
        files = _object_files(obj)
        items = source.get("items")
        if not items:
            return files, {}
        chosen = {item["path"]: files[item["key"]] for item in items if item["key"] in files}
        modes = {item["path"]: int(item["mode"]) for item in items if "mode" in item}
        return chosen, modes

    def write(self, root: Path, claims: Mapping[str, Path]) -> dict[str, Path]:
        """Write what the container mounts under ``root`` (the pod's ``/``); a claim's mount
        maps to ``claims[<claim>]``. Returns the mounts that are not under ``root``."""
        mounts: dict[str, Path] = {}
        for mount in self.container.get("volumeMounts") or []:
            volume = self.volumes[mount["name"]]
            path = mount["mountPath"]
            if "persistentVolumeClaim" in volume:
                claim = claims[volume["persistentVolumeClaim"]["claimName"]]
                local = claim / mount.get("subPath", "")
                local.mkdir(parents=True, exist_ok=True)
                mounts[path.rstrip("/")] = local
                continue
            if "configMap" not in volume and "secret" not in volume:
                raise LocalHubError(f"hub volume {mount['name']}: only configMap, secret, claim")
            files, modes = self._volume_files(volume)
            target = root / path.lstrip("/")
            if "subPath" in mount:
                chosen = {"": files[mount["subPath"]]}
                modes = {"": modes[mount["subPath"]]} if mount["subPath"] in modes else {}
            else:
                chosen = files
            for relative, content in chosen.items():
                file = target / relative if relative else target
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(content)
                file.chmod(modes.get(relative, 0o600))
        return mounts

    def directories(self) -> list[str]:
        """The pod directories the container's file mounts live in (what is mapped)."""
        return sorted(
            {
                os.path.dirname(m["mountPath"].rstrip("/"))
                for m in self.container.get("volumeMounts") or []
                if "persistentVolumeClaim" not in self.volumes[m["name"]]
            }
        )

    def env(self, services: Mapping[str, str]) -> dict[str, str]:
        """The container's environment, resolved as the kubelet would, plus the
        ``<SERVICE>_SERVICE_HOST/PORT`` variables, pointing at ``services`` (name: port)."""
        env: dict[str, str] = {}
        for service in _by_kind(self.docs, "Service").values():
            name = service["metadata"]["name"].upper().replace("-", "_")
            port = services.get(service["metadata"]["name"])
            env[f"{name}_SERVICE_HOST"] = "127.0.0.1"
            env[f"{name}_SERVICE_PORT"] = str(port or service["spec"]["ports"][0]["port"])
        for item in self.container.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
                continue
            source = item.get("valueFrom") or {}
            if source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[item["name"]] = self.namespace
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                env[item["name"]] = _object_files(self.secrets[ref["name"]])[ref["key"]].decode()
            else:
                raise LocalHubError(f"hub env {item['name']}: cannot resolve {source}")
        return env

    def args(self, config: Path, jupyterhub: Path) -> list[str]:
        """The container's command line with this machine's jupyterhub and ``config``."""
        args = [*(self.container.get("command") or []), *(self.container.get("args") or [])]
        if args[:1] != ["jupyterhub"] or args[1:3] != ["--config", POD_CONFIG]:
            raise LocalHubError(f"the hub container starts {args[:3]}, not the chart's config")
        return [str(jupyterhub), "--config", str(config), *args[3:]]


def deployed_values_files(namespace_dir: Path) -> list[Path]:
    """The values files a deploy rendered into ``build/<namespace>/``, in the order the
    jupyterhub role hands them to Helm (name order: ``10-base.yaml`` ... ``99-secrets.yaml``)."""
    return sorted((Path(namespace_dir) / VALUES_DIR).glob("*.yaml"))


def generated_values(path: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """A values layer with what the chart would generate at install time and keep in its
    Secret (cookie secret, CryptKeeper keys, proxy token, a token per declared service): made
    once, stored 0600 at ``path``, reused on every start, so sessions, encrypted auth state and
    service tokens survive a restart. It goes first: values that set these themselves win."""
    kept: dict[str, Any] = (yaml.safe_load(path.read_text()) if path.is_file() else None) or {}
    hub = kept.setdefault("hub", {})
    config = hub.setdefault("config", {})
    for (section, name), make in GENERATED.items():
        config.setdefault(section, {}).setdefault(name, make())
    tokens = hub.setdefault("services", {})
    declared = ((values.get("hub") or {}).get("services") or {}).keys()
    for name in declared:
        tokens.setdefault(name, {"apiToken": secrets.token_hex(32)})
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(kept))
    # Only the services the values declare: a token alone would make the chart add a service.
    return {"hub": {"config": config, "services": {n: tokens[n] for n in declared}}}


class LocalHub:
    """The hub pod and its proxy as child processes; see the module docstring.

    >>> hub = LocalHub([values, secrets], homes, port).start()  # doctest: +SKIP
    >>> hub.url, hub.log_path                                    # doctest: +SKIP
    >>> hub.stop()                                               # doctest: +SKIP
    """

    def __init__(
        self,
        values_files: Sequence[Path],
        homes: Path,
        port: int,
        *,
        ip: str = "127.0.0.1",
        namespace: str = "astrohub",
        chart: Path | None = None,
        state_dir: Path | None = None,
        proxy_cmd: Path | None = None,
        singleuser: Path | None = None,
        hub_db: Path | None = None,
    ) -> None:
        self.values_files = [Path(f) for f in values_files]
        self.homes = Path(homes).resolve()
        self.port = port
        self.ip = ip
        self.namespace = namespace
        self.chart = chart
        self.state_dir = Path(state_dir or self.homes.parent / "localhub").resolve()
        self.proxy_cmd = Path(proxy_cmd) if proxy_cmd else CHP
        self.singleuser = singleuser
        # The hub's database claim (on the cluster: EFS's /hub-db access point). A hub started
        # with a new state_dir on the same homes and hub_db is a rebuilt cluster's hub.
        self.hub_db = Path(hub_db or self.state_dir / "hub-db").resolve()
        self.log_path = self.state_dir / "jupyterhub.log"
        self.process: subprocess.Popen[bytes] | None = None
        # The values the hub pod sees (values.yaml of the rendered hub Secret).
        self.values: dict[str, Any] = {}
        self.command: list[str] = []
        self.environment: dict[str, str] = {}
        self.workdir = self.state_dir

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def pod_root(self) -> Path:
        """Where the hub pod's files are written (the pod's ``/``)."""
        return self.state_dir / "pod"

    def generated_secrets(self) -> dict[str, str]:
        """The secrets generated for this hub, by dotted name (for the tests' log search)."""
        path = self.state_dir / "generated-secrets.yaml"
        kept = (yaml.safe_load(path.read_text()) if path.is_file() else None) or {}
        found: dict[str, str] = {}

        def walk(value: Any, name: str) -> None:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    walk(item, f"{name}.{key}" if name else str(key))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{name}[{index}]")
            elif isinstance(value, str):
                found[name] = value

        walk(kept, "")
        return found

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

    def render(self) -> list[dict[str, Any]]:
        """The pinned chart rendered by Helm's engine with the values files (in order) over the
        generated secrets: the manifests ``helm install`` would apply."""
        chart_path = self.chart or locate_chart()
        generated_file = self.state_dir / "generated-values.yaml"
        try:
            ours = charts.read_values_files(self.values_files)
            generated_file.touch(mode=0o600)
            generated_file.write_text(
                yaml.safe_dump(generated_values(self.state_dir / "generated-secrets.yaml", ours))
            )
            with charts.load_chart(chart_path) as chart:
                rendered = charts.render_chart(
                    chart,
                    charts.read_values_files([generated_file, *self.values_files]),
                    release=RELEASE,
                    namespace=self.namespace,
                )
        except OSError as exc:
            raise LocalHubError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        except charts.ChartError as exc:
            raise LocalHubError(str(exc)) from exc
        return manifests.load_documents(rendered)

    def prepare(self) -> Path:
        """Render, write the hub pod's files and the settings; the config file's path."""
        if not self.proxy_cmd.exists():
            raise LocalHubError(f"{self.proxy_cmd} is missing: run `npm ci` in {REPO}")
        singleuser = self.singleuser or find_singleuser()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        docs = self.render()
        pod = HubPod(docs, self.namespace)
        self.values = yaml.safe_load(_object_files(pod.secrets["hub"])["values.yaml"])
        self._check_callback()
        shutil.rmtree(self.pod_root, ignore_errors=True)
        claims = {"hub-db-dir": self.hub_db}
        mounts = pod.write(self.pod_root, claims)
        self.workdir = mounts.get(HUB_WORKDIR, self.state_dir)
        self.homes.mkdir(parents=True, exist_ok=True)
        self.homes.chmod(0o755)
        ports = {"hub": free_port(self.ip), "proxy-api": free_port(self.ip)}
        settings = {
            "pod_root": str(self.pod_root),
            "mounts": {path: str(local) for path, local in mounts.items()},
            "pod_dirs": pod.directories(),
            "ip": self.ip,
            "port": self.port,
            "hub_port": ports["hub"],
            "proxy_api_port": ports["proxy-api"],
            "proxy_cmd": str(self.proxy_cmd),
            "state_dir": str(self.state_dir),
            "homes": str(self.homes),
            "singleuser": str(singleuser),
            "images_dir": str(IMAGES_DIR),
            "run_as": [UID, GID] if os.geteuid() == 0 else None,
        }
        settings_path = self.state_dir / "settings.json"
        settings_path.write_text(json.dumps(settings, indent=1))
        config_path = self.state_dir / "jupyterhub_config.py"
        config_path.write_text(
            "# Written by astrohub_local.localhub: the hub pod's own configuration (the pinned\n"
            "# chart's jupyterhub_config.py, mounted as in the pod), then only what needs\n"
            "# Kubernetes swapped for local stand-ins.\n"
            "from astrohub_local import localhub\n\n"
            "c = get_config()  # noqa: F821\n"
            f"localhub.enter_pod({str(settings_path)!r})\n"
            f"load_subconfig(localhub.pod_path({POD_CONFIG!r}))  # noqa: F821\n"
            f"localhub.local_overrides(c, {str(settings_path)!r})\n"
        )
        env = pod.env(
            {**{name: str(port) for name, port in ports.items()}, "proxy-public": str(self.port)}
        )
        self.environment = {**os.environ, **env}
        self.command = pod.args(config_path, Path(sys.executable).with_name("jupyterhub"))
        return config_path

    def start(self, deadline: float = START_DEADLINE) -> LocalHub:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex((self.ip, self.port)) == 0:
                raise LocalHubError(f"{self.url} is taken: another process listens on the port")
        self.prepare()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.workdir,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        end = time.monotonic() + deadline
        with requests.Session() as session:
            while True:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.stop()
                    raise LocalHubError(f"the hub exited ({code}):\n{self.log_tail()}")
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
# Inside the hub process: the pod's paths, then the local stand-ins for Kubernetes


class _PodPaths:
    """Pod paths to local ones: a claim's mount to its directory, anything else to the same
    path under the pod's root (where every other mount was written)."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.root = Path(settings["pod_root"])
        self.mounts = {pod: Path(local) for pod, local in settings["mounts"].items()}
        self.dirs = list(settings["pod_dirs"])

    @staticmethod
    def _under(path: str, directory: str) -> bool:
        return path == directory or path.startswith(directory.rstrip("/") + "/")

    def local(self, path: Any) -> Any:
        if not isinstance(path, str) or not path.startswith("/"):
            return path
        for pod, local in self.mounts.items():
            if self._under(path, pod):
                return str(local / path[len(pod) :].lstrip("/"))
        if any(self._under(path, directory) for directory in self.dirs):
            return str(self.root / path.lstrip("/"))
        return path


_PATHS: _PodPaths | None = None


def pod_path(path: str) -> str:
    """Where a file of the hub pod is on this machine (after :func:`enter_pod`)."""
    if _PATHS is None:
        raise LocalHubError("enter_pod() has not run")
    return str(_PATHS.local(path))


class _PodOsPath(types.ModuleType):
    """os.path for the chart's z2jh: path arguments name the pod's files."""

    def __init__(self, paths: _PodPaths) -> None:
        super().__init__("os.path")
        self._paths = paths

    def __getattr__(self, name: str) -> Any:
        function = getattr(os.path, name)
        if not callable(function):
            return function
        return lambda *args, **kwargs: function(*map(self._paths.local, args), **kwargs)


class _PodOs(types.ModuleType):
    """os for the chart's z2jh: os.path maps the pod's paths; everything else is os."""

    def __init__(self, paths: _PodPaths) -> None:
        super().__init__("os")
        self.path = _PodOsPath(paths)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def enter_pod(settings_path: str) -> None:
    """Make the hub process see the pod's files: the chart's z2jh module (imported from its
    mounted copy) opens and tests paths through the mapping, and imports from the pod's
    directories (hub.extraFiles put on sys.path by hub.extraConfig) load the local copies."""
    global _PATHS
    paths = _PATHS = _PodPaths(json.loads(Path(settings_path).read_text()))
    z2jh_file = paths.local("/usr/local/etc/jupyterhub/z2jh.py")
    spec = importlib.util.spec_from_file_location("z2jh", z2jh_file)
    if spec is None or spec.loader is None:
        raise LocalHubError(f"cannot load the chart's z2jh from {z2jh_file}")
    z2jh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(z2jh)
    z2jh.__dict__["os"] = _PodOs(paths)
    # The chart's z2jh opens the pod's files with `with open(path) as f`; this is that open.
    z2jh.__dict__["open"] = lambda file, *a, **k: builtins.open(paths.local(file), *a, **k)  # noqa: SIM115
    sys.modules["z2jh"] = z2jh

    make_finder = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)
    )

    def pod_path_hook(entry: str) -> Any:
        local = paths.local(entry)
        if local == entry or not Path(local).is_dir():
            raise ImportError(f"not a pod directory: {entry}")
        return make_finder(local)

    sys.path_hooks.insert(0, pod_path_hook)
    sys.path_importer_cache.clear()


def _plain(value: Any) -> Any:
    """A traitlets config value as plain data (LazyConfigValue -> its value)."""
    return value.to_dict() if hasattr(value, "to_dict") else value


def local_overrides(c: Any, settings_path: str) -> None:
    """After the chart's configuration: only what needs Kubernetes, swapped for this machine."""
    settings = json.loads(Path(settings_path).read_text())
    ip, hub_port = settings["ip"], settings["hub_port"]
    hub_url = f"http://{ip}:{hub_port}"
    # The spawner: local processes instead of KubeSpawner's pods, with the chart's profiles
    # and plain environment values (valueFrom names Kubernetes objects).
    kube = c.KubeSpawner
    c.JupyterHub.spawner_class = LocalProfileSpawner
    c.LocalProfileSpawner.profile_list = list(kube.get("profile_list") or [])
    environment = kube.get("environment") or {}
    c.LocalProfileSpawner.environment = {
        k: v for k, v in dict(environment).items() if isinstance(v, str)
    }
    c.LocalProfileSpawner.homes = settings["homes"]
    prefix: list[str] = []
    if settings["run_as"]:
        uid, gid = settings["run_as"]
        c.LocalProfileSpawner.run_as_uid, c.LocalProfileSpawner.run_as_gid = uid, gid
        # setpriv drops root before the server starts (the pod runs as jovyan, uid 1000),
        # and every capability when the pod's container_security_context drops ALL.
        prefix = run_as_prefix(uid, gid)
        context = _plain(kube.get("container_security_context")) or {}
        if prefix and "ALL" in (context.get("capabilities") or {}).get("drop", []):
            prefix = [prefix[0], "--inh-caps=-all", "--bounding-set=-all", *prefix[1:]]
    c.LocalProfileSpawner.run_prefix = prefix
    c.LocalProfileSpawner.images_dir = settings["images_dir"]
    c.Spawner.cmd = [*prefix, settings["singleuser"]]
    c.Spawner.start_timeout = max(int(kube.get("start_timeout") or 0), 120)
    c.Spawner.http_timeout = 120
    c.JupyterHub.cleanup_servers = True  # local processes must not outlive the hub
    # The proxy: started by the hub from node_modules instead of running in its own pod.
    c.ConfigurableHTTPProxy.should_start = True
    c.ConfigurableHTTPProxy.api_url = f"http://{ip}:{settings['proxy_api_port']}"
    c.ConfigurableHTTPProxy.command = [settings["proxy_cmd"]]
    c.ConfigurableHTTPProxy.pid_file = str(Path(settings["state_dir"]) / "jupyterhub-proxy.pid")
    # The addresses: loopback ports instead of the Services' names and the container port.
    c.JupyterHub.ip = ip
    c.JupyterHub.port = settings["port"]
    c.JupyterHub.hub_bind_url = hub_url
    c.JupyterHub.hub_connect_url = hub_url
    # The chart starts the idle culler with the image's python3 against localhost:8081.
    for service in c.JupyterHub.get("services") or []:
        command = list(service.get("command") or [])
        if command[:3] == ["python3", "-m", "jupyterhub_idle_culler"]:
            service["command"] = [
                sys.executable,
                *(
                    re.sub(r"^--url=http://localhost:8081", f"--url={hub_url}", arg)
                    for arg in command[1:]
                ),
            ]
    _log(f"local stand-ins: spawner, proxy, hub at {hub_url}")


def _log(message: str) -> None:
    # Names only, never values: these lines end up in the hub's log.
    print(f"astrohub_local.localhub: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The local stand-in for KubeSpawner


def _profile_slug(profile: Mapping[str, Any], index: int) -> str:
    name = str(profile.get("display_name", "")).lower()
    slug = profile.get("slug") or re.sub(r"[^a-z0-9]+", "-", name)
    return str(slug).strip("-") or f"profile-{index}"


# docker-stacks' start.sh sources every start-notebook.d/*.sh, then execs the server:
# $0 is the hooks' directory, "$@" the server's command line.
_SOURCE_HOOKS_THEN_EXEC = 'for hook in "$0"/*.sh; do . "$hook"; done; exec "$@"'


class LocalProfileSpawner(SimpleLocalProcessSpawner):
    """The local stand-in for KubeSpawner: a process as uid 1000 in ``<homes>/<escaped>``
    (KubeSpawner's own ``{escaped_username}``, the subPath of the homes on EFS).

    The spawn page lists singleuser.profileList as KubeSpawner does. A profile named after an
    image (images/<name>/) runs that image's locked environment, installed on first use under
    $ASTROHUB_RUNTIME_DIR/image-envs/ (astrohub.images.ensure_env, as `make images-test`
    installs it), its progress on the spawn page, after the images' start hooks (the
    getting-started notebooks copied into the home), as start.sh runs them in a pod; the
    others run the local hub's own environment. The chosen slug is in ASTROHUB_PROFILE."""

    profile_list = List(config=True, help="singleuser.profileList")
    homes = Unicode(config=True, help="directory of the users' homes")
    run_as_uid = Integer(-1, config=True, help="uid of the server process (-1: the hub's)")
    run_as_gid = Integer(-1, config=True, help="gid of the server process")
    run_prefix = List(config=True, help="what starts a command as the pod's user (setpriv)")
    images_dir = Unicode("", config=True, help="images/: a profile named after one runs its env")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local_cmd = list(self.cmd)  # the local hub's environment (no image profile)
        # What the spawn page shows while start() works; None ends it.
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    @default("home_dir")
    def _home_dir_default(self) -> str:
        return os.path.join(self.homes, escape_slug(self.user.name))

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
        return "\n".join(items)

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

    def _image(self, profile: str) -> ImageSpec | None:
        if not self.images_dir or not profile:
            return None
        return next((i for i in load_images(Path(self.images_dir)) if i.name == profile), None)

    async def _image_environment(self, image: ImageSpec) -> Path:
        """The image's locked environment, installed now if this is its first use."""
        await self._events.put(
            {
                "progress": 20,
                "message": f"Preparing the {image.name} environment from its lock "
                "(installed once, in minutes; reused after)",
            }
        )
        env = await asyncio.to_thread(ensure_env, image)
        done = f"installed in {env.seconds:.0f} s" if env.created else "ready"
        await self._events.put(
            {"progress": 60, "message": f"The {image.name} environment is {done}"}
        )
        return env.path

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        while (event := await self._events.get()) is not None:
            yield event

    async def start(self) -> Any:
        self._events = asyncio.Queue()
        self.cmd = list(self._local_cmd)
        profile = self._chosen_profile()
        try:
            if profile:
                self.environment = {**self.environment, "ASTROHUB_PROFILE": profile}
            image = self._image(profile)
            if image is not None:
                env = await self._image_environment(image)
                # Its server, its kernel (PATH first) and its packages, as in the image, after
                # the image's start hooks (getting-started notebooks) as start.sh runs them.
                self.cmd = [
                    *self.run_prefix,
                    "/bin/bash",
                    "-c",
                    _SOURCE_HOOKS_THEN_EXEC,
                    str(env / START_HOOKS),
                    str(env / "bin" / "jupyterhub-singleuser"),
                ]
                self.environment = {
                    **self.environment,
                    "PATH": f"{env / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                    "ASTROHUB_IMAGE": image.name,
                    "ASTROHUB_GETTING_STARTED": str(env / GETTING_STARTED),
                }
            self.log.info("%s: profile %s runs %s", self.user.name, profile, self.cmd[-1])
            self._prepare_home()
            return await super().start()
        finally:
            await self._events.put(None)


# ---------------------------------------------------------------------------------------------
# make demo


def demo_accounts(values: Mapping[str, Any]) -> list[Any]:
    """Accounts for the local provider that the rendered allow-lists let in.

    One admin and one user, with fresh passwords, named after the configured allow rules."""
    from astrohub_local.oidc_provider import Account

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
    from astrohub_local.oidc_provider import OIDCProvider

    secret = os.environ.get("ASTROHUB_DEMO_CLIENT_SECRET") or secrets.token_urlsafe(24)
    with OIDCProvider([], client_secret=secret) as provider:
        port = free_port()
        returncode = render(demo_render_env(provider.url, port, secret))
        if returncode != 0:
            raise LocalHubError(f"rendering the values failed (exit code {returncode})")
        hub = LocalHub(
            deployed_values_files(namespace_dir),
            checkout_dir("homes", namespace_dir.name),
            port,
            namespace=namespace_dir.name,
            state_dir=namespace_dir / "localhub",
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
    try:
        with local_demo(render, namespace_dir):
            if wait:
                done = stop_on_signal()
                print("==> Ctrl-C stops the hub.", flush=True)
                done.wait()
    except LocalHubError as exc:
        print(f"==> the local hub did not start: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m astrohub_local.localhub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--values",
        type=Path,
        action="append",
        required=True,
        help="a values file (repeat, in Helm's order: build/<namespace>/jupyterhub-values/*.yaml)",
    )
    parser.add_argument("--homes", type=Path, required=True, help="directory of the homes")
    parser.add_argument("--port", type=int, required=True, help="the hub's public port")
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--chart", type=Path, help="chart dir or .tgz (default: the pinned one)")
    parser.add_argument("--state-dir", type=Path, help="default: <homes>/../localhub")
    parser.add_argument("--proxy-cmd", type=Path, help=f"default: {CHP}")
    parser.add_argument("--singleuser", type=Path, help="jupyterhub-singleuser to run")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.ip not in {"127.0.0.1", "localhost"}:
        parser.error("the local hub listens on loopback only")
    hub = LocalHub(
        args.values,
        args.homes,
        args.port,
        ip=args.ip,
        chart=args.chart,
        state_dir=args.state_dir,
        proxy_cmd=args.proxy_cmd,
        singleuser=args.singleuser,
    )

    def start() -> str:
        hub.start()
        return hub.url

    try:
        serve_until_signalled(start, hub.stop)
    except LocalHubError as exc:
        print(f"localhub: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
