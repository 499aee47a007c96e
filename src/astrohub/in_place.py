"""Whether an amazon.aws module would leave a resource as it is, judged from one read.

A no-op re-run of the deployment reads the VPC, its subnets and route tables, and the CI
node's key pair once (ec2_vpc_net_info, ec2_vpc_subnet_info, ec2_vpc_route_table_info,
ec2_key_info) instead of letting each module read each resource again. Each check covers every
attribute its module manages from the arguments the roles pass; anything else (no match, two
matches, a difference) hands the resource to the module, which then decides. The roles call
these as astrohub.platform filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _tags_include(tags: Mapping[str, str], wanted: Mapping[str, Any]) -> bool:
    return all(tags.get(key) == str(value) for key, value in wanted.items())


def _own_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags without AWS' own (aws:*), which the modules never purge."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:")}


def vpc_in_place(vpcs: list[dict[str, Any]], cidr: str, tags: Mapping[str, Any]) -> str:
    """The id of the VPC ec2_vpc_net (name = tags['Name'], cidr_block, dns_support and
    dns_hostnames on, purge_tags off) would leave as it is, or '' to call the module."""
    named = [v for v in vpcs if v.get("tags", {}).get("Name") == tags["Name"]]
    matching = [v for v in named if v["cidr_block"] == cidr]
    if len(matching) != 1:
        return ""
    vpc = matching[0]
    in_place = (
        vpc.get("enable_dns_support") is True
        and vpc.get("enable_dns_hostnames") is True
        and _tags_include(vpc.get("tags", {}), tags)
    )
    return str(vpc["id"]) if in_place else ""


def subnet_in_place(
    subnets: list[dict[str, Any]],
    cidr: str,
    zone: str,
    map_public: bool,
    tags: Mapping[str, Any],
) -> bool:
    """Whether ec2_vpc_subnet (purge_tags off, no IPv6) would leave the VPC's subnet with this
    CIDR as it is."""
    matching = [s for s in subnets if s["cidr_block"] == cidr]
    if len(matching) != 1:
        return False
    subnet = matching[0]
    ipv6 = [
        a
        for a in subnet.get("ipv6_cidr_block_association_set", [])
        if a.get("ipv6_cidr_block_state", {}).get("state") in ("associated", "associating")
    ]
    return (
        subnet["availability_zone"] == zone
        and subnet["map_public_ip_on_launch"] is bool(map_public)
        and not subnet.get("assign_ipv6_address_on_creation")
        and not ipv6
        and _tags_include(subnet.get("tags", {}), tags)
    )


def route_table_in_place(
    tables: list[dict[str, Any]],
    tags: Mapping[str, Any],
    routes: list[dict[str, str]],
    subnet_ids: list[str],
) -> bool:
    """Whether ec2_vpc_route_table (lookup: tag, purge_routes, purge_subnets and purge_tags on)
    would leave the table these tags find as it is: exactly these routes besides the local
    one, these subnets and these tags."""
    matching = [t for t in tables if _tags_include(t.get("tags", {}), tags)]
    if len(matching) != 1:
        return False
    table = matching[0]
    own_tags = _own_tags(table.get("tags", {}))
    wanted_routes = {
        (r["dest"], r.get("gateway_id") or r.get("nat_gateway_id") or "") for r in routes
    }
    created_routes = {
        (r["destination_cidr_block"], r.get("gateway_id") or r.get("nat_gateway_id") or "")
        for r in table.get("routes", [])
        if r.get("origin") == "CreateRoute" and r.get("destination_cidr_block")
    }
    associated = {
        a["subnet_id"]
        for a in table.get("associations", [])
        if not a["main"] and a.get("subnet_id")
    }
    return (
        own_tags == {k: str(v) for k, v in tags.items()}
        and created_routes == wanted_routes
        and associated == set(subnet_ids)
    )


def key_pair_in_place(
    keypairs: list[dict[str, Any]], public_key: str, tags: Mapping[str, Any]
) -> bool:
    """Whether ec2_key (purge_tags on) would leave the one key pair ec2_key_info found (with
    include_public_key) as it is: the same key (type and base64 body; ec2_key compares their
    fingerprints by importing a temporary key pair) and exactly these tags."""
    if len(keypairs) != 1:
        return False
    key = keypairs[0]
    return str(key.get("public_key", "")).split()[:2] == public_key.split()[:2] and _own_tags(
        key.get("tags", {})
    ) == {k: str(v) for k, v in tags.items()}
