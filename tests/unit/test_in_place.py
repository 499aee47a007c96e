"""astrohub.in_place: a resource is left to the roles' one read only when the amazon.aws module
would change nothing; every difference the module acts on hands the resource back to it.

The resources are in the shapes ec2_vpc_net_info, ec2_vpc_subnet_info, ec2_vpc_route_table_info
and ec2_key_info return (the network molecule scenario checks drift end to end)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from astrohub.in_place import key_pair_in_place, route_table_in_place, subnet_in_place, vpc_in_place

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
