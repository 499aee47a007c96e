#!/usr/bin/python
"""An AWS Budgets monthly cost budget with e-mail alerts (no module in amazon.aws or
community.aws manages budgets)."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: budget
short_description: A monthly AWS cost budget that e-mails when spending nears its limit
description:
  - Creates, updates or deletes a monthly COST budget of the account, with two alerts to the
    given e-mail addresses - actual spend above I(actual_percent) of the limit, and forecasted
    spend above I(forecasted_percent). Reads the budget, its notifications and their
    subscribers and changes only what differs (the limit in place with UpdateBudget, so the
    budget keeps its history), so a re-run reports no change. Supports check mode.
version_added: 0.5.0
author: astrohub maintainers
options:
  name:
    description: The budget's name.
    type: str
    required: true
  account_id:
    description: The account the budget belongs to; read with STS when not given.
    type: str
  limit_usd:
    description: The monthly limit in US dollars (state=present).
    type: float
  actual_percent:
    description: Alert when the month's actual spend passes this share of the limit.
    type: float
    default: 80
  forecasted_percent:
    description: Alert when the month's forecasted spend passes this share of the limit.
    type: float
    default: 100
  emails:
    description: Who gets the alerts; no alerts when empty.
    type: list
    elements: str
    default: []
  state:
    description: Whether the budget exists.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Alert the operators at 80 % of 800 USD a month
  astrohub.platform.budget:
    name: astrohub-demo-monthly
    limit_usd: 800
    emails: [ops@example.org]
"""

RETURN = r"""
budget:
  description: The budget after the run (name, limit, notifications with their subscribers).
  returned: when state is present
  type: dict
  sample: {"name": "astrohub-demo-monthly", "limit_usd": 800.0, "notifications": []}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# A notification and who it goes to, as one comparable value: type, comparison, threshold,
# threshold type and the (subscription type, address) pairs.
Alert = tuple[str, str, float, str, frozenset[tuple[str, str]]]


def notification(kind: str, percent: float) -> dict[str, Any]:
    return {
        "NotificationType": kind,
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": float(percent),
        "ThresholdType": "PERCENTAGE",
    }


def alert(found: dict[str, Any], subscribers: list[dict[str, str]]) -> Alert:
    return (
        found["NotificationType"],
        found.get("ComparisonOperator", ""),
        float(found["Threshold"]),
        found.get("ThresholdType", "PERCENTAGE"),
        frozenset((s["SubscriptionType"], s["Address"]) for s in subscribers),
    )


def current_budget(client: Any, account: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except client.exceptions.NotFoundException:
        return None
    return found


def current_alerts(client: Any, account: str, name: str) -> dict[Alert, dict[str, Any]]:
    """The budget's notifications with their subscribers, each as AWS returned it."""
    alerts = {}
    pages = client.get_paginator("describe_notifications_for_budget").paginate(
        AccountId=account, BudgetName=name
    )
    for page in pages:
        for found in page["Notifications"]:
            subscribers = client.describe_subscribers_for_notification(
                AccountId=account, BudgetName=name, Notification=found
            )["Subscribers"]
            alerts[alert(found, subscribers)] = found
    return alerts


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "account_id": {"type": "str"},
            "limit_usd": {"type": "float"},
            "actual_percent": {"type": "float", "default": 80},
            "forecasted_percent": {"type": "float", "default": 100},
            "emails": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["limit_usd"])],
        supports_check_mode=True,
    )
    params = module.params
    client: Any = module.client("budgets")
    name = params["name"]
    changed = False
    try:
        account = params["account_id"] or module.client("sts").get_caller_identity()["Account"]
        found = current_budget(client, account, name)
        if params["state"] == "absent":
            if found is not None:
                changed = True
                if not module.check_mode:
                    client.delete_budget(AccountId=account, BudgetName=name)
            module.exit_json(changed=changed)

        wanted = {
            "BudgetName": name,
            "BudgetLimit": {"Amount": str(float(params["limit_usd"])), "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        }
        subscribers = [
            {"SubscriptionType": "EMAIL", "Address": e} for e in sorted(set(params["emails"]))
        ]
        notifications = (
            [
                notification("ACTUAL", params["actual_percent"]),
                notification("FORECASTED", params["forecasted_percent"]),
            ]
            if subscribers
            else []
        )
        wanted_alerts = {alert(n, subscribers): n for n in notifications}
        if found is None:
            changed = True
            if not module.check_mode:
                client.create_budget(
                    AccountId=account,
                    Budget=wanted,
                    NotificationsWithSubscribers=[
                        {"Notification": n, "Subscribers": subscribers}
                        for n in wanted_alerts.values()
                    ],
                )
        else:
            limit = found.get("BudgetLimit") or {}
            if (
                float(limit.get("Amount", -1)) != float(params["limit_usd"])
                or limit.get("Unit") != "USD"
                or found.get("TimeUnit") != "MONTHLY"
                or found.get("BudgetType") != "COST"
            ):
                changed = True
                if not module.check_mode:
                    client.update_budget(AccountId=account, NewBudget=wanted)
            alerts = current_alerts(client, account, name)
            for key in alerts.keys() - wanted_alerts.keys():
                changed = True
                if not module.check_mode:
                    client.delete_notification(
                        AccountId=account, BudgetName=name, Notification=alerts[key]
                    )
            for key in wanted_alerts.keys() - alerts.keys():
                changed = True
                if not module.check_mode:
                    client.create_notification(
                        AccountId=account,
                        BudgetName=name,
                        Notification=wanted_alerts[key],
                        Subscribers=subscribers,
                    )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not manage the budget {name}")
    module.exit_json(
        changed=changed,
        budget={
            "name": name,
            "limit_usd": float(params["limit_usd"]),
            "notifications": [
                {
                    "type": n["NotificationType"],
                    "percent": n["Threshold"],
                    "emails": [s["Address"] for s in subscribers],
                }
                for n in notifications
            ],
        },
    )


if __name__ == "__main__":
    main()
