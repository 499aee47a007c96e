"""Subnet layout of the platform VPC, computed once so every run derives the same CIDRs.

The VPC block is cut in eight equal parts: parts 0-5 become the private subnets (one per
availability zone, where the cluster's nodes and the EFS mount targets live) and part 7 is cut
in eight again for the small public subnets (load balancers, NAT gateways, the CI node).
Part 6 is left free for later use (e.g. a database subnet group).
"""

from __future__ import annotations

import ipaddress

MAX_ZONES = 6


def subnet_layout(vpc_cidr: str, zones: list[str]) -> list[dict[str, str | int]]:
    """One entry per zone: {'zone', 'index', 'private_cidr', 'public_cidr'}."""
    if not 1 <= len(zones) <= MAX_ZONES:
        raise ValueError(f"need 1 to {MAX_ZONES} availability zones, got {len(zones)}")
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    eighths = list(vpc.subnets(prefixlen_diff=3))
    public_blocks = list(eighths[7].subnets(prefixlen_diff=3))
    return [
        {
            "zone": zone,
            "index": i,
            "private_cidr": str(eighths[i]),
            "public_cidr": str(public_blocks[i]),
        }
        for i, zone in enumerate(zones)
    ]
