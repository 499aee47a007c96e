"""The operator's path: an inventory shaped like hosts.example (the ci_node group empty), the CI
node found in AWS by its tag and reached over real SSH (an sshd on loopback, a non-root user with
passwordless sudo, the key the deploy imported), cluster_tools installing the pinned tools there
with become from a loopback mirror at the upstream paths, verified; from the first call into a
cluster on, plan mode. deploy.yml, each of its tags alone, auth.yml and teardown.yml."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from astrohub.emulator import EmulatorProcess
from astrohub.runner import REPO, PlaybookResult, run_playbook
from astrohub.unprivileged import scratch_dir
from loopback_server import serving
from pinned import FIXTURES, KOPS_VERSION, KUBERNETES_VERSION, VERSIONS
from ssh_node import SshNode, ssh_node

NAMESPACE = "astrohub-ssh"
HELM_VERSION = VERSIONS["helm_version"]
# Stand-ins for the releases, with their digests fixed here (not computed from what is served).
KOPS = b"#!/bin/sh\necho 'Client version: 1.36.2 (loopback stand-in)'\n"
KUBECTL = b"#!/bin/sh\necho 'Client Version: v1.35.1 (loopback stand-in)'\n"
KUBECTL_SHA256 = "0827672412ed5008fbc9673bb305810320922c5154aa583de2ce2daf80361552"
HELM = b"#!/bin/sh\necho 'v3.21.4 (loopback stand-in)'\n"
HELM_SHA256 = "24d5fc8aa241fca9690d4116dd6d5ec2191933e27930eed5a9fedeaecdd34e70"
KUBERNETES_TAGS = ["cluster_tools", "kops_cluster", "efs_csi", "jupyterhub"]
AWS_TAGS = ["network", "ci_node", "state_store", "efs_home", "image_registry"]


def helm_tarball() -> bytes:
    """helm's release tarball layout (linux-amd64/helm), byte for byte repeatable."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size, info.mode, info.mtime = len(HELM), 0o755, 0
        tar.addfile(info, io.BytesIO(HELM))
    return gzip.compress(raw.getvalue(), mtime=0)


def publish(root: Path, kops: bytes, kops_sha256: str) -> None:
    """The releases at their upstream paths; kops with the checksum file its release has."""
    files = {
        f"kubernetes/kops/releases/download/v{KOPS_VERSION}/kops-linux-amd64": kops,
        f"kubernetes/kops/releases/download/v{KOPS_VERSION}/kops-linux-amd64.sha256": (
            kops_sha256 + "\n"
        ).encode(),
        f"release/v{KUBERNETES_VERSION}/bin/linux/amd64/kubectl": KUBECTL,
        f"helm-v{HELM_VERSION}-linux-amd64.tar.gz": helm_tarball(),
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator of this module's own: what these runs build, nobody else resets."""
    with EmulatorProcess(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture(scope="module")
def node(emulator: EmulatorProcess) -> Iterator[SshNode]:
    with ssh_node(emulator.url, f"{NAMESPACE}-ci-node") as running:
        yield running


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    assert hashlib.sha256(KUBECTL).hexdigest() == KUBECTL_SHA256
    assert hashlib.sha256(helm_tarball()).hexdigest() == HELM_SHA256
    root = tmp_path_factory.mktemp("releases")
    publish(root, KOPS, hashlib.sha256(KOPS).hexdigest())
    with serving(root) as (base, requested):
        yield {"base": base, "requested": requested, "root": root}


@pytest.fixture(scope="module")
def inventory(
    tmp_path_factory: pytest.TempPathFactory,
    emulator: EmulatorProcess,
    node: SshNode,
    mirror: dict[str, Any],
) -> Path:
    """hosts.example as an operator copies it, the repository's group_vars/all, the site's
    settings beside them, and what is particular to the host that plays the node."""
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
        "deployment_namespace": NAMESPACE,
        "aws_endpoint_url": emulator.url,
        "aws_endpoint_must_be_loopback": True,
        "plan_only": True,
        "artifact_offline_cache": str(FIXTURES),
        "download_mirror": mirror["base"],
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
    }
    # Loaded after main.yml and versions.yml (files of a group_vars directory load in order).
    (site / "group_vars" / "all" / "zz-site.yml").write_text(yaml.safe_dump(settings))
    node_vars(site / "hosts", bin_dir=keys / "bin", cache_dir=keys / "cache")
    (keys / "bin").mkdir(mode=0o755)
    return site / "hosts"


def node_vars(inventory: Path, *, bin_dir: Path, cache_dir: Path, python_client: bool = True):
    """What is particular to the host that plays the node: it is Debian (no dnf packages), and
    the tools must not go into this machine's /usr/local/bin."""
    (inventory.parent / "group_vars" / "ci_node.yml").write_text(
        yaml.safe_dump(
            {
                "cluster_tools_bin_dir": str(bin_dir),
                "cluster_tools_cache_dir": str(cache_dir),
                "cluster_tools_system_packages": [],
                "cluster_tools_python_client": python_client,
            }
        )
    )


def run(
    playbook: str,
    emulator: EmulatorProcess,
    inventory: Path,
    *,
    tags: list[str] | None = None,
) -> PlaybookResult:
    # The install of the Kubernetes Python client on the node uses the package index (pip,
    # through sudo in the SSH session); everything else stays on loopback.
    return run_playbook(
        playbook,
        emulator.url,
        inventory=inventory,
        tags=tags or (),
        env={k: v for k, v in os.environ.items() if k != "ASTROHUB_FIXTURES"},
    )


def ci_node_id(emulator: EmulatorProcess) -> str:
    ec2 = boto3.client(
        "ec2",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [f"{NAMESPACE}-ci-node"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    instance_id: str = instance["InstanceId"]
    return instance_id


def fingerprint(public_key_file: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[1]


@pytest.fixture(scope="module")
def deployed(emulator: EmulatorProcess, inventory: Path, node: SshNode) -> dict[str, Any]:
    first = run("deploy.yml", emulator, inventory)
    assert first.returncode == 0, first.failures or first.output[-4000:]
    return {
        "first": first,
        "settings": yaml.safe_load(
            inventory.with_name("group_vars").joinpath("all", "zz-site.yml").read_text()
        ),
    }


def test_the_deploy_finds_the_node_by_tag_and_reaches_it_over_ssh(
    deployed: dict[str, Any], emulator: EmulatorProcess, node: SshNode
) -> None:
    first: PlaybookResult = deployed["first"]
    instance = ci_node_id(emulator)
    # The ci_node group was empty: the only way in is the instance found by its tags.
    assert set(first.stats) == {"localhost", instance}
    assert first.stats[instance]["changed"] > 0
    # It logged in as the non-root user with the key pair the deploy imported.
    imported = Path(deployed["settings"]["ci_node_ssh_public_key_file"])
    assert node.accepted_keys() and set(node.accepted_keys()) == {fingerprint(imported)}
    assert node.authorized_keys.read_text().split()[:2] == imported.read_text().split()[:2]


def test_cluster_tools_installed_the_verified_tools_with_become(
    deployed: dict[str, Any], mirror: dict[str, Any]
) -> None:
    settings = deployed["settings"]
    bin_dir = Path(settings["ci_node_ssh_private_key_file"]).parent / "bin"
    for tool, content in (("kops", KOPS), ("kubectl", KUBECTL), ("helm", HELM)):
        path = bin_dir / tool
        assert path.read_bytes() == content, tool
        info = path.stat()
        assert (info.st_uid, info.st_mode & 0o777) == (0, 0o755), tool  # installed as root
    # kops had no recorded digest: it was checked against its release's checksum file.
    assert (
        f"/kubernetes/kops/releases/download/v{KOPS_VERSION}/kops-linux-amd64.sha256"
        in (mirror["requested"])
    )
    assert "kops-linux-amd64.sha256, published by the kops release" in deployed["first"].output
    venv_python = Path(settings["ci_node_python_venv"]) / "bin" / "python"
    probe = subprocess.run(
        [str(venv_python), "-c", "import kubernetes, yaml"], capture_output=True, check=False
    )
    assert probe.returncode == 0, probe.stderr


def test_the_plan_was_rendered_with_letsencrypt(deployed: dict[str, Any]) -> None:
    values = yaml.safe_load((REPO / "build" / NAMESPACE / "jupyterhub-values.yaml").read_text())
    https = values["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "letsencrypt"
    assert https["hosts"] == ["hub.example.org"]
    assert https["letsencrypt"]["contactEmail"] == "ops@example.org"


def test_a_second_deploy_changes_nothing(
    deployed: dict[str, Any], emulator: EmulatorProcess, inventory: Path
) -> None:
    again = run("deploy.yml", emulator, inventory)
    assert again.returncode == 0, again.failures
    assert set(again.stats) == {"localhost", ci_node_id(emulator)}
    assert again.changed == 0, again.changes


def test_each_tag_alone_reaches_the_hosts_it_needs(
    deployed: dict[str, Any], emulator: EmulatorProcess, inventory: Path
) -> None:
    instance = ci_node_id(emulator)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(
            zip(
                AWS_TAGS + KUBERNETES_TAGS,
                pool.map(
                    lambda tag: run("deploy.yml", emulator, inventory, tags=[tag]),
                    AWS_TAGS + KUBERNETES_TAGS,
                ),
                strict=True,
            )
        )
    for tag, result in results.items():
        assert result.returncode == 0, (tag, result.failures or result.output[-3000:])
        assert result.changed == 0, (tag, result.changes)
        reached = set(result.stats)
        if tag in KUBERNETES_TAGS:
            assert instance in reached and result.stats[instance]["ok"] > 0, (tag, result.stats)
        else:
            assert reached == {"localhost"}, (tag, reached)


def test_auth_reaches_the_node_over_ssh(
    deployed: dict[str, Any], emulator: EmulatorProcess, inventory: Path
) -> None:
    instance = ci_node_id(emulator)
    for _ in range(2):
        result = run("auth.yml", emulator, inventory)
        assert result.returncode == 0, result.failures or result.output[-3000:]
        assert result.stats[instance]["ok"] > 0
    # The first run writes jupyterhub-auth.yaml for review; the second changes nothing.
    assert result.changed == 0, result.changes


@pytest.mark.parametrize("tags", [[], ["kubernetes"]], ids=["release", "kubernetes"])
def test_teardown_reaches_the_node_over_ssh(
    tags: list[str], deployed: dict[str, Any], emulator: EmulatorProcess, inventory: Path
) -> None:
    instance = ci_node_id(emulator)
    result = run("teardown.yml", emulator, inventory, tags=tags)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    assert result.stats[instance]["ok"] > 0
    assert f"helm uninstall jupyterhub --namespace {NAMESPACE}" in result.output
    if tags:
        assert f"kops delete cluster --name {NAMESPACE}.k8s.local" in result.output


def test_a_tampered_download_is_refused_and_nothing_installed(
    deployed: dict[str, Any], emulator: EmulatorProcess, inventory: Path, mirror: dict[str, Any]
) -> None:
    """The mirror serves a kops that is not the one its release's checksum names."""
    publish(mirror["root"], KOPS + b"# tampered\n", hashlib.sha256(KOPS).hexdigest())
    empty = scratch_dir("ssh-tampered-")
    keys = Path(deployed["settings"]["ci_node_ssh_private_key_file"]).parent
    node_vars(inventory, bin_dir=empty, cache_dir=empty / "cache", python_client=False)
    try:
        result = run("deploy.yml", emulator, inventory, tags=["cluster_tools"])
        assert result.returncode != 0
        assert "checksum" in json.dumps(result.failures).lower()
        assert [p.name for p in empty.iterdir()] == ["cache"]
    finally:
        publish(mirror["root"], KOPS, hashlib.sha256(KOPS).hexdigest())
        node_vars(inventory, bin_dir=keys / "bin", cache_dir=keys / "cache")
        shutil.rmtree(empty, ignore_errors=True)
