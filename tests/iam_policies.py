"""The CI node's IAM policies as the ci_node role renders them, the requests kops makes (from
tests/data/iam/kops-calls.yaml, copied from the kops reference), and an IAM policy evaluator
(@cloud-copilot/iam-simulate, run by tests/iam/simulate.mjs) to decide them.

Used by tests/unit/test_ci_node_policy.py and by `make lint` (tests/iam/parliament_lint.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from astrohub.generations import cluster_name

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "tests" / "iam"
CALLS = REPO / "tests" / "data" / "iam" / "kops-calls.yaml"
NODE_ROLES = REPO / "tests" / "data" / "iam" / "kops-node-roles.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# The longest deployment_namespace the schema accepts (a DNS label of 20 characters).
LONGEST_NAMESPACE = "a" + "b" * 18 + "c"


@dataclass(frozen=True)
class Rendered:
    """The rendered documents of one namespace, for the cluster generations the CI node
    manages; ``cluster`` is the newest (the one an upgrade builds)."""

    namespace: str
    boundary_arn: str
    policies: dict[str, Any]
    generations: tuple[int, ...] = (0,)

    @property
    def cluster(self) -> str:
        return cluster_name(self.namespace, self.generations[-1])

    def identity(self) -> dict[str, Any]:
        """The policies attached to the CI node's role (all but the kops roles' boundary)."""
        return {k: v for k, v in self.policies.items() if k != "kops-nodes-boundary"}

    def placeholders(self) -> dict[str, str]:
        return {
            "account": ACCOUNT,
            "region": REGION,
            "ns": self.namespace,
            "cluster": self.cluster,
            "queue": self.cluster.replace(".", "-") + "-nth",
            "bucket": f"{self.namespace}-kops-state",
            "boundary": self.boundary_arn,
        }


def render(namespace: str, generations: tuple[int, ...] = (0,)) -> Rendered:
    """Render with the role's own templates and tasks (an ansible-playbook run, no AWS), for
    the clusters of these generations (the live one, and an upgrade's new one)."""
    # One file per run: lint and the unit tests may render the same namespace side by side.
    (REPO / "build" / "iam").mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=REPO / "build" / "iam")) / f"{namespace}.json"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(HERE / "render_policies.yml"),
            "-e",
            json.dumps(
                {
                    "deployment_namespace": namespace,
                    "ci_node_cluster_names": [cluster_name(namespace, g) for g in generations],
                    "out": str(out),
                    "ansible_python_interpreter": sys.executable,
                }
            ),
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rendering the policies failed:\n{done.stdout[-3000:]}")
    data = json.loads(out.read_text())
    return Rendered(namespace, data["boundary_arn"], data["policies"], generations)


@dataclass
class Request:
    """One IAM authorization request: what AWS evaluates for one action on one resource."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def as_input(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "context": self.context}


def _fill(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, Mapping):
        return {_fill(k, names): _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def tag_context(prefix: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """aws:RequestTag/* (with aws:TagKeys) or aws:ResourceTag/* for a set of tags."""
    context: dict[str, Any] = {f"aws:{prefix}/{k}": v for k, v in tags.items()}
    if prefix == "RequestTag":
        context["aws:TagKeys"] = list(tags)
    return context


def kops_calls() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CALLS.read_text())
    return data


def kops_requests(rendered: Rendered) -> list[Request]:
    """Every request of kops-calls.yaml, for this namespace."""
    data = kops_calls()
    names = rendered.placeholders()
    resources = _fill(data["resources"], names)
    tag_sets = _fill(data["tag_sets"], names)
    requests = []
    for call in data["calls"]:
        context: dict[str, Any] = {}
        if "request" in call:
            context |= tag_context("RequestTag", tag_sets[call["request"]])
        if "resource" in call:
            context |= tag_context("ResourceTag", tag_sets[call["resource"]])
        context |= _fill(call.get("context") or {}, names)
        requests.append(
            Request(
                call["action"],
                resources[
                    "any" if call.get("evaluate_on_any_resource") else call.get("target", "any")
                ],
                context,
                f"{call['phase']}: {call['action']} on {call.get('target', '*')} "
                f"({call['source']})",
            )
        )
    return requests


def simulate(
    identity: Mapping[str, Any],
    requests: Sequence[Request],
    *,
    principal: str,
    boundary: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Each request decided by the evaluator: {"result": Allowed|ExplicitlyDenied|...}."""
    payload = {
        "principal": principal,
        "account": ACCOUNT,
        "identityPolicies": dict(identity),
        "boundary": boundary,
        "requests": [r.as_input() for r in requests],
    }
    done = subprocess.run(
        ["node", str(HERE / "simulate.mjs")],
        input=json.dumps(payload),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the IAM evaluator failed:\n{done.stderr[-3000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
