"""Deployments the integration tests read or change: each with an emulator and a namespace of
its own (see tests/integration/conftest.py, which makes them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from astrohub_local.emulator import Emulator, EmulatorProcess
from astrohub_local.runner import REPO, PlaybookResult, run_playbook
from aws_state import clients
from ssh_node import SshNode

# The deployment most integration tests read: the operator's, over SSH.
OPERATOR_NAMESPACE = "astrohub-ssh"
# The day-2 playbooks' deployment (tests/integration/conftest.py, day2).
DAY2_NAMESPACE = "astrohub-day2"


@dataclass
class Deployment:
    """A deployment of a test's own: its emulator, namespace, inventory and first run."""

    namespace: str
    emulator: EmulatorProcess | Emulator
    inventory: Path = REPO / "inventories" / "local"
    first: PlaybookResult | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    node: SshNode | None = None
    mirror: dict[str, Any] = field(default_factory=dict)

    @property
    def build(self) -> Path:
        """What plan mode rendered (build/<namespace>/)."""
        return REPO / "build" / self.namespace

    @property
    def cluster(self) -> str:
        return f"{self.namespace}.k8s.local"

    def clients(self) -> dict[str, Any]:
        return clients(self.emulator.url)

    def kept_hub_secrets(self) -> list[str]:
        """The hub's cookie secret, CryptKeeper key and operator token, from Parameter Store."""
        found = self.clients()["ssm"].get_parameters_by_path(
            Path=f"/astrohub/{self.namespace}/hub", WithDecryption=True
        )["Parameters"]
        assert len(found) == 3, f"{len(found)} hub secrets kept for {self.namespace}"
        return [p["Value"] for p in found]

    @property
    def over_ssh(self) -> bool:
        return self.node is not None

    def run(
        self,
        playbook: str,
        *,
        tags: list[str] | tuple[str, ...] = (),
        extra_vars: dict[str, Any] | None = None,
        verbosity: int = 0,
        strategy: str | None = None,
    ) -> PlaybookResult:
        """strategy: Ansible's own `linear` as the runbook runs it; by default the runner's
        Mitogen strategy (see astrohub_local.runner.run_playbook)."""
        # The site inventory names its namespace itself; the local one gets it here.
        extra = {} if self.over_ssh else {"deployment_namespace": self.namespace}
        env = dict(os.environ)
        if self.over_ssh:
            # No offline cache but the one the site's settings name.
            env.pop("ASTROHUB_FIXTURES", None)
        result = run_playbook(
            playbook,
            self.emulator.url,
            inventory=self.inventory,
            tags=tags,
            extra_vars={**extra, **(extra_vars or {})} or None,
            verbosity=verbosity,
            env=env,
            strategy=strategy,
        )
        # Every deploy, re-run, login switch and teardown of the integration tests: no
        # deprecated module option or behaviour (item 7 of issue 9).
        assert not result.deprecations, "\n".join(result.deprecations)
        return result

    def ci_node_id(self) -> str:
        ec2 = self.clients()["ec2"]
        reservations = ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [f"{self.namespace}-ci-node"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )["Reservations"]
        [instance] = [i for r in reservations for i in r["Instances"]]
        instance_id: str = instance["InstanceId"]
        return instance_id


def write_node_vars(
    inventory: Path, *, bin_dir: Path, cache_dir: Path, python_client: bool = True
) -> None:
    """What is particular to the host that plays the CI node: it is Debian (no dnf packages),
    and the tools must not go into this machine's /usr/local/bin."""
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


def assert_converged_without_change(result: PlaybookResult) -> None:
    """A run that succeeded and changed nothing on any host."""
    assert result.returncode == 0, result.failures or result.output[-3000:]
    assert result.stats, "no play recap"
    for host, stats in result.stats.items():
        assert stats["changed"] == 0, f"{host} reported changed={stats['changed']}"
