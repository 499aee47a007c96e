"""crds_shared_cache: true end to end against the emulator, Kubernetes layer in plan mode.

The home store gets a /crds-cache access point written as jovyan (read back with boto3), the
EFS layer a retained volume and claim on it, every user's server mounts the claim read-only
with CRDS_SHARED_CACHE set for the images' start hook, and a `crds sync` CronJob per science
image (strictly valid for the cluster's Kubernetes) keeps it filled as uid 1000. A deployment
shared with the other day-2 modules (conftest.day2), which the last test turns the cache off on.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from astrohub import manifests
from astrohub_local.runner import REPO
from deployments import DAY2_NAMESPACE, Deployment
from layered_values import deployed_values, release_values
from pinned import KUBERNETES_VERSION as KUBERNETES

NAMESPACE = DAY2_NAMESPACE
BUILD = REPO / "build" / NAMESPACE
SYNC = BUILD / "crds-sync.yaml"
MOUNT = "/srv/crds-shared-cache"


@pytest.fixture(scope="module")
def with_cache(day2: Deployment) -> dict[str, Any]:
    result = day2.run("deploy.yml", extra_vars={"crds_shared_cache": True})
    assert result.returncode == 0, result.failures or result.output[-3000:]
    efs = day2.clients()["efs"]
    (fs,) = efs.describe_file_systems()["FileSystems"]
    points = efs.describe_access_points(FileSystemId=fs["FileSystemId"])["AccessPoints"]
    by_name = {next(t["Value"] for t in p["Tags"] if t["Key"] == "Name"): p for p in points}
    return {"deployment": day2, "fs": fs["FileSystemId"], "points": by_name}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_cache_has_its_own_access_point_written_as_jovyan(with_cache) -> None:
    point = with_cache["points"][f"{NAMESPACE}-crds-cache"]
    assert point["RootDirectory"]["Path"] == "/crds-cache"
    assert point["RootDirectory"]["CreationInfo"]["OwnerUid"] == 1000
    assert point["PosixUser"]["Uid"] == 1000 and point["PosixUser"]["Gid"] == 100
    assert {"Key": "astrohub:deployment", "Value": NAMESPACE} in point["Tags"]


def test_a_retained_volume_and_claim_name_the_access_point(with_cache) -> None:
    storage = manifests.load_documents((BUILD / "efs-home-storage.yaml").read_text())
    assert manifests.validate_kubernetes(storage, KUBERNETES) == []
    volume = by_kind(storage, "PersistentVolume")[f"{NAMESPACE}-crds-cache"]["spec"]
    assert volume["persistentVolumeReclaimPolicy"] == "Retain"
    point = with_cache["points"][f"{NAMESPACE}-crds-cache"]["AccessPointId"]
    assert volume["csi"]["volumeHandle"] == f"{with_cache['fs']}::{point}"
    assert volume["claimRef"]["name"] == "crds-shared-cache"
    assert by_kind(storage, "PersistentVolumeClaim")["crds-shared-cache"]["spec"]["volumeName"] == (
        f"{NAMESPACE}-crds-cache"
    )


def test_every_server_mounts_the_cache_read_only(with_cache) -> None:
    values = release_values(BUILD)
    singleuser = values["singleuser"]
    # The homes stay as they were: the cache's volume comes beside them.
    assert singleuser["storage"]["type"] == "static"
    assert singleuser["storage"]["static"]["pvcName"] == "home-efs"
    (volume,) = singleuser["storage"]["extraVolumes"]
    (mount,) = singleuser["storage"]["extraVolumeMounts"]
    assert volume["persistentVolumeClaim"] == {"claimName": "crds-shared-cache", "readOnly": True}
    assert mount == {"name": volume["name"], "mountPath": MOUNT, "readOnly": True}
    assert singleuser["extraEnv"]["CRDS_SHARED_CACHE"] == MOUNT


def test_a_sync_cronjob_per_image_writes_the_cache_as_jovyan(with_cache) -> None:
    docs = manifests.load_documents((BUILD / "crds-sync.yaml").read_text())
    assert manifests.validate_kubernetes(docs, KUBERNETES) == []
    jobs = by_kind(docs, "CronJob")
    assert set(jobs) == {"crds-sync-jwst", "crds-sync-hst"}
    # Every pod we create is selected by a NetworkPolicy: DNS and HTTPS to public addresses.
    policy = by_kind(docs, "NetworkPolicy")["crds-sync"]
    selected = policy["spec"]["podSelector"]["matchLabels"].items()
    for job in jobs.values():
        assert (
            selected <= job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].items()
        )
    assert policy["spec"]["ingress"] == []
    [dns, https] = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "169.254.0.0/16" in https["to"][0]["ipBlock"]["except"]
    values = deployed_values(BUILD)
    profiles = {
        p["slug"]: p["kubespawner_override"]["image"] for p in values["singleuser"]["profileList"]
    }
    for name, job in jobs.items():
        observatory = name.removeprefix("crds-sync-")
        assert job["metadata"]["namespace"] == NAMESPACE
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 1000
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["image"] == profiles[observatory]
        # Kept on one line (fmt: skip): it reads as the command the CronJob runs.
        assert container["command"] == [
            "crds", "sync", "--contexts", f"{observatory}-operational", "--fetch-references"
        ]  # fmt: skip
        assert {"name": "CRDS_PATH", "value": MOUNT} in container["env"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["automountServiceAccountToken"] is False
        (claim,) = pod["volumes"]
        assert claim["persistentVolumeClaim"] == {"claimName": "crds-shared-cache"}
        assert container["volumeMounts"] == [{"name": claim["name"], "mountPath": MOUNT}]


def test_the_scanners_find_nothing_new_in_the_sync(with_cache) -> None:
    """checkov on the CronJobs and their NetworkPolicy, against tests/scan/baseline.yaml."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "scan" / "scan.py"), "kubernetes", str(SYNC)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]


def test_turned_off_the_mounts_and_the_sync_go_and_the_files_stay(with_cache) -> None:
    deployment: Deployment = with_cache["deployment"]
    result = deployment.run("deploy.yml", tags=["efs_home", "efs_csi", "jupyterhub"])
    assert result.returncode == 0, result.failures or result.output[-3000:]
    assert not (BUILD / "crds-sync.yaml").exists()
    values = deployed_values(BUILD)
    assert "extraVolumes" not in values["singleuser"]["storage"]
    assert "CRDS_SHARED_CACHE" not in values["singleuser"].get("extraEnv", {})
    storage = manifests.load_documents((BUILD / "efs-home-storage.yaml").read_text())
    assert f"{NAMESPACE}-crds-cache" not in by_kind(storage, "PersistentVolume")
    # The access point (and the references under it) is left for the teardown of every fixture.
    efs = deployment.clients()["efs"]
    points = efs.describe_access_points(FileSystemId=with_cache["fs"])["AccessPoints"]
    point = with_cache["points"][f"{NAMESPACE}-crds-cache"]["AccessPointId"]
    assert point in {p["AccessPointId"] for p in points}
