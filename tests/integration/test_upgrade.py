"""playbooks/upgrade.yml against the emulator, the Kubernetes layer in plan mode.

An upgrade builds generation N+1 beside the live N and switches to it. Here the new cluster's
manifest and release are rendered and validated beside the live ones; the record in the state
bucket decides which generation is built, resumed or retired, and (this deployment has never
built a cluster) is moved through the switch as a real upgrade moves it; the CI node's IAM
policy, read from the emulator, covers the generations the record names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from astrohub.generations import RECORD_KEY
from astrohub_local.runner import offline_env
from deployments import Deployment


def _record(deployment: Deployment) -> dict[str, Any] | None:
    s3 = deployment.clients()["s3"]
    try:
        body = s3.get_object(Bucket=f"{deployment.namespace}-kops-state", Key=RECORD_KEY)["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    loaded: dict[str, Any] = json.loads(body.read())
    return loaded


def _set_record(deployment: Deployment, record: dict[str, Any] | None) -> None:
    s3 = deployment.clients()["s3"]
    bucket = f"{deployment.namespace}-kops-state"
    if record is None:
        s3.delete_object(Bucket=bucket, Key=RECORD_KEY)
    else:
        s3.put_object(Bucket=bucket, Key=RECORD_KEY, Body=json.dumps(record).encode())


def _kops_cluster_name(path: Any) -> str:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    [cluster] = [d for d in docs if d["kind"] == "Cluster"]
    name: str = cluster["metadata"]["name"]
    return name


def _role_grants(deployment: Deployment) -> list[str]:
    """The kops-role ARNs the CI node's iam policy lets it create (in the emulator)."""
    iam = deployment.clients()["iam"]
    arn = next(
        p["Arn"]
        for p in iam.list_policies(Scope="Local")["Policies"]
        if p["PolicyName"] == f"{deployment.namespace}-ci-node-iam"
    )
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    text = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(text) if isinstance(text, str) else text
    [grant] = [s for s in document["Statement"] if s["Sid"] == "KopsRolesGrantWithinBoundary"]
    resources = grant["Resource"]
    return sorted([resources] if isinstance(resources, str) else resources)


@pytest.fixture(autouse=True)
def no_record(day2: Deployment) -> None:
    _set_record(day2, None)


def test_an_upgrade_builds_the_next_generation_beside_the_live_one(
    day2: Deployment,
) -> None:
    ns, build = day2.namespace, day2.build
    live_manifest = (build / "kops-cluster.yaml").read_text()
    kept = day2.kept_hub_secrets()
    result = day2.run("upgrade.yml", verbosity=3)
    assert result.returncode == 0, result.failures or result.output[-4000:]
    # -vvv: the hub's secrets (the new generation's values carry them) are not in the output.
    assert sum(secret in result.output for secret in kept) == 0, "a hub secret was printed"
    # The new cluster, validated against the kops CRDs, beside the live one's files.
    upgrade = build / "upgrade"
    assert _kops_cluster_name(upgrade / "kops-cluster.yaml") == f"{ns}-g1.k8s.local"
    assert (build / "kops-cluster.yaml").read_text() == live_manifest
    # Its hub must not open the database the live hub writes: a standby in-memory one.
    base = yaml.safe_load((upgrade / "jupyterhub-values" / "10-base.yaml").read_text())
    assert base["hub"]["db"] == {"type": "sqlite-memory"}
    live_base = yaml.safe_load((build / "jupyterhub-values" / "10-base.yaml").read_text())
    assert live_base["hub"]["db"]["type"] == "sqlite-pvc"
    rendered = (upgrade / "jupyterhub-rendered.yaml").read_text()
    assert "sqlite-memory" in rendered
    # The new cluster is validated, then the switch planned, then the old cluster's deletion.
    validated = result.output.index("Validate the kops manifest strictly")
    switch = result.output.index(f"helm upgrade jupyterhub on {ns}-g1.k8s.local")
    delete = result.output.index(f"plan: kops delete cluster --name {ns}.k8s.local ")
    assert validated < switch < delete
    # The CI node may build the new cluster and still manage the live one.
    account = day2.clients()["sts"].get_caller_identity()["Account"]
    assert _role_grants(day2) == [
        f"arn:aws:iam::{account}:role/*.{ns}-g1.k8s.local",
        f"arn:aws:iam::{account}:role/*.{ns}.k8s.local",
    ]
    # Never built, the deployment's record follows the plan: generation 1 is live.
    assert _record(day2) == {"live": 1, "building": None, "retiring": None}


def test_plan_mode_leaves_the_record_of_a_built_cluster_alone(day2: Deployment) -> None:
    """A cluster in the state store is real: planning an upgrade must not move the record."""
    s3 = day2.clients()["s3"]
    bucket, key = f"{day2.namespace}-kops-state", f"{day2.cluster}/config"
    s3.put_object(Bucket=bucket, Key=key, Body=b"kind: Cluster\n")
    try:
        result = day2.run("upgrade.yml")
        assert result.returncode == 0, result.failures or result.output[-4000:]
        assert _record(day2) is None
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


def test_a_rerun_resumes_the_generation_under_way(day2: Deployment) -> None:
    ns = day2.namespace
    _set_record(day2, {"live": 1, "building": 2, "retiring": None})
    result = day2.run("upgrade.yml")
    assert result.returncode == 0, result.failures or result.output[-4000:]
    assert _kops_cluster_name(day2.build / "upgrade" / "kops-cluster.yaml") == (
        f"{ns}-g2.k8s.local"
    )
    assert f"plan: kops delete cluster --name {ns}-g1.k8s.local " in result.output
    assert _record(day2) == {"live": 2, "building": None, "retiring": None}


def test_deploy_manages_the_live_generation(day2: Deployment) -> None:
    """After an upgrade to generation 1, a deploy renders generation 1's cluster, and the CI
    node's policy narrows to it."""
    ns = day2.namespace
    _set_record(day2, {"live": 1, "building": None, "retiring": None})
    result = day2.run("deploy.yml")
    assert result.returncode == 0, result.failures or result.output[-4000:]
    assert _kops_cluster_name(day2.build / "kops-cluster.yaml") == f"{ns}-g1.k8s.local"
    account = day2.clients()["sts"].get_caller_identity()["Account"]
    assert _role_grants(day2) == [f"arn:aws:iam::{account}:role/*.{ns}-g1.k8s.local"]


def test_after_an_interrupted_switch_only_the_old_cluster_goes(day2: Deployment) -> None:
    ns = day2.namespace
    _set_record(day2, {"live": 2, "building": None, "retiring": 1})
    result = day2.run("upgrade.yml")
    assert result.returncode == 0, result.failures or result.output[-4000:]
    assert "helm upgrade jupyterhub on" not in result.output  # no second switch
    assert f"plan: kops delete cluster --name {ns}-g1.k8s.local " in result.output
    # The layer converged the live generation, not a standby.
    assert _kops_cluster_name(day2.build / "kops-cluster.yaml") == f"{ns}-g2.k8s.local"
    assert _record(day2) == {"live": 2, "building": None, "retiring": None}


def test_an_upgrade_without_a_live_cluster_is_refused(day2: Deployment) -> None:
    result = day2.run("upgrade.yml", extra_vars={"plan_only": False})
    assert result.returncode != 0
    failure = "\n".join(result.failures)
    assert f"There is no cluster to upgrade: {day2.namespace}.k8s.local" in failure
    assert _record(day2) is None


def _step(deployment: Deployment, *args: str, check: bool = False) -> dict[str, Any]:
    """One call of the module, as the playbooks make it (ad hoc, against the emulator)."""
    module_args = " ".join(
        [f"bucket={deployment.namespace}-kops-state", f"namespace={deployment.namespace}", *args]
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            "astrohub.platform.cluster_generation",
            "-a",
            module_args,
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *(["--check"] if check else []),
        ],
        env={
            **offline_env(deployment.emulator.url),
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    # The JSON report, after anything Ansible prints before it.
    report = json.JSONDecoder().raw_decode(done.stdout, done.stdout.index("{"))[0]
    result: dict[str, Any] = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result


def test_the_record_moves_one_step_at_a_time_and_refuses_a_step_out_of_order(
    day2: Deployment,
) -> None:
    ns = day2.namespace
    assert _step(day2, "state=switched", "generation=1").get("failed")
    assert _record(day2) is None
    checked = _step(day2, "state=upgrading", check=True)
    assert (checked["changed"], checked["upgrade"]["new_cluster"]) == (True, f"{ns}-g1.k8s.local")
    assert _record(day2) is None, "check mode wrote the record"
    assert _step(day2, "state=upgrading")["changed"]
    assert _record(day2) == {"live": 0, "building": 1, "retiring": None}
    assert not _step(day2, "state=upgrading")["changed"], "a re-run resumes"
    refused = _step(day2, "state=switched", "generation=2")
    assert "cannot switch to generation 2" in refused["msg"]
    switched = _step(day2, "state=switched", "generation=1")
    assert switched["clusters"] == [f"{ns}.k8s.local", f"{ns}-g1.k8s.local"]
    assert _record(day2) == {"live": 1, "building": None, "retiring": 0}
    assert _step(day2, "state=retired")["live_cluster"] == f"{ns}-g1.k8s.local"
    assert _record(day2) == {"live": 1, "building": None, "retiring": None}


def test_teardown_kubernetes_deletes_every_generations_cluster(day2: Deployment) -> None:
    """Interrupted mid-upgrade, two clusters exist: -t kubernetes deletes both, and its
    leftover check looks for what kops and Kubernetes made for each."""
    ns = day2.namespace
    _set_record(day2, {"live": 1, "building": 2, "retiring": None})
    result = day2.run("teardown.yml", tags=["kubernetes"])
    assert result.returncode == 0, result.failures or result.output[-4000:]
    for cluster in (f"{ns}-g1.k8s.local", f"{ns}-g2.k8s.local"):
        assert f"plan: kops delete cluster --name {cluster} " in result.output
    assert f"--name {ns}.k8s.local " not in result.output
