"""What `make demo` prints about the plan: groups, chart version, profiles, storage, CRDS sync."""

from __future__ import annotations

from pathlib import Path

import yaml

from astrohub_local.demo import plan_summary
from astrohub_local.runner import REPO

CLUSTER = {
    "kind": "Cluster",
    "metadata": {"name": "demo.k8s.local"},
    "spec": {
        "kubernetesVersion": "1.35.1",
        "networkID": "vpc-1",
        "topology": {"dns": {"type": "None"}},
    },
}
USERS = {
    "kind": "InstanceGroup",
    "metadata": {"name": "users"},
    "spec": {"machineType": "m6i.xlarge", "minSize": 0, "maxSize": 10},
}
VALUES = {
    "singleuser": {
        "profileList": [{"display_name": "JWST calibration"}, {"display_name": "Minimal notebook"}],
        "storage": {
            "type": "static",
            "static": {"pvcName": "home-efs", "subPath": "{escaped_username}"},
        },
    }
}


def write_plan(build: Path) -> None:
    (build / "kops-cluster.yaml").write_text(yaml.safe_dump_all([CLUSTER, USERS]))
    # Two layers, as the role renders them: the summary reads them in Helm's order.
    (build / "jupyterhub-values").mkdir()
    profiles = {"singleuser": {"profileList": [{"display_name": "replaced by the next layer"}]}}
    (build / "jupyterhub-values" / "10-base.yaml").write_text(yaml.safe_dump(profiles))
    (build / "jupyterhub-values" / "30-profiles.yaml").write_text(yaml.safe_dump(VALUES))


def test_the_plan_summary_names_what_would_be_applied(tmp_path: Path) -> None:
    write_plan(tmp_path)
    text = "\n".join(plan_summary(tmp_path))
    pinned = yaml.safe_load((REPO / "group_vars/all/versions.yml").read_text())
    assert "demo.k8s.local Kubernetes 1.35.1 in vpc-1, DNS None" in text
    assert "users" in text and "0..10 nodes" in text
    assert f"chart     jupyterhub {pinned['jupyterhub_chart_version']} (pinned)" in text
    assert "profile   JWST calibration" in text and "profile   Minimal notebook" in text
    assert "static claim home-efs, subPath {escaped_username}" in text
    assert "crds" not in text and "replaced" not in text


def test_the_shared_crds_cache_sync_is_listed_when_planned(tmp_path: Path) -> None:
    write_plan(tmp_path)
    jobs = [
        {
            "kind": "CronJob",
            "metadata": {"name": f"crds-sync-{n}"},
            "spec": {"schedule": "30 4 * * *"},
        }
        for n in ("jwst", "hst")
    ]
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "crds-sync"}, "spec": {}}
    (tmp_path / "crds-sync.yaml").write_text(yaml.safe_dump_all([policy, *jobs]))
    text = "\n".join(plan_summary(tmp_path))
    assert "sync crds-sync-jwst, crds-sync-hst at 30 4 * * *" in text
