"""Plan mode: the Kubernetes layer rendered into build/<namespace>/ and validated.

Reads the operator's deployment (over SSH, its own emulator, production's login: MAST behind
Let's Encrypt) and only the files the playbook wrote: every property is asserted in them,
cross-checked against the emulator's state read with boto3, and validated again here with
kubernetes-validate, the kops CRDs and the chart's schema over Helm's own coalescing of the
written values.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from typing import Any

import jsonschema
import pytest
import yaml

from astrohub import manifests
from astrohub_local.runner import REPO
from aws_state import TAG
from deployments import OPERATOR_NAMESPACE as NAMESPACE
from deployments import Deployment
from layered_values import release_values
from pinned import CHART, KOPS_CRDS
from pinned import KUBERNETES_VERSION as KUBERNETES

BUILD = REPO / "build" / NAMESPACE
PLAN_FILES = (
    "kops-cluster.yaml",
    "jupyterhub-values/10-base.yaml",
    "jupyterhub-values/99-secrets.yaml",
    "efs-home-storage.yaml",
    "jupyterhub-rendered.yaml",
)


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def foundation(deployment: Deployment) -> dict[str, Any]:
    c = deployment.clients()
    tagged = [{"Name": f"tag:{TAG}", "Values": [NAMESPACE]}]
    vpc = c["ec2"].describe_vpcs(Filters=tagged)["Vpcs"][0]
    subnets = c["ec2"].describe_subnets(Filters=tagged)["Subnets"]
    groups = c["ec2"].describe_security_groups(Filters=tagged)["SecurityGroups"]
    efs = next(
        f
        for f in c["efs"].describe_file_systems()["FileSystems"]
        if {"Key": TAG, "Value": NAMESPACE} in f["Tags"]
    )
    points = c["efs"].describe_access_points(FileSystemId=efs["FileSystemId"])["AccessPoints"]
    return {
        "vpc": vpc["VpcId"],
        "private": {s["SubnetId"] for s in subnets if not s["MapPublicIpOnLaunch"]},
        "public": {s["SubnetId"] for s in subnets if s["MapPublicIpOnLaunch"]},
        "efs_clients": next(
            g["GroupId"] for g in groups if g["GroupName"] == f"{NAMESPACE}-efs-clients"
        ),
        "fs": efs["FileSystemId"],
        "points": {
            next(t["Value"] for t in p["Tags"] if t["Key"] == "Name"): p["AccessPointId"]
            for p in points
        },
    }


@pytest.fixture(scope="module")
def kops_docs(deployment: Deployment) -> list[dict[str, Any]]:
    return manifests.load_documents((BUILD / "kops-cluster.yaml").read_text())


@pytest.fixture(scope="module")
def values(deployment: Deployment) -> dict[str, Any]:
    """The values the release runs with (what the hub Secret's values.yaml holds)."""
    return release_values(BUILD)


@pytest.fixture(scope="module")
def chart_docs(deployment: Deployment) -> list[dict[str, Any]]:
    """The chart as the playbook rendered and wrote it (not rendered again here)."""
    return manifests.load_documents((BUILD / "jupyterhub-rendered.yaml").read_text())


def test_plan_writes_the_four_files(deployment: Deployment) -> None:
    for name in PLAN_FILES:
        assert (BUILD / name).stat().st_size > 0, name


def test_written_chart_holds_no_generated_secret(deployment: Deployment) -> None:
    written = manifests.load_documents((BUILD / "jupyterhub-rendered.yaml").read_text())
    hub_secret = by_kind(written, "Secret")["hub"]
    assert set(hub_secret["data"].values()) == {"<redacted: set at install time>"}


def test_kops_manifest_passes_the_kops_crds(kops_docs: list[dict[str, Any]]) -> None:
    assert manifests.validate_kops(kops_docs, KOPS_CRDS) == []


def test_cluster_lives_in_the_platform_vpc(kops_docs, foundation) -> None:
    cluster = by_kind(kops_docs, "Cluster")[f"{NAMESPACE}.k8s.local"]["spec"]
    assert cluster["networkID"] == foundation["vpc"]
    private = {s["id"] for s in cluster["subnets"] if s["type"] == "Private"}
    utility = {s["id"] for s in cluster["subnets"] if s["type"] == "Utility"}
    assert private == foundation["private"] and utility == foundation["public"]
    assert cluster["topology"]["dns"]["type"] == "None"
    assert cluster["clusterAutoscaler"]["enabled"] is True
    assert cluster["authorization"] == {"rbac": {}}
    assert cluster["configBase"] == f"s3://{NAMESPACE}-kops-state/{NAMESPACE}.k8s.local"
    assert cluster["cloudLabels"][TAG] == NAMESPACE
    assert cluster["api"]["loadBalancer"]["type"] == "Internal"


def test_instance_groups_scale_users_from_zero_on_efs_clients(kops_docs, foundation) -> None:
    groups = by_kind(kops_docs, "InstanceGroup")
    assert set(groups) == {"control-plane-us-east-1a", "core", "users"}
    assert groups["control-plane-us-east-1a"]["spec"]["role"] == "ControlPlane"
    assert groups["core"]["spec"]["minSize"] == 1
    assert groups["users"]["spec"]["minSize"] == 0
    assert groups["users"]["spec"]["maxSize"] == 10
    for name in ("core", "users"):
        assert groups[name]["spec"]["additionalSecurityGroups"] == [foundation["efs_clients"]]
    assert "mixedInstancesPolicy" not in groups["users"]["spec"]  # spot is off by default


def test_rendered_chart_is_valid_for_the_cluster_kubernetes(chart_docs) -> None:
    assert manifests.validate_kubernetes(chart_docs, KUBERNETES) == []


def test_values_pass_the_chart_schema(values: dict[str, Any]) -> None:
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(values)]
    assert errors == []


def test_platform_defaults_reach_the_hub(values: dict[str, Any]) -> None:
    single = values["singleuser"]
    assert single["storage"]["type"] == "static"
    assert single["storage"]["static"] == {"pvcName": "home-efs", "subPath": "{escaped_username}"}
    assert (single["uid"], single["fsGid"]) == (1000, 100)
    assert single["defaultUrl"] == "/lab"
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
    assert values["hub"]["db"]["type"] == "sqlite-pvc"
    profiles = [p["display_name"] for p in single["profileList"]]
    assert profiles[-1] == "Minimal notebook" and len(profiles) == 3


def test_a_first_spawn_of_the_day_fits_its_timeout_and_says_what_it_waits_for(
    values: dict[str, Any],
) -> None:
    """A node scale-up plus a science image's first pull (README: "The first spawn of the
    day"), one warm node's room for the first user, Kubernetes events on the spawn page."""
    assert values["singleuser"]["startTimeout"] == 900
    assert values["hub"]["config"]["KubeSpawner"]["events_enabled"] is True
    assert values["hub"]["config"]["KubeSpawner"]["http_timeout"] == 120
    placeholder = values["scheduling"]["userPlaceholder"]
    assert (placeholder["enabled"], placeholder["replicas"]) == (True, 1)
    assert values["prePuller"]["continuous"]["enabled"] is True
    assert values["prePuller"]["pullProfileListImages"] is True


def test_jupyterlab_opens_without_asking_about_news(values: dict[str, Any]) -> None:
    """The Minimal profile's stock image gets the science images' settings overrides."""
    extra = values["singleuser"]["extraFiles"]["jupyterlab-overrides"]
    assert extra["mountPath"] == "/opt/conda/share/jupyter/lab/settings/overrides.json"
    overrides = json.loads(extra["stringData"])
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_network_policies_pre_puller_and_user_scheduler_are_rendered(chart_docs) -> None:
    # autohttps: the certificate manager Let's Encrypt needs has its own policy.
    policies = {"autohttps", "hub", "proxy", "singleuser"}
    assert set(by_kind(chart_docs, "NetworkPolicy")) == policies
    assert {"hook-image-puller", "continuous-image-puller"} <= set(by_kind(chart_docs, "DaemonSet"))
    assert "user-scheduler" in by_kind(chart_docs, "Deployment")
    puller = by_kind(chart_docs, "DaemonSet")["continuous-image-puller"]
    pulled = {c["image"] for c in puller["spec"]["template"]["spec"]["initContainers"]}
    assert any("/jwst:" in image for image in pulled) and any("/hst:" in image for image in pulled)


def test_hub_database_claim_binds_to_the_efs_volume(chart_docs, foundation) -> None:
    claim = by_kind(chart_docs, "PersistentVolumeClaim")["hub-db-dir"]
    assert claim["spec"]["storageClassName"] == ""
    storage = manifests.load_documents((BUILD / "efs-home-storage.yaml").read_text())
    volume = by_kind(storage, "PersistentVolume")[f"{NAMESPACE}-hub-db"]
    assert volume["spec"]["claimRef"]["name"] == "hub-db-dir"
    hub_db = foundation["points"][f"{NAMESPACE}-hub-db"]
    assert volume["spec"]["csi"]["volumeHandle"] == f"{foundation['fs']}::{hub_db}"


def test_homes_are_a_retained_efs_volume_on_the_access_point(foundation) -> None:
    storage = manifests.load_documents((BUILD / "efs-home-storage.yaml").read_text())
    assert manifests.validate_kubernetes(storage, KUBERNETES) == []
    volume = by_kind(storage, "PersistentVolume")[f"{NAMESPACE}-home"]["spec"]
    assert volume["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["accessModes"] == ["ReadWriteMany"]
    home = foundation["points"][f"{NAMESPACE}-home"]
    assert volume["csi"]["volumeHandle"] == f"{foundation['fs']}::{home}"
    claim = by_kind(storage, "PersistentVolumeClaim")["home-efs"]["spec"]
    assert claim["volumeName"] == f"{NAMESPACE}-home"


def test_secrets_file_is_private(deployment: Deployment) -> None:
    assert (BUILD / "jupyterhub-values" / "99-secrets.yaml").stat().st_mode & 0o077 == 0


METADATA = ipaddress.ip_network("169.254.169.254/32")


def _reaches_metadata(policy: dict[str, Any]) -> bool:
    """Whether a NetworkPolicy's egress lets its pods reach the cloud metadata service (HTTP on
    169.254.169.254:80; the chart's DNS-port rule to that address does not)."""
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports") or [{}]
        if not any(p.get("port", 80) <= 80 <= p.get("endPort", p.get("port", 80)) for p in ports):
            continue
        if not rule.get("to"):
            return True  # no destination restriction at all
        blocks = [peer["ipBlock"] for peer in rule["to"] if "ipBlock" in peer]
        for block in blocks:
            excluded = [ipaddress.ip_network(e) for e in block.get("except", [])]
            inside = METADATA.subnet_of(ipaddress.ip_network(block["cidr"]))
            if inside and not any(METADATA.subnet_of(e) for e in excluded):
                return True
    return False


def test_hub_proxy_and_user_pods_are_locked_down(values: dict[str, Any], chart_docs) -> None:
    """No route to the metadata service, no unused API token, requests for hub and proxy, no
    root container and no capability in a user pod, a cap on its scratch space."""
    policies = by_kind(chart_docs, "NetworkPolicy")
    assert not _reaches_metadata(policies["hub"])
    assert not _reaches_metadata(policies["singleuser"])
    deployments = by_kind(chart_docs, "Deployment")
    proxy = deployments["proxy"]["spec"]["template"]["spec"]
    assert proxy["automountServiceAccountToken"] is False
    for name, pod in (("hub", deployments["hub"]["spec"]["template"]["spec"]), ("proxy", proxy)):
        (container,) = pod["containers"]
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}, name
    single = values["singleuser"]
    # The chart's iptables init container (root, NET_ADMIN) is off; the policy blocks instead.
    assert single["cloudMetadata"]["blockWithIptables"] is False
    assert single["networkPolicy"]["egressAllowRules"]["cloudMetadataServer"] is False
    assert single["extraResource"]["limits"]["ephemeral-storage"] == "20Gi"
    context = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert context == {
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_the_scanners_find_nothing_new_in_the_rendered_output(deployment: Deployment) -> None:
    """checkov on the chart and the homes' storage as rendered, against tests/scan/baseline.yaml
    (every accepted finding with its reason)."""
    scanned = [BUILD / "jupyterhub-rendered.yaml", BUILD / "efs-home-storage.yaml"]
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "scan" / "scan.py"),
            "kubernetes",
            *map(str, scanned),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "0 problem(s)" in proc.stdout


def test_the_api_server_keeps_an_audit_log_without_secrets(kops_docs) -> None:
    """The audit policy kops installs on the control plane (a file asset the API server
    reads), valid against the kops CRDs with the rest of the manifest."""
    (cluster,) = [d for d in kops_docs if d["kind"] == "Cluster"]
    api = cluster["spec"]["kubeAPIServer"]
    assert api["auditLogPath"].startswith("/var/log/")
    assert api["auditLogMaxBackups"] > 0 and api["auditLogMaxSize"] > 0
    (asset,) = [a for a in cluster["spec"]["fileAssets"] if a["path"] == api["auditPolicyFile"]]
    assert asset["roles"] == ["ControlPlane"]
    policy = yaml.safe_load(asset["content"])
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    # The first rule that matches a Secret records metadata only, never its content.
    secret_rules = [
        r
        for r in policy["rules"]
        if any("secrets" in g.get("resources", []) for g in r.get("resources", []))
    ]
    assert secret_rules and secret_rules[0]["level"] == "Metadata"
    first_secret_rule = policy["rules"].index(secret_rules[0])
    assert all(
        "resources" in r or "nonResourceURLs" in r or r["level"] == "None"
        for r in policy["rules"][:first_secret_rule]
    )
    assert policy["rules"][-1] == {"level": "Metadata"}
