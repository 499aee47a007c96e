"""Broken inputs stop plan mode with a clear message: the platform's own Ansible modules,
run as Ansible runs them, on a typo in the helm values, a wrong type, an unknown kops field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from astrohub_local.runner import REPO
from pinned import CHART, KOPS_CRDS

KOPS_DESIRED = REPO / "tests" / "data" / "kops" / "desired.yaml"


def run_module(module: str, args: dict[str, object]) -> dict[str, object]:
    """Run one module on localhost with the project's Python, as a playbook task would."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            module,
            "-a",
            json.dumps(args),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def chart_render(tmp_path: Path, values: dict[str, object]) -> dict[str, object]:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return run_module(
        "astrohub.platform.chart_render",
        {
            "chart": str(CHART),
            "values_files": [str(values_file)],
            "release": "jupyterhub",
            "namespace": "astrohub",
            "kubernetes_version": "1.35.1",
            "dest": str(tmp_path / "rendered.yaml"),
        },
    )


def test_good_values_render(tmp_path: Path) -> None:
    result = chart_render(tmp_path, {"singleuser": {"defaultUrl": "/lab"}})
    assert not result.get("failed"), result.get("msg")
    assert (tmp_path / "rendered.yaml").read_text().count("kind: Deployment") >= 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"singleuser": {"storage": {"tyep": "static"}}},
            "singleuser.storage: Additional properties are not allowed ('tyep' was unexpected)",
        ),
        ({"cull": {"timeout": "soon"}}, "cull.timeout: 'soon' is not of type"),
    ],
    ids=["typo-key", "wrong-type"],
)
def test_broken_values_are_refused(tmp_path: Path, values: dict, message: str) -> None:
    result = chart_render(tmp_path, values)
    assert result.get("failed") is True
    assert "the values do not fit the chart's schema" in result["msg"]
    assert message in result["msg"]
    assert not (tmp_path / "rendered.yaml").exists()


def test_unknown_kops_field_is_refused(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all(KOPS_DESIRED.read_text()))
    cluster = next(d for d in docs if d and d["kind"] == "Cluster")
    cluster["spec"]["netwrokID"] = cluster["spec"].pop("networkID")
    broken = tmp_path / "kops-cluster.yaml"
    broken.write_text(yaml.safe_dump_all([d for d in docs if d]))
    result = run_module(
        "astrohub.platform.validate_manifests",
        {"path": str(broken), "schema": "kops", "crd_dir": str(KOPS_CRDS)},
    )
    assert result.get("failed") is True
    assert "('netwrokID' was unexpected)" in result["msg"]


def test_unknown_kubernetes_field_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "pv.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": "x"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "reclaimPolicy": "Retain",
                },
            }
        )
    )
    result = run_module(
        "astrohub.platform.validate_manifests",
        {"path": str(manifest), "schema": "kubernetes", "kubernetes_version": "1.35.1"},
    )
    assert result.get("failed") is True
    assert "PersistentVolume/x" in result["msg"] and "reclaimPolicy" in result["msg"]
