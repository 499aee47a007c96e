"""astrohub.in_place: a resource is left to the roles' one read only when the amazon.aws module
would change nothing; every difference the module acts on hands the resource back to it.

The resources are in the shapes the amazon.aws *_info modules return (ec2_vpc_net_info,
ec2_vpc_subnet_info, ec2_vpc_route_table_info, ec2_vpc_igw_info, ec2_security_group_info,
ec2_key_info); the network molecule scenario checks drift end to end."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from astrohub.in_place import (
    bucket_in_place,
    file_system_in_place,
    gateway_endpoint_in_place,
    gateway_endpoints_to_replace,
    internet_gateway_in_place,
    key_pair_in_place,
    route_table_ids,
    route_table_in_place,
    security_group_in_place,
    subnet_in_place,
    vpc_in_place,
)

TAGS = {"Name": "ns", "astrohub:deployment": "ns"}
VPC = {
    "id": "vpc-1",
    "cidr_block": "10.42.0.0/16",
    "enable_dns_support": True,
    "enable_dns_hostnames": True,
    "tags": {**TAGS, "kubernetes.io/cluster/ns.k8s.local": "shared"},
}
SUBNET = {
    "id": "subnet-1",
    "cidr_block": "10.42.0.0/19",
    "availability_zone": "us-east-1a",
    "map_public_ip_on_launch": False,
    "assign_ipv6_address_on_creation": False,
    "ipv6_cidr_block_association_set": [],
    "tags": {**TAGS, "kubernetes.io/role/internal-elb": "1"},
}
ROUTES = [{"dest": "0.0.0.0/0", "nat_gateway_id": "nat-1"}]
TABLE = {
    "id": "rtb-1",
    "tags": {"Name": "ns-private-us-east-1a", "astrohub:deployment": "ns"},
    "routes": [
        {
            "destination_cidr_block": "10.42.0.0/16",
            "gateway_id": "local",
            "origin": "CreateRouteTable",
        },
        {"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1", "origin": "CreateRoute"},
    ],
    "associations": [
        {"main": False, "subnet_id": "subnet-1"},
        {"main": True},
    ],
}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"


def changed(resource: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of resource with the dotted path set to value."""
    copied = copy.deepcopy(resource)
    *parents, last = path.split(".")
    target: Any = copied
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copied


def test_a_vpc_as_wanted_gives_its_id_with_tags_others_added() -> None:
    assert vpc_in_place([VPC], "10.42.0.0/16", TAGS) == "vpc-1"


@pytest.mark.parametrize(
    "vpcs",
    [
        [],
        [VPC, changed(VPC, "id", "vpc-2")],
        [changed(VPC, "enable_dns_hostnames", False)],
        [changed(VPC, "enable_dns_support", False)],
        [changed(VPC, "tags", {"Name": "ns"})],
        [changed(VPC, "cidr_block", "10.43.0.0/16")],
    ],
    ids=["missing", "two", "dns-hostnames", "dns-support", "tag-missing", "other-cidr"],
)
def test_a_vpc_the_module_would_change_goes_to_it(vpcs: list[dict[str, Any]]) -> None:
    assert vpc_in_place(vpcs, "10.42.0.0/16", TAGS) == ""


def test_a_subnet_as_wanted_is_left_alone() -> None:
    tags = {**TAGS, "kubernetes.io/role/internal-elb": 1}
    assert subnet_in_place([SUBNET], "10.42.0.0/19", "us-east-1a", False, tags)


@pytest.mark.parametrize(
    "subnet",
    [
        changed(SUBNET, "cidr_block", "10.42.32.0/19"),
        changed(SUBNET, "map_public_ip_on_launch", True),
        changed(SUBNET, "availability_zone", "us-east-1b"),
        changed(SUBNET, "assign_ipv6_address_on_creation", True),
        changed(
            SUBNET,
            "ipv6_cidr_block_association_set",
            [{"ipv6_cidr_block_state": {"state": "associated"}}],
        ),
        changed(SUBNET, "tags", TAGS),
    ],
    ids=["missing", "map-public", "zone", "assign-ipv6", "ipv6", "tag-missing"],
)
def test_a_subnet_the_module_would_change_goes_to_it(subnet: dict[str, Any]) -> None:
    tags = {**TAGS, "kubernetes.io/role/internal-elb": "1"}
    assert not subnet_in_place([subnet], "10.42.0.0/19", "us-east-1a", False, tags)


def test_a_route_table_as_wanted_is_left_alone() -> None:
    tags = TABLE["tags"]
    assert route_table_in_place([TABLE], tags, ROUTES, ["subnet-1"])
    aws_tagged = changed(TABLE, "tags", {**tags, "aws:cloudformation:stack-name": "x"})
    assert route_table_in_place([aws_tagged], tags, ROUTES, ["subnet-1"])


@pytest.mark.parametrize(
    "tables",
    [
        [],
        [TABLE, changed(TABLE, "id", "rtb-2")],
        [changed(TABLE, "tags", {**TABLE["tags"], "extra": "purged"})],
        [changed(TABLE, "routes.1.nat_gateway_id", "nat-2")],
        [
            changed(
                TABLE,
                "routes",
                [
                    *TABLE["routes"],
                    {
                        "destination_cidr_block": "192.0.2.0/24",
                        "gateway_id": "igw-1",
                        "origin": "CreateRoute",
                    },
                ],
            )
        ],
        [changed(TABLE, "routes", TABLE["routes"][:1])],
        [changed(TABLE, "associations", [{"main": True}])],
        [changed(TABLE, "associations.0.subnet_id", "subnet-2")],
    ],
    ids=[
        "missing",
        "two",
        "extra-tag",
        "other-target",
        "stray-route",
        "route-missing",
        "not-associated",
        "other-subnet",
    ],
)
def test_a_route_table_the_module_would_change_goes_to_it(tables: list[dict[str, Any]]) -> None:
    assert not route_table_in_place(tables, TABLE["tags"], ROUTES, ["subnet-1"])


def test_a_key_pair_with_this_key_and_tags_is_left_alone() -> None:
    found = [{"public_key": KEY + " imported", "tags": TAGS}]
    assert key_pair_in_place(found, KEY + " operator@workstation\n", TAGS)


@pytest.mark.parametrize(
    "found",
    [
        [],
        [{"public_key": "ssh-ed25519 AAAAOther", "tags": TAGS}],
        [{"public_key": KEY, "tags": {"Name": "ns"}}],
        [{"public_key": KEY, "tags": {**TAGS, "extra": "purged"}}],
        [{"tags": TAGS}],
    ],
    ids=["missing", "other-key", "tag-missing", "extra-tag", "no-public-key"],
)
def test_a_key_pair_the_module_would_change_goes_to_it(found: list[dict[str, Any]]) -> None:
    assert not key_pair_in_place(found, KEY, TAGS)


SSH_GROUP = {
    "name": "ns-ci-node-ssh",
    "description": "SSH from the operators",
    "rules": [
        {
            "proto": "tcp",
            "ports": [22],
            "cidr_ip": ["192.0.2.0/24", "198.51.100.0/24"],
            "rule_desc": "operator SSH",
        }
    ],
    "tags": TAGS,
}
FOUND_GROUP = {
    "group_id": "sg-1",
    "group_name": "ns-ci-node-ssh",
    "description": "SSH from the operators",
    "ip_permissions": [
        {
            "ip_protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "ip_ranges": [
                {"cidr_ip": "198.51.100.0/24", "description": "operator SSH"},
                {"cidr_ip": "192.0.2.0/24", "description": "operator SSH"},
            ],
            "user_id_group_pairs": [],
        }
    ],
    "ip_permissions_egress": [{"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}]}],
    "tags": TAGS,
}
NFS_GROUP = {
    "name": "ns-efs-mount-targets",
    "description": "NFS",
    "rules": [{"proto": "tcp", "ports": [2049], "group_id": "sg-clients", "rule_desc": "NFS"}],
    "tags": TAGS,
}
FOUND_NFS = {
    "group_id": "sg-2",
    "group_name": "ns-efs-mount-targets",
    "description": "NFS",
    "ip_permissions": [
        {
            "ip_protocol": "tcp",
            "from_port": 2049,
            "to_port": 2049,
            "ip_ranges": [],
            "user_id_group_pairs": [
                {"group_id": "sg-clients", "user_id": "123456789012", "description": "NFS"}
            ],
        }
    ],
    "tags": TAGS,
}


def test_security_groups_as_wanted_give_their_ids_whatever_their_egress() -> None:
    assert security_group_in_place([FOUND_GROUP, FOUND_NFS], SSH_GROUP) == "sg-1"
    assert security_group_in_place([FOUND_GROUP, FOUND_NFS], NFS_GROUP) == "sg-2"
    no_egress = changed(FOUND_GROUP, "ip_permissions_egress", [])
    assert security_group_in_place([no_egress], SSH_GROUP) == "sg-1"
    empty = {**SSH_GROUP, "rules": []}
    assert security_group_in_place([changed(FOUND_GROUP, "ip_permissions", [])], empty) == "sg-1"


@pytest.mark.parametrize(
    "found",
    [
        [],
        [FOUND_GROUP, changed(FOUND_GROUP, "group_id", "sg-9")],
        [changed(FOUND_GROUP, "description", "other")],
        [changed(FOUND_GROUP, "tags", {**TAGS, "extra": "purged"})],
        [changed(FOUND_GROUP, "ip_permissions.0.ip_ranges.0.cidr_ip", "203.0.113.0/24")],
        [changed(FOUND_GROUP, "ip_permissions.0.ip_ranges.0.description", "other")],
        [changed(FOUND_GROUP, "ip_permissions.0.to_port", 23)],
        [
            changed(
                FOUND_GROUP,
                "ip_permissions.0.ip_ranges",
                FOUND_GROUP["ip_permissions"][0]["ip_ranges"][:1],
            )
        ],
        [
            changed(
                FOUND_GROUP,
                "ip_permissions.0.ipv6_ranges",
                [{"cidr_ipv6": "::/0", "description": "operator SSH"}],
            )
        ],
    ],
    ids=[
        "missing",
        "two",
        "description",
        "extra-tag",
        "other-cidr",
        "rule-description",
        "port",
        "cidr-missing",
        "stray-ipv6",
    ],
)
def test_a_security_group_the_module_would_change_goes_to_it(found: list[dict[str, Any]]) -> None:
    assert security_group_in_place(found, SSH_GROUP) == ""


def test_a_group_rule_from_another_group_goes_to_the_module() -> None:
    other = changed(FOUND_NFS, "ip_permissions.0.user_id_group_pairs.0.group_id", "sg-other")
    assert security_group_in_place([other], NFS_GROUP) == ""


IGW = {
    "internet_gateway_id": "igw-1",
    "attachments": [{"state": "available", "vpc_id": "vpc-1"}],
    "tags": {"Name": "ns-igw"},
}


def test_an_internet_gateway_as_wanted_gives_its_id() -> None:
    assert internet_gateway_in_place([IGW], {"Name": "ns-igw"}) == "igw-1"


@pytest.mark.parametrize(
    "found",
    [
        [],
        [IGW, changed(IGW, "internet_gateway_id", "igw-2")],
        [changed(IGW, "attachments.0.state", "detaching")],
        [changed(IGW, "tags", {})],
        [changed(IGW, "tags", {"Name": "ns-igw", "extra": "purged"})],
    ],
    ids=["missing", "two", "detaching", "tag-missing", "extra-tag"],
)
def test_an_internet_gateway_the_module_would_change_goes_to_it(
    found: list[dict[str, Any]],
) -> None:
    assert internet_gateway_in_place(found, {"Name": "ns-igw"}) == ""


HOME_FS = {
    "throughput_mode": "bursting",
    "provisioned_throughput_in_mibps": None,
    "targets": [
        {"subnet_id": "subnet-1", "security_groups": ["sg-2"]},
        {"subnet_id": "subnet-2", "security_groups": ["sg-2"]},
    ],
    "tags": {"Name": "ns-home", "astrohub:deployment": "ns"},
}
FOUND_FS = {
    "file_system_id": "fs-1",
    "life_cycle_state": "available",
    "throughput_mode": "bursting",
    "tags": {"Name": "ns-home", "astrohub:deployment": "ns"},
    "mount_targets": [
        {"subnet_id": "subnet-2", "life_cycle_state": "available", "security_groups": ["sg-2"]},
        {"subnet_id": "subnet-1", "life_cycle_state": "available", "security_groups": ["sg-2"]},
    ],
}


def test_a_file_system_as_wanted_gives_its_id() -> None:
    assert file_system_in_place([FOUND_FS], HOME_FS) == "fs-1"
    provisioned = {
        **HOME_FS,
        "throughput_mode": "provisioned",
        "provisioned_throughput_in_mibps": 8,
    }
    found = {**FOUND_FS, "throughput_mode": "provisioned", "provisioned_throughput_in_mibps": 8.0}
    assert file_system_in_place([found], provisioned) == "fs-1"


@pytest.mark.parametrize(
    "found",
    [
        [],
        [FOUND_FS, changed(FOUND_FS, "file_system_id", "fs-2")],
        [changed(FOUND_FS, "life_cycle_state", "creating")],
        [changed(FOUND_FS, "throughput_mode", "elastic")],
        [changed(FOUND_FS, "tags", {"Name": "ns-home"})],
        [changed(FOUND_FS, "mount_targets", FOUND_FS["mount_targets"][:1])],
        [changed(FOUND_FS, "mount_targets.0.subnet_id", "subnet-3")],
        [changed(FOUND_FS, "mount_targets.0.security_groups", ["sg-2", "sg-9"])],
        [changed(FOUND_FS, "mount_targets.1.life_cycle_state", "deleting")],
    ],
    ids=[
        "missing",
        "two",
        "creating",
        "throughput",
        "tag-missing",
        "target-missing",
        "other-subnet",
        "extra-group",
        "target-deleting",
    ],
)
def test_a_file_system_the_module_would_change_goes_to_it(found: list[dict[str, Any]]) -> None:
    assert file_system_in_place(found, HOME_FS) == ""


def test_other_provisioned_throughput_goes_to_the_module() -> None:
    provisioned = {
        **HOME_FS,
        "throughput_mode": "provisioned",
        "provisioned_throughput_in_mibps": 8,
    }
    found = {**FOUND_FS, "throughput_mode": "provisioned", "provisioned_throughput_in_mibps": 4.0}
    assert file_system_in_place([found], provisioned) == ""


S3 = "com.amazonaws.us-east-1.s3"
ENDPOINT_TAGS = {"astrohub:deployment": "astrohub", "Name": "astrohub-s3"}


def _endpoint(**changes: Any) -> dict[str, Any]:
    """A gateway endpoint as amazon.aws.ec2_vpc_endpoint_info returns it (tags as pairs)."""
    endpoint = {
        "vpc_endpoint_id": "vpce-1",
        "service_name": S3,
        "state": "available",
        "route_table_ids": ["rtb-b", "rtb-a"],
        "tags": [{"key": k, "value": v} for k, v in ENDPOINT_TAGS.items()],
    }
    return {**endpoint, **changes}


def test_a_gateway_endpoint_as_wanted_gives_its_id() -> None:
    found = [_endpoint(), _endpoint(vpc_endpoint_id="vpce-old", state="deleted")]
    assert gateway_endpoint_in_place(found, S3, ["rtb-a", "rtb-b"], ENDPOINT_TAGS) == "vpce-1"
    assert gateway_endpoints_to_replace(found, S3, ["rtb-a", "rtb-b"]) == []


@pytest.mark.parametrize(
    "found",
    [
        [],
        [_endpoint(route_table_ids=["rtb-a"])],
        [_endpoint(tags=[{"key": "Name", "value": "astrohub-s3"}])],
        [_endpoint(), _endpoint(vpc_endpoint_id="vpce-2")],
        [_endpoint(service_name="com.amazonaws.us-east-1.dynamodb")],
    ],
)
def test_a_gateway_endpoint_the_module_would_change_goes_to_it(found: list[dict[str, Any]]) -> None:
    assert gateway_endpoint_in_place(found, S3, ["rtb-a", "rtb-b"], ENDPOINT_TAGS) == ""


def test_an_endpoint_on_other_route_tables_is_replaced() -> None:
    """One NAT gateway per zone: three private route tables where there was one."""
    found = [_endpoint(route_table_ids=["rtb-a"])]
    assert gateway_endpoints_to_replace(found, S3, ["rtb-a", "rtb-b", "rtb-c"]) == ["vpce-1"]


def test_route_table_ids_by_name_the_newest_wins() -> None:
    tables = [
        {"id": "rtb-1", "tags": {"Name": "astrohub-private-us-east-1a"}},
        {"id": "rtb-9", "tags": {"Name": "astrohub-public"}},
        {"route_table_id": "rtb-2", "tags": {"Name": "astrohub-private-us-east-1a"}},
    ]
    assert route_table_ids(tables, ["astrohub-private-us-east-1a"]) == ["rtb-2"]
    with pytest.raises(ValueError, match="no route table named astrohub-private-us-east-1b"):
        route_table_ids(tables, ["astrohub-private-us-east-1b"])


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::ns-kops-state", "arn:aws:s3:::ns-kops-state/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}
BUCKET = {
    "name": "ns-kops-state",
    "versioning": True,
    "encryption": "AES256",
    "object_ownership": "BucketOwnerEnforced",
    "public_access": {
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": True,
        "restrict_public_buckets": True,
    },
    "policy": POLICY,
    "tags": TAGS,
}


def _bucket(**changes: Any) -> dict[str, Any]:
    """A bucket as amazon.aws.s3_bucket_info returns it with the six facts (boto3's shapes)."""
    found = {
        "name": "ns-kops-state",
        "bucket_encryption": {
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": False,
                    }
                ]
            }
        },
        "bucket_ownership_controls": {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        },
        # AWS gives the policy back as its own JSON text: other spacing, a list of one.
        "bucket_policy": {
            "Policy": json.dumps(
                {**POLICY, "Statement": [{**POLICY["Statement"][0], "Action": ["s3:*"]}]}, indent=1
            )
        },
        "bucket_tagging": {**TAGS},
        "bucket_versioning": {"Status": "Enabled", "MFADelete": "Disabled"},
        "public_access_block": {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            }
        },
    }
    return {**found, **changes}


def test_a_bucket_as_wanted_is_left_alone() -> None:
    assert bucket_in_place([_bucket(), _bucket(name="other")], BUCKET)


@pytest.mark.parametrize(
    "found",
    [
        [],
        [_bucket(bucket_versioning={})],
        [_bucket(bucket_versioning={"Status": "Suspended"})],
        [_bucket(bucket_encryption={})],
        [_bucket(bucket_ownership_controls={})],
        [_bucket(bucket_policy={})],
        [_bucket(bucket_policy={"Policy": json.dumps({**POLICY, "Statement": []})})],
        [_bucket(bucket_tagging={**TAGS, "extra": "x"})],
        [
            _bucket(
                public_access_block={
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": False,
                        "RestrictPublicBuckets": True,
                    }
                }
            )
        ],
    ],
)
def test_a_bucket_the_module_would_change_goes_to_it(found: list[dict[str, Any]]) -> None:
    assert not bucket_in_place(found, BUCKET)
