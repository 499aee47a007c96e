"""Read the emulator's state with boto3: the tests' own view, independent of the playbooks."""

from __future__ import annotations

from typing import Any

import boto3

TAG = "astrohub:deployment"


def clients(endpoint: str) -> dict[str, Any]:
    kw = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    names = (
        "ec2",
        "efs",
        "s3",
        "iam",
        "ecr",
        "sts",
        "cloudwatch",
        "ssm",
        "budgets",
        "backup",
        "ce",
    )
    return {name: boto3.client(name, **kw) for name in names}


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or resource.get("TagList") or []}


# What a deploy with the local inventory's defaults (three zones, one NAT gateway) leaves, by
# the kinds snapshot() counts.
DEPLOYED_COUNTS = {
    "vpc": 1,
    "subnet": 6,
    "igw": 1,
    "nat": 1,
    "eip": 1,
    "route_table": 2,
    "security_group": 3,
    "instance": 1,
    "key_pair": 1,
    "efs": 1,
    "access_point": 2,
    "mount_target": 3,
    "hub_secret": 3,
    "bucket": 1,
    "iam_role": 1,
    "iam_profile": 1,
    "iam_policy": 5,
    "ecr": 2,
}


def snapshot(endpoint: str, namespace: str) -> dict[str, set[str]]:
    """Every resource of the deployment, by kind, as '<id>' strings."""
    c = clients(endpoint)
    ec2, efs, s3, iam = c["ec2"], c["efs"], c["s3"], c["iam"]
    tagged = [{"Name": f"tag:{TAG}", "Values": [namespace]}]
    state: dict[str, set[str]] = {
        "vpc": {v["VpcId"] for v in ec2.describe_vpcs(Filters=tagged)["Vpcs"]},
        "subnet": {s["SubnetId"] for s in ec2.describe_subnets(Filters=tagged)["Subnets"]},
        "igw": {
            g["InternetGatewayId"]
            for g in ec2.describe_internet_gateways(Filters=tagged)["InternetGateways"]
        },
        "nat": {
            n["NatGatewayId"]
            for n in ec2.describe_nat_gateways(Filters=tagged)["NatGateways"]
            if n["State"] not in ("deleted", "deleting")
        },
        "eip": {a["AllocationId"] for a in ec2.describe_addresses(Filters=tagged)["Addresses"]},
        "route_table": {
            t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tagged)["RouteTables"]
        },
        "security_group": {
            g["GroupName"] for g in ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]
        },
        "instance": {
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=tagged)["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        },
        "key_pair": {
            k["KeyName"]
            for k in ec2.describe_key_pairs()["KeyPairs"]
            if tags_of(k).get(TAG) == namespace
        },
        "efs": {
            f["FileSystemId"]
            for f in efs.describe_file_systems()["FileSystems"]
            if tags_of(f).get(TAG) == namespace
        },
        "access_point": {
            a["AccessPointId"]
            for a in efs.describe_access_points()["AccessPoints"]
            if tags_of(a).get(TAG) == namespace
        },
        "bucket": {
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{namespace}-")
        },
        "iam_role": {
            r["RoleName"]
            for r in iam.list_roles()["Roles"]
            if r["RoleName"].startswith(f"{namespace}-")
        },
        "iam_profile": {
            p["InstanceProfileName"]
            for p in iam.list_instance_profiles()["InstanceProfiles"]
            if p["InstanceProfileName"].startswith(f"{namespace}-")
        },
        "iam_policy": {
            p["PolicyName"]
            for p in iam.list_policies(Scope="Local")["Policies"]
            if p["PolicyName"].startswith(f"{namespace}-")
        },
    }
    mount_targets: set[str] = set()
    for fs in state["efs"]:
        targets = efs.describe_mount_targets(FileSystemId=fs)["MountTargets"]
        mount_targets |= {m["MountTargetId"] for m in targets}
    state["mount_target"] = mount_targets
    kept = c["ssm"].get_parameters_by_path(Path=f"/astrohub/{namespace}/hub")["Parameters"]
    state["hub_secret"] = {p["Name"] for p in kept}
    state["ecr"] = {
        r["repositoryName"]
        for r in c["ecr"].describe_repositories()["repositories"]
        if r["repositoryName"].startswith(f"{namespace}/")
    }
    return state


# Which kinds each teardown scope owns; the rest must survive it.
SCOPE_KINDS = {
    "fixture-efs": {"efs", "access_point", "mount_target", "hub_secret"},
    "fixture-ci": {"instance", "key_pair", "iam_role", "iam_profile", "iam_policy"},
    "fixture-s3": {"bucket"},
    "network": {"vpc", "subnet", "igw", "nat", "eip", "route_table"},
}
SCOPE_SECURITY_GROUPS = {
    "fixture-efs": {"-efs-clients", "-efs-mount-targets"},
    "fixture-ci": {"-ci-node-ssh"},
}
