"""The local hub's configuration is the chart's: z2jh 4.4.0's own jupyterhub_config.py, run on
the same rendered values, gives the hub the same settings as astrohub.localhub.configure."""

from __future__ import annotations

import copy
import importlib
import io
import json
import subprocess
import sys
import tarfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_support import OUT, Rendered
from tornado.httpclient import AsyncHTTPClient
from traitlets.config import Config

from astrohub import localhub
from astrohub.hub import mast_authenticator
from astrohub.localhub import (
    LocalHub,
    LocalHubError,
    configure,
    demo_accounts,
    dotted,
    escape_username,
    find_chart,
    merge_values,
)


def test_merge_values_is_helms() -> None:
    base = {"hub": {"config": {"A": {"x": 1, "y": 2}}, "db": {"type": "sqlite-pvc"}}, "l": [1]}
    over = {"hub": {"config": {"A": {"y": 3, "z": 4}}, "db": None}, "l": [2]}
    assert merge_values(base, over) == {
        "hub": {"config": {"A": {"x": 1, "y": 3, "z": 4}}},
        "l": [2],
    }
    assert base["hub"]["db"] == {"type": "sqlite-pvc"}  # inputs untouched


def test_escape_username_is_kubespawners() -> None:
    assert escape_username("astronomer@example.org") == "astronomer-40example-2eorg"
    assert escape_username("octo-astronomer") == "octo-2dastronomer"
    assert escape_username("astro") == "astro"


def test_chart_defaults_are_found() -> None:
    assert (find_chart() / "values.yaml").is_file() or find_chart().suffix == ".tgz"


def _chart_hub_files(chart: Path) -> dict[str, str]:
    if chart.is_dir():
        hub = chart / "files" / "hub"
        return {name: (hub / name).read_text() for name in ("jupyterhub_config.py", "z2jh.py")}
    with tarfile.open(chart) as tar:
        return {
            name: io.TextIOWrapper(tar.extractfile(f"jupyterhub/files/hub/{name}")).read()  # type: ignore[arg-type]
            for name in ("jupyterhub_config.py", "z2jh.py")
        }


def chart_config(
    values: dict[str, Any], secret_values: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Config:
    """Run the chart's jupyterhub_config.py as the hub pod does, with Kubernetes stubbed."""
    z2jh = types.ModuleType("z2jh")

    def get_config(key: str, default: Any = None) -> Any:
        # The chart's script pops and setdefaults what it reads; keep our values intact.
        return copy.deepcopy(dotted(values, key, default))

    def set_config_if_not_none(cparent: Any, name: str, key: str) -> None:
        if get_config(key) is not None:
            setattr(cparent, name, get_config(key))

    z2jh.__dict__.update(
        get_config=get_config,
        set_config_if_not_none=set_config_if_not_none,
        get_secret_value=lambda key, default=None: secret_values.get(key, default),
        get_name=lambda name: f"jupyterhub-{name}",
        get_name_env=lambda name, suffix="": "8081",
    )
    kubernetes = types.ModuleType("kubernetes_asyncio")
    kubernetes.client = types.SimpleNamespace(  # type: ignore[attr-defined]
        V1Container=dict, V1SecurityContext=dict, V1Capabilities=dict
    )
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    monkeypatch.setitem(sys.modules, "kubernetes_asyncio", kubernetes)
    monkeypatch.setattr(sys, "path", list(sys.path))
    # The chart asks for pycurl's client; not installed here and irrelevant to the config.
    monkeypatch.setattr(AsyncHTTPClient, "configure", lambda *args, **kwargs: None)
    c = Config()
    source = _chart_hub_files(find_chart())["jupyterhub_config.py"]
    pod_path = "/usr/local/etc/jupyterhub/jupyterhub_config.py"  # where the pod has it
    namespace = {"get_config": lambda: c, "__file__": pod_path}
    exec(compile(source, pod_path, "exec"), namespace)  # noqa: S102
    return c


@pytest.fixture(params=["mast", "github"])
def rendered(request: pytest.FixtureRequest) -> Rendered:
    result: Rendered = request.getfixturevalue(f"{request.param}_render")
    return result


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure() runs in this process here: undo what it does to the import machinery."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "path_hooks", list(sys.path_hooks))
    monkeypatch.setattr(sys, "path_importer_cache", dict(sys.path_importer_cache))
    monkeypatch.setitem(sys.modules, "z2jh", None)
    yield
    sys.modules.pop("mast_authenticator", None)


@pytest.mark.usefixtures("isolated_imports")
def test_the_local_hub_gets_the_charts_configuration(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = OUT / f"{rendered.name}-config-check"
    hub = LocalHub(
        rendered.values, rendered.secrets, rendered.homes, rendered.port, state_dir=state_dir
    )
    settings_path = hub.prepare().with_name("settings.json")
    generated = json.loads(settings_path.read_text())["generated"]
    local = Config()
    configure(local, str(settings_path))
    chart = chart_config(
        hub.values,
        {
            "hub.config.JupyterHub.cookie_secret": generated["cookie_secret"],
            "hub.config.CryptKeeper.keys": generated["crypt_keys"],
            "hub.config.ConfigurableHTTPProxy.auth_token": generated["proxy_token"],
        },
        monkeypatch,
    )

    # Compared by name: on a failure, only names are shown, never a secret's value.
    pairs = {
        f"{section}.{trait}": (local[section][trait], chart[section][trait])
        for section, settings in hub.values["hub"]["config"].items()
        for trait in settings
    }
    pairs |= {
        "JupyterHub.cookie_secret": (
            local.JupyterHub.cookie_secret,
            chart.JupyterHub.cookie_secret,
        ),
        "CryptKeeper.keys": (local.CryptKeeper["keys"], chart.CryptKeeper["keys"]),
        "Spawner.default_url": (local.Spawner.default_url, chart.Spawner.default_url),
        "profile_list": (local.LocalProfileSpawner.profile_list, chart.KubeSpawner.profile_list),
    }
    differing = [name for name, (mine, theirs) in pairs.items() if mine != theirs]
    assert not differing
    assert "JupyterHub.authenticator_class" in pairs
    assert local.Spawner.default_url == "/lab"
    assert len(local.LocalProfileSpawner.profile_list) > 1
    # The idle culler: the same flags and permissions, against the local hub's API.
    assert local.JupyterHub.load_roles == chart.JupyterHub.load_roles
    [chart_culler] = chart.JupyterHub.services
    [local_culler] = local.JupyterHub.services
    assert local_culler["name"] == chart_culler["name"] == "jupyterhub-idle-culler"
    assert local_culler["command"][1:3] == chart_culler["command"][1:3]
    assert local_culler["command"][4:] == chart_culler["command"][4:]
    hub_port = json.loads(settings_path.read_text())["hub_port"]
    assert local_culler["command"][3] == f"--url=http://127.0.0.1:{hub_port}/hub/api"
    # hub.extraFiles: the shipped authenticator, byte for byte, where extraConfig looks.
    for details in (hub.values["hub"].get("extraFiles") or {}).values():
        written = state_dir / "files" / details["mountPath"].lstrip("/")
        assert written.read_text() == Path(mast_authenticator.__file__).read_text()
    # Only the spawner, the proxy and the addresses are the local hub's own.
    assert local.JupyterHub.ip == "127.0.0.1"
    assert local.Spawner.cmd[:5] == localhub.run_as_prefix()


def test_the_mast_render_ships_the_authenticator(mast_render: Rendered) -> None:
    values = localhub.load_values(mast_render.values, mast_render.secrets)
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "mast_authenticator.MASTOAuthenticator"
    assert config["MASTOAuthenticator"]["token_in_notebooks"] is True
    assert config["Authenticator"]["enable_auth_state"] is True
    assert config["MASTOAuthenticator"]["client_id"] == "astrohub-local-demo"
    assert config["MASTOAuthenticator"]["client_secret"]  # from the secrets file
    files = values["hub"]["extraFiles"]["mast-authenticator"]
    shipped = Path(mast_authenticator.__file__).read_text()
    assert files["stringData"].rstrip("\n") == shipped.rstrip("\n")


def test_demo_accounts_are_let_in_by_the_rendered_allow_lists(
    mast_render: Rendered, github_render: Rendered
) -> None:
    mast = localhub.load_values(mast_render.values, mast_render.secrets)
    cfg = mast["hub"]["config"]["MASTOAuthenticator"]
    admin, user = demo_accounts(mast)
    assert admin.email.lower() in {a.lower() for a in cfg["admin_users"]}
    assert user.email.partition("@")[2] in cfg["allowed_email_domains"] or (
        user.email in cfg["allowed_users"]
    )
    github = localhub.load_values(github_render.values, github_render.secrets)
    cfg = github["hub"]["config"]["GitHubOAuthenticator"]
    admin, user = demo_accounts(github)
    assert admin.login in cfg["admin_users"]
    assert user.orgs & set(cfg["allowed_organizations"]) or user.login in cfg["allowed_users"]


def test_a_callback_for_another_hub_is_refused(mast_render: Rendered) -> None:
    hub = LocalHub(
        mast_render.values,
        mast_render.secrets,
        mast_render.homes,
        mast_render.port + 1,
        state_dir=OUT / "wrong-port",
    )
    with pytest.raises(LocalHubError, match="does not point at this hub"):
        hub.start()
    assert hub.process is None


def test_a_misplaced_hub_config_section_is_fatal(mast_render: Rendered) -> None:
    state_dir = OUT / "bad-section"
    hub = LocalHub(
        mast_render.values,
        mast_render.secrets,
        mast_render.homes,
        mast_render.port,
        state_dir=state_dir,
    )
    settings_path = hub.prepare().with_name("settings.json")
    settings = json.loads(settings_path.read_text())
    settings["values"]["hub"]["config"]["loadRoles"] = {"x": {}}
    settings_path.write_text(json.dumps(settings))
    with pytest.raises(LocalHubError, match=r"Invalid hub\.config section name: loadRoles"):
        configure(Config(), str(settings_path))


def _configured(rendered: Rendered, state_dir: Path, drop_extra_config: bool = False) -> None:
    hub = LocalHub(
        rendered.values, rendered.secrets, rendered.homes, rendered.port, state_dir=state_dir
    )
    settings_path = hub.prepare().with_name("settings.json")
    if drop_extra_config:
        settings = json.loads(settings_path.read_text())
        settings["values"]["hub"].pop("extraConfig")
        settings_path.write_text(json.dumps(settings))
    configure(Config(), str(settings_path))


@pytest.mark.usefixtures("isolated_imports")
def test_the_authenticator_is_imported_from_its_pod_directory(mast_render: Rendered) -> None:
    state_dir = OUT / "import-check"
    _configured(mast_render, state_dir)
    module = importlib.import_module("mast_authenticator")
    mounted = "/usr/local/etc/jupyterhub/astrohub/mast_authenticator.py"
    assert module.__file__ == str(state_dir / "files" / mounted.lstrip("/"))
    assert "/usr/local/etc/jupyterhub/astrohub" in sys.path  # put there by extraConfig


@pytest.mark.usefixtures("isolated_imports")
def test_without_the_extra_config_the_authenticator_is_not_importable(
    mast_render: Rendered,
) -> None:
    """As in the pod: a mounted file is importable only once extraConfig puts it on sys.path."""
    _configured(mast_render, OUT / "import-check-negative", drop_extra_config=True)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mast_authenticator")


def test_cli_refuses_values_rendered_for_another_port(mast_render: Rendered) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "astrohub.localhub",
            "--values",
            str(mast_render.values),
            "--secrets",
            str(mast_render.secrets),
            "--homes",
            str(OUT / "cli" / "homes"),
            "--port",
            str(mast_render.port + 1),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "does not point at this hub" in done.stderr
    assert "ASTROHUB_LOCAL_HUB_HOST=127.0.0.1:" in done.stderr
