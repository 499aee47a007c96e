"""Interrupted runs converge: deploy.yml and teardown.yml killed part-way (SIGKILL to the whole
process group, as a dropped SSH session or a closed laptop would stop them) and run again build
one copy of every resource, then report no change; the teardown ends with nothing left."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from astrohub_local.emulator import Emulator
from astrohub_local.runner import REPO, playbook_command
from aws_state import DEPLOYED_COUNTS, snapshot
from deployments import Deployment, assert_converged_without_change

NAMESPACE = "astrohub-interrupt"
# Each run is killed as the task after these begins: each has just made something (a VPC; NAT
# gateways whose elastic IPs are not tagged yet; the home file system; the CI node) whose id
# the killed run never recorded.
DEPLOY_KILLED_AFTER = [
    "Create the VPC",
    "Create the NAT gateways",
    "Create the encrypted home file system",
    "Start the CI node",
]
TEARDOWN_KILLED_AFTER = ["Delete the NAT gateways and release their elastic IPs"]


def killed_after(deployment: Deployment, playbook: str, task: str, **kwargs: Any) -> list[str]:
    """Run the playbook and kill it (and its workers) once ``task`` has finished; the tasks it
    started, for the assertion message."""
    extra = {"deployment_namespace": deployment.namespace, **kwargs.pop("extra_vars", {})}
    cmd, env = playbook_command(playbook, deployment.emulator.url, extra_vars=extra, **kwargs)
    # Ansible's plain output, task by task, instead of the runner's JSON at the end.
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    started: list[str] = []
    for line in proc.stdout:
        if not line.startswith("TASK ["):
            continue
        if started and task in started[-1]:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        started.append(line.strip())
    proc.stdout.close()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"{playbook} was not stopped after {task}: {started}"
    return started


def test_killed_deploys_and_teardown_converge(clean_emulator: Emulator) -> None:
    deployment = Deployment(NAMESPACE, clean_emulator)
    for task in DEPLOY_KILLED_AFTER:
        killed_after(deployment, "deploy.yml", task)
    result = deployment.run("deploy.yml")
    assert result.returncode == 0, result.failures or result.output[-3000:]
    state = snapshot(clean_emulator.url, NAMESPACE)
    assert {kind: len(ids) for kind, ids in state.items()} == DEPLOYED_COUNTS
    assert_converged_without_change(deployment.run("deploy.yml"))

    confirm = {"confirm_destroy": NAMESPACE}
    for task in TEARDOWN_KILLED_AFTER:
        killed_after(deployment, "teardown.yml", task, tags=["all-fixtures"], extra_vars=confirm)
    result = deployment.run("teardown.yml", tags=["all-fixtures"], extra_vars=confirm)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    left = {kind: ids for kind, ids in snapshot(clean_emulator.url, NAMESPACE).items() if ids}
    assert left == {}
    assert_converged_without_change(
        deployment.run("teardown.yml", tags=["all-fixtures"], extra_vars=confirm)
    )
