"""The operator's path (the `deployment` fixture): an inventory shaped like hosts.example (the
ci_node group empty), the CI node found in AWS by its tag and reached over real SSH (an sshd on
loopback, a non-root user with passwordless sudo, the key the deploy imported), cluster_tools
installing the pinned tools there with become from a loopback mirror at the upstream paths,
verified; from the first call into a cluster on, plan mode. deploy.yml (first with Ansible's own
strategy, as the runbook runs it), each tag alone, auth.yml (test_auth_playbook.py)
and teardown.yml."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from astrohub.unprivileged import scratch_dir
from deployments import Deployment, write_node_vars
from layered_values import deployed_values
from pinned import KOPS_VERSION
from release_stand_ins import HELM, KOPS, KUBECTL, publish

KUBERNETES_TAGS = ["cluster_tools", "kops_cluster", "efs_csi", "jupyterhub"]
# The AWS roles share one play on this machine, so one of them shows what a tag of that play
# reaches: efs_home, the one that finds the most of the other layers' ids by itself. (Each AWS
# role's no-change re-run is molecule's idempotence step and TestDeploy's second run.)
AWS_TAGS = ["efs_home"]


def fingerprint(public_key_file: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[1]


def test_the_deploy_finds_the_node_by_tag_and_reaches_it_over_ssh(
    deployment: Deployment,
) -> None:
    assert deployment.first is not None and deployment.node is not None
    instance = deployment.ci_node_id()
    # The ci_node group was empty: the only way in is the instance found by its tags.
    assert set(deployment.first.stats) == {"localhost", instance}
    assert deployment.first.stats[instance]["changed"] > 0
    # It logged in as the non-root user with the key pair the deploy imported.
    imported = Path(deployment.settings["ci_node_ssh_public_key_file"])
    accepted = deployment.node.accepted_keys()
    assert accepted and set(accepted) == {fingerprint(imported)}
    authorized = deployment.node.authorized_keys.read_text().split()[:2]
    assert authorized == imported.read_text().split()[:2]


def test_cluster_tools_installed_the_verified_tools_with_become(deployment: Deployment) -> None:
    bin_dir = Path(deployment.settings["ci_node_ssh_private_key_file"]).parent / "bin"
    for tool, content in (("kops", KOPS), ("kubectl", KUBECTL), ("helm", HELM)):
        path = bin_dir / tool
        assert path.read_bytes() == content, tool
        info = path.stat()
        assert (info.st_uid, info.st_mode & 0o777) == (0, 0o755), tool  # installed as root
    # kops had no recorded digest: it was checked against its release's checksum file.
    sha_file = f"/kubernetes/kops/releases/download/v{KOPS_VERSION}/kops-linux-amd64.sha256"
    assert sha_file in deployment.mirror["requested"]
    assert deployment.first is not None
    assert "kops-linux-amd64.sha256, published by the kops release" in deployment.first.output
    venv_python = Path(deployment.settings["ci_node_python_venv"]) / "bin" / "python"
    probe = subprocess.run(
        [str(venv_python), "-c", "import kubernetes, yaml"], capture_output=True, check=False
    )
    assert probe.returncode == 0, probe.stderr


def test_the_plan_was_rendered_with_letsencrypt(deployment: Deployment) -> None:
    values = deployed_values(deployment.build)
    https = values["proxy"]["https"]
    assert https["enabled"] is True and https["type"] == "letsencrypt"
    assert https["hosts"] == ["hub.example.org"]
    assert https["letsencrypt"]["contactEmail"] == "ops@example.org"


def test_each_tag_alone_reaches_the_hosts_it_needs(deployment: Deployment) -> None:
    """Only the bootstrap play adds the node to its group: a Kubernetes tag that skips it must
    still reach the node; an AWS tag needs only this machine."""
    instance = deployment.ci_node_id()
    tags = KUBERNETES_TAGS + AWS_TAGS
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda t: deployment.run("deploy.yml", tags=[t]), tags)
        results = dict(zip(tags, runs, strict=True))
    for tag, result in results.items():
        assert result.returncode == 0, (tag, result.failures or result.output[-3000:])
        assert result.changed == 0, (tag, result.changes)
        if tag in KUBERNETES_TAGS:
            assert result.stats[instance]["ok"] > 0, (tag, result.stats)
        else:
            assert set(result.stats) == {"localhost"}, (tag, result.stats)


@pytest.mark.parametrize("tags", [[], ["kubernetes"]], ids=["release", "kubernetes"])
def test_teardown_reaches_the_node_over_ssh(tags: list[str], deployment: Deployment) -> None:
    result = deployment.run("teardown.yml", tags=tags)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    assert result.stats[deployment.ci_node_id()]["ok"] > 0
    assert "plan: copy the hub's database to s3://" in result.output
    assert f"then helm uninstall jupyterhub --namespace {deployment.namespace}" in result.output
    kops_delete = f"plan: kops delete cluster --name {deployment.cluster}"
    assert (kops_delete in result.output) == bool(tags)


def test_a_tampered_download_is_refused_and_nothing_installed(deployment: Deployment) -> None:
    """The mirror serves a kops that is not the one its release's checksum names."""
    publish(deployment.mirror["root"], kops=KOPS + b"# tampered\n")
    empty = scratch_dir("ssh-tampered-")
    keys = Path(deployment.settings["ci_node_ssh_private_key_file"]).parent
    write_node_vars(
        deployment.inventory, bin_dir=empty, cache_dir=empty / "cache", python_client=False
    )
    try:
        result = deployment.run("deploy.yml", tags=["cluster_tools"])
        assert result.returncode != 0
        assert "checksum" in json.dumps(result.failures).lower()
        assert [p.name for p in empty.iterdir()] == ["cache"]
    finally:
        publish(deployment.mirror["root"])
        write_node_vars(deployment.inventory, bin_dir=keys / "bin", cache_dir=keys / "cache")
        shutil.rmtree(empty, ignore_errors=True)
