"""Find what a deployment still has in AWS, by scope, so teardown can prove it left nothing.

Resources are found by the ``astrohub:deployment`` tag; IAM and S3 (which cannot be filtered
by tag server-side) by their deployment-derived names, confirmed by the tag where present; what
kops and Kubernetes made for the cluster by the tag they put on it. Deleted-but-still-listed
states (terminated instances, deleted NAT gateways) do not count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub.generations import cluster_name

TAG_KEY = "astrohub:deployment"
SCOPES = ("kubernetes", "efs", "ci", "s3", "ecr", "network")
# ELB's DescribeTags takes at most 20 load balancers or target groups a call.
ELB_TAGS_PER_CALL = 20

Client = Any  # a boto3 client; botocore builds them dynamically, so no static type exists
Finder = Callable[[Callable[[str], Client], str, dict[str, Any]], list[str]]


def _items(client: Client, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a list call: page by page with botocore's paginator where the API pages
    (IAM lists 100 at a time, EC2 and EFS take a NextToken), else the one response."""
    if client.can_paginate(operation):
        paginator = client.get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page[key]]
    items: list[dict[str, Any]] = getattr(client, operation)(**kwargs)[key]
    return items


def _tag_filter(namespace: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{TAG_KEY}", "Values": [namespace]}]


def _cluster_owned(cluster: str) -> tuple[str, str]:
    """kops tags what it makes for a cluster kubernetes.io/cluster/<name>=owned (its tag set
    "owned", kops v1.36.2 pkg/model/context.go), as Kubernetes' AWS cloud provider does the load
    balancers and security groups of LoadBalancer services; "shared" marks our VPC and subnets,
    which outlive the cluster."""
    return f"kubernetes.io/cluster/{cluster}", "owned"


def _elb_owned(
    client: Client, describe: str, key: str, ids: list[str], id_arg: str, cluster: str
) -> list[str]:
    tag_key, tag_value = _cluster_owned(cluster)
    owned = []
    for start in range(0, len(ids), ELB_TAGS_PER_CALL):
        batch = ids[start : start + ELB_TAGS_PER_CALL]
        for described in getattr(client, describe)(**{id_arg: batch})["TagDescriptions"]:
            tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
            if tags.get(tag_key) == tag_value:
                owned.append(described[key])
    return owned


# What kops and Kubernetes make in EC2 for a cluster: (what, list call, response key, id key).
CLUSTER_EC2_RESOURCES = (
    ("volume", "describe_volumes", "Volumes", "VolumeId"),
    ("security group", "describe_security_groups", "SecurityGroups", "GroupId"),
    ("network interface", "describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId"),
    ("launch template", "describe_launch_templates", "LaunchTemplates", "LaunchTemplateId"),
)


def _kubernetes(
    clients: Callable[[str], Client], namespace: str, names: dict[str, Any]
) -> list[str]:
    """Every generation's cluster (two while an upgrade is under way)."""
    return [found for cluster in names["clusters"] for found in _cluster(clients, cluster)]


def _cluster(clients: Callable[[str], Client], cluster: str) -> list[str]:
    tag_key, tag_value = _cluster_owned(cluster)
    owned = [{"Name": f"tag:{tag_key}", "Values": [tag_value]}]
    ec2 = clients("ec2")
    found = [
        f"ec2 instance {instance['InstanceId']}"
        for reservation in _items(ec2, "describe_instances", "Reservations", Filters=owned)
        for instance in reservation["Instances"]
        if instance["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    found += [
        f"{what} {item[id_key]}"
        for what, operation, key, id_key in CLUSTER_EC2_RESOURCES
        for item in _items(ec2, operation, key, Filters=owned)
    ]
    groups = _items(
        clients("autoscaling"), "describe_auto_scaling_groups", "AutoScalingGroups", Filters=owned
    )
    found += [f"auto scaling group {g['AutoScalingGroupName']}" for g in groups]
    elbv2 = clients("elbv2")
    for what, operation, key, arn_key in (
        ("load balancer", "describe_load_balancers", "LoadBalancers", "LoadBalancerArn"),
        ("target group", "describe_target_groups", "TargetGroups", "TargetGroupArn"),
    ):
        arns = [item[arn_key] for item in _items(elbv2, operation, key)]
        owned_arns = _elb_owned(
            elbv2, "describe_tags", "ResourceArn", arns, "ResourceArns", cluster
        )
        found += [f"{what} {arn}" for arn in owned_arns]
    elb = clients("elb")
    classic = [
        lb["LoadBalancerName"]
        for lb in _items(elb, "describe_load_balancers", "LoadBalancerDescriptions")
    ]
    found += [
        f"classic load balancer {name}"
        for name in _elb_owned(
            elb, "describe_tags", "LoadBalancerName", classic, "LoadBalancerNames", cluster
        )
    ]
    return found


def _efs(clients: Callable[[str], Client], namespace: str, names: dict[str, Any]) -> list[str]:
    efs = clients("efs")
    found = []
    for fs in _items(efs, "describe_file_systems", "FileSystems"):
        tags = {t["Key"]: t["Value"] for t in fs.get("Tags", [])}
        if tags.get(TAG_KEY) != namespace or fs.get("LifeCycleState") == "deleted":
            continue
        found.append(f"efs file system {fs['FileSystemId']}")
        for ap in _items(
            efs, "describe_access_points", "AccessPoints", FileSystemId=fs["FileSystemId"]
        ):
            found.append(f"efs access point {ap['AccessPointId']}")
    found += _security_groups(clients, namespace, [names["efs_clients"], names["efs_mounts"]])
    alarms = _items(
        clients("cloudwatch"), "describe_alarms", "MetricAlarms", AlarmNames=[names["efs_alarm"]]
    )
    found += [f"cloudwatch alarm {a['AlarmName']}" for a in alarms]
    kept = _items(clients("ssm"), "get_parameters_by_path", "Parameters", Path=names["hub_secrets"])
    found += [f"ssm parameter {p['Name']}" for p in kept]
    roles = _items(clients("iam"), "list_roles", "Roles")
    found += [f"iam role {r['RoleName']}" for r in roles if r["RoleName"] == names["efs_restore"]]
    return found


def _security_groups(
    clients: Callable[[str], Client], namespace: str, group_names: list[str]
) -> list[str]:
    groups = _items(
        clients("ec2"),
        "describe_security_groups",
        "SecurityGroups",
        Filters=[*_tag_filter(namespace), {"Name": "group-name", "Values": group_names}],
    )
    return [f"security group {g['GroupId']} ({g['GroupName']})" for g in groups]


def _ci(clients: Callable[[str], Client], namespace: str, names: dict[str, Any]) -> list[str]:
    ec2, iam = clients("ec2"), clients("iam")
    found = []
    for reservation in _items(
        ec2, "describe_instances", "Reservations", Filters=_tag_filter(namespace)
    ):
        for instance in reservation["Instances"]:
            if instance["State"]["Name"] not in ("terminated", "shutting-down"):
                found.append(f"ec2 instance {instance['InstanceId']}")
    for pair in _items(ec2, "describe_key_pairs", "KeyPairs", Filters=_tag_filter(namespace)):
        found.append(f"key pair {pair['KeyName']}")
    found += _security_groups(clients, namespace, [names["ci_ssh"]])
    name = names["ci_node"]
    found += [
        f"iam instance profile {p['InstanceProfileName']}"
        for p in _items(iam, "list_instance_profiles", "InstanceProfiles")
        if p["InstanceProfileName"] == name
    ]
    found += [
        f"iam role {r['RoleName']}"
        for r in _items(iam, "list_roles", "Roles")
        if r["RoleName"] == name
    ]
    found += [
        f"iam policy {p['PolicyName']}"
        for p in _items(iam, "list_policies", "Policies", Scope="Local")
        if p["PolicyName"].startswith(f"{name}-") or p["PolicyName"] == names["kops_boundary"]
    ]
    return found


def _s3(clients: Callable[[str], Client], namespace: str, names: dict[str, Any]) -> list[str]:
    buckets = _items(clients("s3"), "list_buckets", "Buckets")
    return [f"s3 bucket {b['Name']}" for b in buckets if b["Name"] == names["state_bucket"]]


# The network's tagged resources: (what, list call, response key, id key).
NETWORK_RESOURCES = (
    ("vpc", "describe_vpcs", "Vpcs", "VpcId"),
    ("subnet", "describe_subnets", "Subnets", "SubnetId"),
    ("internet gateway", "describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    ("nat gateway", "describe_nat_gateways", "NatGateways", "NatGatewayId"),
    ("elastic ip", "describe_addresses", "Addresses", "AllocationId"),
    ("route table", "describe_route_tables", "RouteTables", "RouteTableId"),
    ("vpc endpoint", "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId"),
)


def _network(clients: Callable[[str], Client], namespace: str, names: dict[str, Any]) -> list[str]:
    ec2 = clients("ec2")
    return [
        f"{what} {item[id_key]}"
        for what, operation, key, id_key in NETWORK_RESOURCES
        for item in _items(ec2, operation, key, Filters=_tag_filter(namespace))
        # A deleted NAT gateway or endpoint stays listed for a while (endpoints say "Deleted").
        if str(item.get("State", "")).lower() not in ("deleted", "deleting")
    ]


def _ecr(clients: Callable[[str], Client], namespace: str, names: dict[str, Any]) -> list[str]:
    ecr = clients("ecr")
    return [
        f"ecr repository {r['repositoryName']}"
        for r in _items(ecr, "describe_repositories", "repositories")
        if r["repositoryName"].startswith(f"{namespace}/")
    ]


FINDERS: dict[str, Finder] = {
    "kubernetes": _kubernetes,
    "efs": _efs,
    "ci": _ci,
    "s3": _s3,
    "ecr": _ecr,
    "network": _network,
}


def resource_names(
    namespace: str, state_bucket: str, clusters: list[str] | None = None
) -> dict[str, Any]:
    """The deployment-derived names the roles use (see each role's vars/main.yml); clusters:
    the kops clusters of every generation (default: generation 0's)."""
    return {
        "clusters": clusters or [cluster_name(namespace, 0)],
        "ci_node": f"{namespace}-ci-node",
        "ci_ssh": f"{namespace}-ci-node-ssh",
        "kops_boundary": f"{namespace}-kops-nodes-boundary",
        "efs_clients": f"{namespace}-efs-clients",
        "efs_mounts": f"{namespace}-efs-mount-targets",
        "efs_alarm": f"{namespace}-home-burst-credits-low",
        "efs_restore": f"{namespace}-efs-restore",
        "hub_secrets": f"/astrohub/{namespace}/hub",
        "state_bucket": state_bucket,
    }


def find(
    clients: Callable[[str], Client],
    namespace: str,
    state_bucket: str,
    scopes: list[str],
    clusters: list[str] | None = None,
) -> dict[str, list[str]]:
    """What is left of the deployment in each asked scope."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; known: {list(SCOPES)}")
    names = resource_names(namespace, state_bucket, clusters)
    return {scope: FINDERS[scope](clients, namespace, names) for scope in scopes}
