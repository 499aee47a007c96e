"""kubernetes.core's modules import the Kubernetes Python client (and PyYAML) on the CI node,
where only the venv cluster_tools installs from requirements-ci-node.lock has it. Every task of
those modules must run with that venv's python, set on the task or on an enclosing block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from astrohub_local.runner import REPO

BLOCK_KEYS = ("block", "rescue", "always")


def module_tasks(
    tasks: list[dict[str, Any]], inherited: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(task name, effective vars) of every kubernetes.core task, blocks flattened."""
    for task in tasks:
        scope = {**inherited, **(task.get("vars") or {})}
        if any(key in task for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from module_tasks(task.get(key) or [], scope)
        elif any(key.startswith("kubernetes.core.") for key in task):
            yield task.get("name", "?"), scope


def all_module_tasks() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sorted((REPO / "roles").glob("*/tasks/*.yml")):
        for name, scope in module_tasks(yaml.safe_load(path.read_text()) or [], {}):
            found.append((str(path.relative_to(REPO)), name, scope))
    return found


def test_every_kubernetes_core_task_runs_with_the_ci_node_venv() -> None:
    tasks = all_module_tasks()
    # helm (efs_csi, deploy, auth, teardown) and k8s / k8s_info are all there.
    assert len(tasks) >= 6
    for path, name, scope in tasks:
        interpreter = scope.get("ansible_python_interpreter", "")
        assert re.fullmatch(r"\{\{ \w+_kubernetes_python \}\}", interpreter), (path, name)


def test_the_roles_point_at_the_venv_cluster_tools_installs() -> None:
    for role in ("efs_csi", "jupyterhub"):
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        assert defaults[f"{role}_kubernetes_python"] == "{{ ci_node_python_venv }}/bin/python"
    tools = yaml.safe_load((REPO / "roles" / "cluster_tools" / "defaults" / "main.yml").read_text())
    assert tools["cluster_tools_python_venv"] == "{{ ci_node_python_venv }}"
    lock = (REPO / "requirements-ci-node.lock").read_text()
    assert re.search(r"^kubernetes==\S+ \\$", lock, re.M)
    assert "--hash=sha256:" in lock
