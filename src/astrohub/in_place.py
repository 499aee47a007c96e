"""Whether an amazon.aws module would leave a resource as it is, judged from one read.

A no-op re-run of the deployment reads the VPC, its subnets, route tables and internet gateway,
the security groups and the CI node's key pair once (the amazon.aws *_info modules) instead of
letting each module read each resource again. Each check covers every
attribute its module manages from the arguments the roles pass; anything else (no match, two
matches, a difference) hands the resource to the module, which then decides. The roles call
these as astrohub.platform filters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies


def _tags_include(tags: Mapping[str, str], wanted: Mapping[str, Any]) -> bool:
    return all(tags.get(key) == str(value) for key, value in wanted.items())


def _tags_equal(tags: Mapping[str, str], wanted: Mapping[str, Any]) -> bool:
    """Exactly these tags (purge_tags on), besides AWS' own (aws:*), which no module purges."""
    own = {k: v for k, v in tags.items() if not k.startswith("aws:")}
    return own == {key: str(value) for key, value in wanted.items()}


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
        _tags_equal(table.get("tags", {}), tags)
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
    return str(key.get("public_key", "")).split()[:2] == public_key.split()[:2] and _tags_equal(
        key.get("tags", {}), tags
    )


def _wanted_rules(
    rules: list[dict[str, Any]],
) -> set[tuple[str, int | None, int | None, str, str, str]]:
    """The rules as ec2_security_group expands them (one per port and per target)."""
    expanded = set()
    for rule in rules:
        proto = str(rule["proto"])
        ports = [(int(p), int(p)) for p in rule.get("ports", [])] or [
            (rule.get("from_port"), rule.get("to_port"))
        ]
        cidrs = rule.get("cidr_ip", [])
        targets = [("ipv4", c) for c in ([cidrs] if isinstance(cidrs, str) else cidrs)]
        if rule.get("group_id"):
            targets.append(("group", rule["group_id"]))
        for low, high in ports:
            for kind, target in targets:
                expanded.add((proto, low, high, kind, target, rule.get("rule_desc") or ""))
    return expanded


def _current_rules(
    permissions: list[dict[str, Any]],
) -> set[tuple[str, int | None, int | None, str, str, str]]:
    current = set()
    for perm in permissions:
        head = (str(perm["ip_protocol"]), perm.get("from_port"), perm.get("to_port"))
        for r in perm.get("ip_ranges", []):
            current.add((*head, "ipv4", r["cidr_ip"], r.get("description") or ""))
        for pair in perm.get("user_id_group_pairs", []):
            current.add((*head, "group", pair.get("group_id", ""), pair.get("description") or ""))
        # Anything else is never ours: it makes the sets differ, and the module purges it.
        for r in perm.get("ipv6_ranges", []):
            current.add((*head, "ipv6", r["cidr_ipv6"], r.get("description") or ""))
        for r in perm.get("prefix_list_ids", []):
            current.add((*head, "ip_prefix", r["prefix_list_id"], r.get("description") or ""))
    return current


def security_group_in_place(groups: list[dict[str, Any]], group: Mapping[str, Any]) -> str:
    """The id of the security group ec2_security_group (purge_rules and purge_tags on, no
    rules_egress: egress left alone) would leave as it is, or '' to call the module. `group`
    holds the module's name, description, rules and tags; the group found must be the one of
    this name, with this description, exactly these ingress rules (descriptions included) and
    exactly these tags."""
    matching = [g for g in groups if g["group_name"] == group["name"]]
    if len(matching) != 1:
        return ""
    found = matching[0]
    in_place = (
        found.get("description") == group["description"]
        and _tags_equal(found.get("tags", {}), group["tags"])
        and _current_rules(found.get("ip_permissions", [])) == _wanted_rules(group["rules"])
    )
    return str(found["group_id"]) if in_place else ""


def internet_gateway_in_place(gateways: list[dict[str, Any]], tags: Mapping[str, Any]) -> str:
    """The id of the internet gateway ec2_vpc_igw (purge_tags on) would leave as it is, given
    the gateways attached to the VPC, or '' to call the module."""
    if len(gateways) != 1:
        return ""
    gateway = gateways[0]
    attached = [a for a in gateway.get("attachments", []) if a.get("state") == "available"]
    if len(attached) != 1 or not _tags_equal(gateway.get("tags", {}), tags):
        return ""
    return str(gateway["internet_gateway_id"])


def file_system_in_place(file_systems: list[dict[str, Any]], file_system: Mapping[str, Any]) -> str:
    """The id of the EFS file system community.aws.efs (purge_tags on, no transition_to_ia:
    efs_lifecycle sets that) would leave as it is, given what community.aws.efs_info found by
    its creation token, or '' to call the module. `file_system` holds the module's
    throughput_mode, provisioned_throughput_in_mibps (None unless provisioned), tags and targets
    (subnet_id and security_groups each): the file system and every mount target available,
    mount targets in exactly these subnets with exactly these groups, exactly these tags.
    Encryption and performance mode are set only at creation, by the module."""
    if len(file_systems) != 1:
        return ""
    found = file_systems[0]
    targets = {t["subnet_id"]: t for t in found.get("mount_targets", [])}
    wanted = {t["subnet_id"]: list(t["security_groups"]) for t in file_system["targets"]}
    provisioned = file_system.get("provisioned_throughput_in_mibps")
    in_place = (
        found.get("life_cycle_state") == "available"
        and found.get("throughput_mode") == file_system["throughput_mode"]
        and (not provisioned or found.get("provisioned_throughput_in_mibps") == float(provisioned))
        and _tags_equal(found.get("tags", {}), file_system["tags"])
        and set(targets) == set(wanted)
        and all(
            t.get("life_cycle_state") == "available"
            and list(t.get("security_groups", [])) == wanted[subnet]
            for subnet, t in targets.items()
        )
    )
    return str(found["file_system_id"]) if in_place else ""


def _tag_dict(tags: Mapping[str, str] | list[Mapping[str, str]] | None) -> dict[str, str]:
    """Tags as a dict, from a dict or from a list of key/value pairs (either case)."""
    if isinstance(tags, Mapping):
        return dict(tags)
    return {t.get("key", t.get("Key", "")): t.get("value", t.get("Value", "")) for t in tags or []}


def route_table_ids(tables: list[dict[str, Any]], names: list[str]) -> list[str]:
    """The ids of the route tables named (Name tag) in this order, from route table lookups
    and results; a later table of the same name wins (the one a run just made)."""
    by_name = {
        _tag_dict(t.get("tags")).get("Name"): str(t.get("id") or t.get("route_table_id"))
        for t in tables
    }
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"no route table named {', '.join(missing)}")
    return [by_name[n] for n in names]


def _service_endpoints(endpoints: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [
        e
        for e in endpoints
        if e["service_name"] == service
        and str(e.get("state", "")).lower() in ("pending", "available")
    ]


def gateway_endpoint_in_place(
    endpoints: list[dict[str, Any]],
    service: str,
    route_tables: list[str],
    tags: Mapping[str, Any],
) -> str:
    """The id of the VPC's gateway endpoint for the service that ec2_vpc_endpoint (purge_tags
    on) would leave as it is: exactly these route tables and tags; '' to call the module.
    `endpoints`: what ec2_vpc_endpoint_info found in the VPC."""
    matching = _service_endpoints(endpoints, service)
    if len(matching) != 1:
        return ""
    found = matching[0]
    in_place = sorted(found.get("route_table_ids", [])) == sorted(route_tables) and _tags_equal(
        _tag_dict(found.get("tags")), tags
    )
    return str(found["vpc_endpoint_id"]) if in_place else ""


def gateway_endpoints_to_replace(
    endpoints: list[dict[str, Any]], service: str, route_tables: list[str]
) -> list[str]:
    """The service's endpoints on other route tables than these. ec2_vpc_endpoint cannot move
    an endpoint to other route tables: it would make a second one beside it, which AWS refuses
    on a route table the first one holds. These go first."""
    return [
        str(e["vpc_endpoint_id"])
        for e in _service_endpoints(endpoints, service)
        if sorted(e.get("route_table_ids", [])) != sorted(route_tables)
    ]


_PUBLIC_ACCESS_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}


def bucket_in_place(buckets: list[dict[str, Any]], bucket: Mapping[str, Any]) -> bool:
    """Whether s3_bucket (purge_tags on) would leave the bucket as it is, given what
    s3_bucket_info found by its name with the bucket_encryption, bucket_ownership_controls,
    bucket_policy, bucket_tagging, bucket_versioning and public_access_block facts. `bucket`
    holds the module's name, versioning, encryption (SSE algorithm), object_ownership,
    public_access (its four flags), policy (compared as the module compares it) and tags."""
    matching = [b for b in buckets if b.get("name") == bucket["name"]]
    if len(matching) != 1:
        return False
    found = matching[0]
    encryption = (found.get("bucket_encryption") or {}).get("ServerSideEncryptionConfiguration", {})
    algorithms = [
        r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        for r in encryption.get("Rules", [])
    ]
    ownership = (found.get("bucket_ownership_controls") or {}).get("OwnershipControls", {})
    block = (found.get("public_access_block") or {}).get("PublicAccessBlockConfiguration", {})
    policy = (found.get("bucket_policy") or {}).get("Policy")
    versioning = (found.get("bucket_versioning") or {}).get("Status")
    return (
        versioning == ("Enabled" if bucket["versioning"] else "Suspended")
        and algorithms == [bucket["encryption"]]
        and [r.get("ObjectOwnership") for r in ownership.get("Rules", [])]
        == [bucket["object_ownership"]]
        and all(
            block.get(aws) is bool(bucket["public_access"][key])
            for key, aws in _PUBLIC_ACCESS_KEYS.items()
        )
        and policy is not None
        and not compare_policies(json.loads(policy), bucket["policy"])
        and _tags_equal(found.get("bucket_tagging") or {}, bucket["tags"])
    )
