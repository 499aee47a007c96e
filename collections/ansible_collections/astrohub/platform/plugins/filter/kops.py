"""Filters for the kops cluster: what to do with it (astrohub.kops), and its name in each
generation (astrohub.generations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub import generations, kops


def kops_decision(desired: str, current_stdout: str, rc: int, stderr: str = "") -> dict[str, Any]:
    """{'action': 'create' | 'replace' | 'none', 'diff': [...]} for the desired manifest."""
    decision = kops.decide(desired, current_stdout, int(rc), stderr)
    return {"action": decision.action, "diff": list(decision.diff)}


def cluster_name(namespace: str, generation: int = 0) -> str:
    """The kops cluster name of a deployment's cluster generation."""
    return generations.cluster_name(namespace, int(generation))


class FilterModule:
    """astrohub.platform kops filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"kops_decision": kops_decision, "cluster_name": cluster_name}
