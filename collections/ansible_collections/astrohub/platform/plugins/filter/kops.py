"""Filter deciding what to do with the kops cluster (logic and tests in astrohub.kops)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub import kops


def kops_decision(desired: str, current_stdout: str, rc: int, stderr: str = "") -> dict[str, Any]:
    """{'action': 'create' | 'replace' | 'none', 'diff': [...]} for the desired manifest."""
    decision = kops.decide(desired, current_stdout, int(rc), stderr)
    return {"action": decision.action, "diff": list(decision.diff)}


class FilterModule:
    """astrohub.platform kops filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"kops_decision": kops_decision}
