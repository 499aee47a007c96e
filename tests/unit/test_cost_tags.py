"""Activating the deployment's tag keys as cost allocation tags, against botocore's own model of
Cost Explorer's API (the Stubber checks every request and answer against it)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from astrohub.cost_tags import Outcome, activate

KEY, EXTRA = "astrohub:deployment", "cost-center"
LISTED = {"TagKeys": [KEY, EXTRA], "Type": "UserDefined"}


@pytest.fixture
def ce() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _listing(*tags: tuple[str, str]) -> dict[str, object]:
    return {
        "CostAllocationTags": [{"TagKey": k, "Type": "UserDefined", "Status": s} for k, s in tags]
    }


def test_an_inactive_key_is_activated_and_an_unseen_one_left_pending(
    ce: tuple[object, Stubber],
) -> None:
    client, stubber = ce
    stubber.add_response("list_cost_allocation_tags", _listing((KEY, "Inactive")), LISTED)
    stubber.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": []},
        {"CostAllocationTagsStatus": [{"TagKey": KEY, "Status": "Active"}]},
    )
    assert activate(client, [KEY, EXTRA, KEY]) == Outcome(
        activated=[KEY], active=[KEY], pending=[EXTRA]
    )


def test_active_keys_change_nothing_and_check_mode_only_reads(ce: tuple[object, Stubber]) -> None:
    client, stubber = ce
    stubber.add_response(
        "list_cost_allocation_tags", _listing((KEY, "Active"), (EXTRA, "Active")), LISTED
    )
    assert activate(client, [KEY, EXTRA]) == Outcome(active=[KEY, EXTRA])
    stubber.add_response("list_cost_allocation_tags", _listing((KEY, "Inactive")), LISTED)
    assert activate(client, [KEY, EXTRA], check_mode=True).activated == [KEY]


def test_an_account_that_is_not_the_payer_is_refused_without_failing(
    ce: tuple[object, Stubber],
) -> None:
    client, stubber = ce
    stubber.add_client_error(
        "list_cost_allocation_tags",
        "AccessDeniedException",
        "Linked account doesn't have access to cost allocation tags.",
        expected_params=LISTED,
    )
    assert activate(client, [KEY, EXTRA]) == Outcome(refused=True)


def test_an_error_in_the_answer_fails(ce: tuple[object, Stubber]) -> None:
    client, stubber = ce
    stubber.add_response("list_cost_allocation_tags", _listing((KEY, "Inactive")), LISTED)
    stubber.add_response(
        "update_cost_allocation_tags_status",
        {"Errors": [{"TagKey": KEY, "Code": "TagKeysNotFound", "Message": "not found"}]},
        {"CostAllocationTagsStatus": [{"TagKey": KEY, "Status": "Active"}]},
    )
    with pytest.raises(RuntimeError, match="astrohub:deployment: TagKeysNotFound"):
        activate(client, [KEY, EXTRA])
