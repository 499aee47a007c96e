"""Read a molecule scenario's AWS state with boto3, independently of the roles' own modules:
`python aws_state.py efs <name>` / `ecr <prefix>` / `budget <name>` prints JSON for the
scenario's verify step.
The endpoint comes from AWS_ENDPOINT_URL, which `make molecule` exports (the emulator)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import boto3


def efs(name: str) -> dict[str, Any]:
    client = boto3.client("efs")
    systems = [
        fs
        for fs in client.describe_file_systems()["FileSystems"]
        if {"Key": "Name", "Value": name} in fs.get("Tags", [])
    ]
    found: dict[str, Any] = {"file_systems": len(systems), "hub_secrets": hub_secrets(name)}
    if systems:
        fs_id = systems[0]["FileSystemId"]
        found["encrypted"] = systems[0]["Encrypted"]
        found["throughput_mode"] = systems[0]["ThroughputMode"]
        alarms = boto3.client("cloudwatch").describe_alarms(
            AlarmNames=[f"{name}-burst-credits-low"]
        )
        found["burst_credits_alarm"] = len(alarms["MetricAlarms"]) == 1
        found["backup"] = client.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"][
            "Status"
        ]
        targets = client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
        found["mount_targets"] = len(targets)
        found["mount_target_groups"] = sorted(
            group
            for target in targets
            for group in client.describe_mount_target_security_groups(
                MountTargetId=target["MountTargetId"]
            )["SecurityGroups"]
        )
        found["tags"] = {t["Key"]: t["Value"] for t in systems[0].get("Tags", [])}
        found["lifecycle"] = client.describe_lifecycle_configuration(FileSystemId=fs_id)[
            "LifecyclePolicies"
        ]
        found["nfs_rules"] = nfs_rules(found["mount_target_groups"])
        found["access_points"] = {
            next(t["Value"] for t in ap["Tags"] if t["Key"] == "Name"): {
                "path": ap["RootDirectory"]["Path"],
                "owner": [
                    ap["RootDirectory"]["CreationInfo"]["OwnerUid"],
                    ap["RootDirectory"]["CreationInfo"]["OwnerGid"],
                ],
                "posix_user": [ap["PosixUser"]["Uid"], ap["PosixUser"]["Gid"]],
            }
            for ap in client.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
        }
    return found


def nfs_rules(group_ids: list[str]) -> list[str]:
    """The ingress rules of these security groups, as '<proto>/<port> from <group>'."""
    if not group_ids:
        return []
    groups = boto3.client("ec2").describe_security_groups(GroupIds=sorted(set(group_ids)))
    return sorted(
        f"{perm['IpProtocol']}/{perm.get('FromPort')} from {pair['GroupId']}"
        for group in groups["SecurityGroups"]
        for perm in group["IpPermissions"]
        for pair in perm.get("UserIdGroupPairs", [])
    )


def hub_secrets(home_name: str) -> dict[str, dict[str, Any]]:
    """The hub's kept secrets of the deployment whose home store is `home_name`: each one's
    type, and whether its value is 32 bytes of hex (the value itself is never printed)."""
    path = f"/astrohub/{home_name.removesuffix('-home')}/hub"
    parameters = boto3.client("ssm").get_parameters_by_path(Path=path, WithDecryption=True)
    return {
        p["Name"].rsplit("/", 1)[1]: {
            "type": p["Type"],
            "hex64": re.fullmatch("[0-9a-f]{64}", p["Value"]) is not None,
        }
        for p in parameters["Parameters"]
    }


def budget(name: str) -> dict[str, Any]:
    """The budget's limit and its alerts (type, percent, e-mail addresses), or nothing."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    client = boto3.client("budgets")
    found = client.describe_budgets(AccountId=account).get("Budgets", [])
    if not any(b["BudgetName"] == name for b in found):
        return {}
    described = client.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    notifications = client.describe_notifications_for_budget(AccountId=account, BudgetName=name)
    alerts = []
    for notification in notifications["Notifications"]:
        subscribers = client.describe_subscribers_for_notification(
            AccountId=account, BudgetName=name, Notification=notification
        )["Subscribers"]
        alerts.append(
            [
                notification["NotificationType"],
                notification["Threshold"],
                sorted(s["Address"] for s in subscribers),
            ]
        )
    tags = boto3.client("ce").list_cost_allocation_tags(Status="Active")["CostAllocationTags"]
    return {
        "limit": described["BudgetLimit"],
        "time_unit": described["TimeUnit"],
        "type": described["BudgetType"],
        "alerts": sorted(alerts),
        "active_cost_allocation_tags": sorted(t["TagKey"] for t in tags),
    }


def ecr(prefix: str) -> dict[str, Any]:
    client = boto3.client("ecr")
    repositories = {}
    for repo in client.describe_repositories()["repositories"]:
        if repo["repositoryName"].startswith(prefix + "/"):
            tags = client.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            repositories[repo["repositoryName"]] = {
                "scan_on_push": repo["imageScanningConfiguration"]["scanOnPush"],
                "tag_mutability": repo["imageTagMutability"],
                "tags": {t["Key"]: t["Value"] for t in tags},
            }
    return {"repositories": repositories}


if __name__ == "__main__":
    kind, name = sys.argv[1], sys.argv[2]
    print(json.dumps({"efs": efs, "ecr": ecr, "budget": budget}[kind](name)))
