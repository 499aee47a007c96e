"""Fixtures for running the real playbooks against the emulator.

Each deployment a test reads or changes is its own: an emulator process of its own (moto's
state is process-wide, so a reset elsewhere cannot touch it) and a namespace of its own (so its
build/<namespace>/ is nobody else's, make demo's included).

``deployment``, the one most tests read, is the operator's path as in production: an inventory
shaped like hosts.example, the CI node found by its tag and reached over real SSH (an sshd on
loopback), its tools installed from a loopback mirror, the Kubernetes layer in plan mode. Its
first deploy runs with Ansible's own strategy, as the runbook does (it records the node's new
host key); later runs use the runner's faster Mitogen strategy, which insists on that key.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from astrohub.unprivileged import scratch_dir
from astrohub_local.emulator import Emulator, EmulatorProcess
from astrohub_local.runner import REPO, PlaybookResult, run_playbook
from deployments import DAY2_NAMESPACE, OPERATOR_NAMESPACE, Deployment, write_node_vars
from loopback_server import serving
from pinned import FIXTURES
from release_stand_ins import HELM_SHA256, KUBECTL_SHA256, check, publish
from ssh_node import ssh_node


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark every test that reads the operator's deployment: `make integration` runs those in
    one pytest process and the modules with deployments of their own in another, side by side,
    so each deployment is made once."""
    if "deployment" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.operator_deployment)


@pytest.fixture
def clean_emulator(aws_emulator: Emulator) -> Iterator[Emulator]:
    """The session emulator with nothing in it and its call counter at zero."""
    aws_emulator.reset()
    yield aws_emulator


Runner = Callable[..., PlaybookResult]


@pytest.fixture(scope="session")
def playbook(aws_emulator: Emulator) -> Runner:
    """Run a playbook from playbooks/ with the local inventory against the session emulator."""

    def run(name: str, **kwargs: Any) -> PlaybookResult:
        return run_playbook(name, aws_emulator.url, **kwargs)

    return run


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The operator's deployment over SSH (see the module docstring), deployed once."""
    check()
    releases = tmp_path_factory.mktemp("releases")
    publish(releases)
    with (
        EmulatorProcess(tmp_path_factory.mktemp("operator-emulator")) as emulator,
        ssh_node(emulator.url, f"{OPERATOR_NAMESPACE}-ci-node") as node,
        serving(releases) as (mirror_url, requested),
    ):
        site = tmp_path_factory.mktemp("site")
        shutil.copy2(REPO / "hosts.example", site / "hosts")
        (site / "group_vars" / "all").mkdir(parents=True)
        for name in ("main.yml", "versions.yml"):
            (site / "group_vars" / "all" / name).symlink_to(REPO / "group_vars" / "all" / name)
        keys = scratch_dir("ssh-operator-")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "id_ed25519")],
            check=True,
        )
        settings = {
            "deployment_namespace": OPERATOR_NAMESPACE,
            "aws_endpoint_url": emulator.url,
            "aws_endpoint_must_be_loopback": True,
            "plan_only": True,
            "artifact_offline_cache": str(FIXTURES),
            "download_mirror": mirror_url,
            "kubectl_sha256": KUBECTL_SHA256,
            "helm_sha256": HELM_SHA256,
            "ci_node_ssh_allowed_cidrs": ["192.0.2.0/24"],
            "ci_node_ssh_public_key_file": str(keys / "id_ed25519.pub"),
            "ci_node_ssh_private_key_file": str(keys / "id_ed25519"),
            "ci_node_ssh_user": node.user,
            "ci_node_ssh_host": "127.0.0.1",
            "ci_node_ssh_port": node.port,
            "ci_node_ssh_known_hosts_file": str(keys / "known_hosts"),
            "ci_node_python_venv": str(keys / "python"),
            # The production defaults for login: MAST behind Let's Encrypt.
            "auth_provider": "mast",
            "mast_client_id": "astrohub-ssh-test",
            "mast_client_secret": "not-a-real-secret-for-plan-mode",
            "mast_allowed_email_domains": ["example.org"],
            "hub_host": "hub.example.org",
            "https_letsencrypt_contact_email": "ops@example.org",
            "budget_monthly_usd": 800,
            "budget_alert_emails": ["ops@example.org"],
        }
        # Loaded after main.yml and versions.yml (files of a group_vars directory load in order).
        (site / "group_vars" / "all" / "zz-site.yml").write_text(yaml.safe_dump(settings))
        (keys / "bin").mkdir(mode=0o755)
        write_node_vars(site / "hosts", bin_dir=keys / "bin", cache_dir=keys / "cache")
        deployment = Deployment(
            OPERATOR_NAMESPACE,
            emulator,
            inventory=site / "hosts",
            settings=settings,
            node=node,
            mirror={"base": mirror_url, "requested": requested, "root": releases},
        )
        deployment.first = deployment.run("deploy.yml", strategy="linear")
        first = deployment.first
        assert first.returncode == 0, first.failures or first.output[-4000:]
        yield deployment


@contextlib.contextmanager
def _deployed(namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A whole deployment (local inventory) on an emulator of its own."""
    with EmulatorProcess(tmp_path_factory.mktemp(f"{namespace}-emulator")) as emulator:
        deployment = Deployment(namespace, emulator)
        deployment.first = deployment.run("deploy.yml")
        first = deployment.first
        assert first.returncode == 0, first.failures or first.output[-4000:]
        yield deployment


@pytest.fixture(scope="module")
def disposable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A whole deployment that the module may change or tear down."""
    namespace = "astrohub-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:10]
    with _deployed(namespace.replace("_", "-").rstrip("-"), tmp_path_factory) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def day2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment for the modules that change a deployment's settings or run the day-2
    playbooks (optional CRDS cache, upgrade, restore_home), made once: a deploy costs more than
    all their checks. Each module leaves it deployed with the default settings, but for the
    home store teardown at the end of the restore module (a later deploy or upgrade.yml, which
    imports the foundation, makes it again)."""
    with _deployed(DAY2_NAMESPACE, tmp_path_factory) as deployment:
        yield deployment
