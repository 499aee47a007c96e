"""The local hub runs the hub pod of the pinned chart: the chart's own jupyterhub_config.py and
z2jh helper, on the values and secrets the deploy rendered, with only the spawner, the proxy and
the addresses swapped."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_support import NAMESPACE, OUT, Rendered

from astrohub import manifests
from astrohub.hub import mast_authenticator
from astrohub_local.localhub import (
    LocalHub,
    LocalHubError,
    demo_accounts,
    free_port,
    locate_chart,
    pinned_chart_version,
)
from pinned import CHART_VERSION, KUBERNETES_VERSION

POD_FILES = ("jupyterhub_config.py", "z2jh.py")


def _hub(rendered: Rendered, case: str, *extra: Path, port: int | None = None) -> LocalHub:
    return LocalHub(
        [*rendered.values_files, *extra],
        rendered.homes,
        port or rendered.port,
        namespace=NAMESPACE,
        state_dir=OUT / case,
    )


def chart_hub_files(chart: Path) -> dict[str, bytes]:
    """files/hub/ of a chart directory or package: what its hub ConfigMap carries."""
    if chart.is_dir():
        return {name: (chart / "files" / "hub" / name).read_bytes() for name in POD_FILES}
    with tarfile.open(chart) as tar:
        found = {}
        for name in POD_FILES:
            member = tar.extractfile(f"jupyterhub/files/hub/{name}")
            assert member is not None
            found[name] = io.BufferedReader(member).read()  # type: ignore[arg-type]
        return found


def loaded_config(hub: LocalHub, code: str) -> dict[str, Any]:
    """Load the hub's configuration file as JupyterHub does (traitlets, in a process of its own
    with the pod's environment and working directory), then run ``code``, which prints JSON."""
    config = hub.prepare()
    script = (
        "import json, sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        f"c = PyFileConfigLoader({config.name!r}, path={str(config.parent)!r}).load_config()\n"
        + code
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=hub.workdir,
        env=hub.environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(params=["mast", "github"])
def rendered(request: pytest.FixtureRequest) -> Rendered:
    result: Rendered = request.getfixturevalue(f"{request.param}_render")
    return result


def test_the_pod_carries_the_pinned_charts_own_hub_files(rendered: Rendered) -> None:
    """Byte for byte the chart's files/hub/, of the version versions.yml pins: bumping the pin
    makes every hub test load the new chart's configuration (and fail if it cannot)."""
    assert pinned_chart_version() == CHART_VERSION
    chart = locate_chart()
    assert f"jupyterhub-{CHART_VERSION}" in chart.name
    hub = _hub(rendered, f"{rendered.name}-files")
    hub.prepare()
    pod = hub.pod_root / "usr/local/etc/jupyterhub"
    assert {name: (pod / name).read_bytes() for name in POD_FILES} == chart_hub_files(chart)
    # The Secret's values.yaml is what z2jh reads: Helm's coalescing of the rendered files.
    values = yaml.safe_load((pod / "secret" / "values.yaml").read_text())
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] in (
        "github",
        "mast_authenticator.MASTOAuthenticator",
    )
    assert values["Chart"]["Name"] == "jupyterhub"


def test_the_chart_configures_the_hub_and_only_kubernetes_is_swapped(rendered: Rendered) -> None:
    hub = _hub(rendered, f"{rendered.name}-config")
    got = loaded_config(
        hub,
        "print(json.dumps({\n"
        "  'authenticator': c.JupyterHub.authenticator_class,\n"
        "  'spawner': str(c.JupyterHub.spawner_class),\n"
        "  'kube_profiles': c.KubeSpawner.profile_list,\n"
        "  'local_profiles': c.LocalProfileSpawner.profile_list,\n"
        "  'default_url': c.Spawner.default_url,\n"
        "  'services': c.JupyterHub.services,\n"
        "  'roles': c.JupyterHub.load_roles,\n"
        "  'hub_connect_url': c.JupyterHub.hub_connect_url,\n"
        "  'api_url': c.ConfigurableHTTPProxy.api_url,\n"
        "  'cookie_secret': c.JupyterHub.cookie_secret,\n"
        "  'crypt_keys': c.CryptKeeper['keys'],\n"
        "  'cmd': c.Spawner.cmd,\n"
        "}, default=str))\n",
    )
    values = hub.values
    assert got["authenticator"] == values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    assert got["default_url"] == values["singleuser"]["defaultUrl"] == "/lab"
    # The chart's KubeSpawner settings reach the local spawner unchanged.
    assert got["kube_profiles"] == got["local_profiles"] == values["singleuser"]["profileList"]
    assert "LocalProfileSpawner" in got["spawner"]
    # The deployment's kept secrets (the secrets layer), not the ones the chart would generate,
    # are what the chart's config read.
    kept = values["hub"]["config"]
    generated = hub.generated_secrets()
    assert got["cookie_secret"] == kept["JupyterHub"]["cookie_secret"]
    assert got["cookie_secret"] != generated["hub.config.JupyterHub.cookie_secret"]
    assert got["crypt_keys"] == kept["CryptKeeper"]["keys"]
    # The operators' service, with the kept token and a role that may list and stop servers.
    [operator] = [s for s in got["services"] if s["name"] == "astrohub-operator"]
    assert operator["api_token"] == values["hub"]["services"]["astrohub-operator"]["apiToken"]
    [role] = [r for r in got["roles"] if r["name"] == "astrohub-operator"]
    assert (role["services"], sorted(role["scopes"])) == (
        ["astrohub-operator"],
        ["delete:servers", "list:users", "read:servers", "read:users:activity"],
    )
    # The chart's culler, with its flags and role, started here against this hub's API.
    [culler] = [s for s in got["services"] if s["name"] == "jupyterhub-idle-culler"]
    hub_port = json.loads((hub.state_dir / "settings.json").read_text())["hub_port"]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    assert culler["command"][3] == f"--url=http://127.0.0.1:{hub_port}/hub/api"
    assert f"--timeout={values['cull']['timeout']}" in culler["command"]
    assert any(r["name"] == "jupyterhub-idle-culler" for r in got["roles"])
    # Only the addresses are the local hub's own.
    assert got["hub_connect_url"] == f"http://127.0.0.1:{hub_port}"
    assert got["api_url"].startswith("http://127.0.0.1:")
    assert got["cmd"][-1].endswith("/bin/jupyterhub-singleuser")


def test_kubespawner_builds_a_locked_down_user_pod(mast_render: Rendered) -> None:
    """The pod KubeSpawner's own make_pod builds from the chart's KubeSpawner settings (the
    JWST profile's overrides applied): no root, no capability, seccomp RuntimeDefault, a cap
    on scratch space, and valid for the cluster's Kubernetes."""
    hub = _hub(mast_render, "pod-check")
    pod = loaded_config(
        hub,
        "from kubernetes_asyncio.client import ApiClient\n"
        "from kubespawner.objects import make_pod\n"
        "k = c.KubeSpawner\n"
        "profile = next(p for p in k.profile_list if p['slug'] == 'jwst')\n"
        "o = profile['kubespawner_override']\n"
        "pod = make_pod(\n"
        "    name='jupyter-astronomer', cmd=['jupyterhub-singleuser'], port=8888,\n"
        "    image=o['image'], uid=k.uid, fs_gid=k.fs_gid,\n"
        "    allow_privilege_escalation=k.allow_privilege_escalation,\n"
        "    container_security_context=k.container_security_context,\n"
        "    pod_security_context=k.get('pod_security_context'),\n"
        "    cpu_limit=o['cpu_limit'], cpu_guarantee=o['cpu_guarantee'],\n"
        "    mem_limit=o['mem_limit'], mem_guarantee=o['mem_guarantee'],\n"
        "    extra_resource_limits=k.extra_resource_limits,\n"
        "    init_containers=k.get('init_containers'),\n"
        ")\n"
        "import asyncio\n"
        "async def serialized(pod):\n"
        "    async with ApiClient() as api:\n"
        "        return api.sanitize_for_serialization(pod)\n"
        "print(json.dumps(asyncio.run(serialized(pod))))\n",
    )
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    pod["metadata"]["namespace"] = NAMESPACE
    assert manifests.validate_kubernetes([pod], KUBERNETES_VERSION) == []
    spec = pod["spec"]
    assert not spec.get("initContainers"), "no init container (the iptables one runs as root)"
    (container,) = spec["containers"]
    context = container["securityContext"]
    assert context["runAsUser"] == 1000
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["fsGroup"] == 100
    assert container["resources"]["limits"]["ephemeral-storage"] == "20Gi"


def test_the_authenticator_is_imported_from_its_pod_directory(mast_render: Rendered) -> None:
    hub = _hub(mast_render, "import-check")
    got = loaded_config(
        hub,
        "import mast_authenticator\n"
        "print(json.dumps({'file': mast_authenticator.__file__, 'path': sys.path}))\n",
    )
    mounted = "/usr/local/etc/jupyterhub/astrohub/mast_authenticator.py"
    assert got["file"] == str(hub.pod_root / mounted.lstrip("/"))
    assert Path(got["file"]).read_text() == Path(mast_authenticator.__file__).read_text()
    assert "/usr/local/etc/jupyterhub/astrohub" in got["path"]  # put there by extraConfig


def test_without_the_extra_config_the_authenticator_is_not_importable(
    mast_render: Rendered, tmp_path: Path
) -> None:
    """As in the pod: a mounted file is importable only once extraConfig puts it on sys.path."""
    files = list(mast_render.values_files)
    (auth,) = [i for i, f in enumerate(files) if f.name.endswith("-auth.yaml")]
    values = yaml.safe_load(files[auth].read_text())
    del values["hub"]["extraConfig"]["00-astrohub-modules"]
    files[auth] = tmp_path / files[auth].name
    files[auth].write_text(yaml.safe_dump(values))
    hub = LocalHub(
        files,
        mast_render.homes,
        mast_render.port,
        namespace=NAMESPACE,
        state_dir=OUT / "import-check-negative",
    )
    got = loaded_config(
        hub,
        "try:\n"
        "    import mast_authenticator\n"
        "    print(json.dumps({'imported': True}))\n"
        "except ModuleNotFoundError:\n"
        "    print(json.dumps({'imported': False}))\n",
    )
    assert got == {"imported": False}


def test_the_mast_render_ships_the_authenticator(mast_render: Rendered) -> None:
    hub = _hub(mast_render, "mast-values")
    hub.prepare()
    config = hub.values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "mast_authenticator.MASTOAuthenticator"
    assert config["MASTOAuthenticator"]["token_in_notebooks"] is True
    assert config["Authenticator"]["enable_auth_state"] is True
    assert config["MASTOAuthenticator"]["client_id"] == "astrohub-local-demo"
    assert config["MASTOAuthenticator"]["client_secret"]  # from the secrets file
    files = hub.values["hub"]["extraFiles"]["mast-authenticator"]
    shipped = Path(mast_authenticator.__file__).read_text()
    assert files["stringData"].rstrip("\n") == shipped.rstrip("\n")


def test_demo_accounts_are_let_in_by_the_rendered_allow_lists(
    mast_render: Rendered, github_render: Rendered
) -> None:
    mast = _hub(mast_render, "mast-accounts")
    mast.prepare()
    cfg = mast.values["hub"]["config"]["MASTOAuthenticator"]
    admin, user = demo_accounts(mast.values)
    assert admin.email.lower() in {a.lower() for a in cfg["admin_users"]}
    assert user.email.partition("@")[2] in cfg["allowed_email_domains"] or (
        user.email in cfg["allowed_users"]
    )
    github = _hub(github_render, "github-accounts")
    github.prepare()
    cfg = github.values["hub"]["config"]["GitHubOAuthenticator"]
    admin, user = demo_accounts(github.values)
    assert admin.login in cfg["admin_users"]
    assert user.orgs & set(cfg["allowed_organizations"]) or user.login in cfg["allowed_users"]


def test_a_callback_for_another_hub_is_refused(mast_render: Rendered) -> None:
    hub = _hub(mast_render, "wrong-port", port=mast_render.port + 1)
    with pytest.raises(LocalHubError, match="does not point at this hub"):
        hub.start()
    assert hub.process is None


def test_a_misplaced_hub_config_section_stops_the_hub(mast_render: Rendered, tmp_path: Path):
    """The chart's own check: a lower-case hub.config section is fatal."""
    port = free_port()  # the session's MAST hub may be up on the rendered one
    callback = f"http://127.0.0.1:{port}/hub/oauth_callback"
    layer = tmp_path / "bad-section.yaml"
    layer.write_text(
        yaml.safe_dump(
            {
                "hub": {
                    "config": {
                        "loadRoles": {"x": {}},
                        "MASTOAuthenticator": {"oauth_callback_url": callback},
                    }
                }
            }
        )
    )
    hub = _hub(mast_render, "bad-section", layer, port=port)
    with pytest.raises(LocalHubError, match=r"Invalid hub\.config section name: loadRoles"):
        hub.start()
    assert hub.process is None


def test_cli_refuses_values_rendered_for_another_port(mast_render: Rendered) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "astrohub_local.localhub",
            *[arg for f in mast_render.values_files for arg in ("--values", str(f))],
            "--homes",
            str(mast_render.homes),
            "--state-dir",
            str(OUT / "cli"),
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


def test_a_taken_port_is_refused(mast_hub: LocalHub, mast_render: Rendered) -> None:
    hub = _hub(mast_render, "taken-port")
    with pytest.raises(LocalHubError, match="is taken"):
        hub.start()
