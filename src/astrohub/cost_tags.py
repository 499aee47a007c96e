"""Cost allocation tags: which of the deployment's tag keys AWS billing may break costs down
by (the ``cost_allocation_tag`` module; Billing's Cost Allocation Tags, in Cost Explorer's API).

AWS lists a user-defined tag key only once billing has seen it on a resource (up to 24 hours
after tagging), and only an organization's management account, or an account outside any
organization, may read or change the list (others get ``AccessDeniedException``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Outcome:
    activated: list[str] = field(default_factory=list)  # this run (would, in check mode)
    active: list[str] = field(default_factory=list)  # after the run
    pending: list[str] = field(default_factory=list)  # not seen by billing yet
    refused: bool = False  # this account may not manage them

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def statuses(client: Any, keys: list[str]) -> dict[str, str]:
    """Active or Inactive by tag key, for the keys AWS billing knows."""
    found = {}
    pages = client.get_paginator("list_cost_allocation_tags").paginate(
        TagKeys=keys, Type="UserDefined"
    )
    for page in pages:
        for tag in page["CostAllocationTags"]:
            found[tag["TagKey"]] = tag["Status"]
    return found


def activate(client: Any, keys: list[str], check_mode: bool = False) -> Outcome:
    """Activate every key billing knows and that is inactive. Raises what the client raises,
    but AccessDeniedException, which is an Outcome with ``refused``."""
    keys = sorted(set(keys))
    try:
        known = statuses(client, keys)
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "AccessDeniedException":
            raise
        return Outcome(refused=True)
    outcome = Outcome(
        activated=[k for k in keys if known.get(k) == "Inactive"],
        active=[k for k in keys if known.get(k) in ("Active", "Inactive")],
        pending=[k for k in keys if k not in known],
    )
    if outcome.activated and not check_mode:
        errors = client.update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in outcome.activated]
        )["Errors"]
        if errors:
            raise RuntimeError(
                "AWS did not activate every cost allocation tag: "
                + "; ".join(f"{e['TagKey']}: {e['Code']} {e['Message']}" for e in errors)
            )
    return outcome
