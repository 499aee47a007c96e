"""The VPC's subnet layout: disjoint, inside the VPC, one private and one public per zone."""

from __future__ import annotations

import ipaddress

import pytest

from astrohub.network import subnet_layout


@pytest.mark.parametrize("vpc", ["10.42.0.0/16", "172.20.0.0/18", "10.0.0.0/20"])
@pytest.mark.parametrize("zones", [1, 3, 6])
def test_layout_is_disjoint_and_inside_the_vpc(vpc: str, zones: int) -> None:
    layout = subnet_layout(vpc, [f"us-east-1{c}" for c in "abcdef"[:zones]])
    nets = [ipaddress.IPv4Network(e[k]) for e in layout for k in ("private_cidr", "public_cidr")]
    assert len(layout) == zones
    assert all(n.subnet_of(ipaddress.IPv4Network(vpc)) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def test_default_layout_is_stable() -> None:
    first = subnet_layout("10.42.0.0/16", ["us-east-1a", "us-east-1b", "us-east-1c"])[0]
    assert first == {
        "zone": "us-east-1a",
        "index": 0,
        "private_cidr": "10.42.0.0/19",
        "public_cidr": "10.42.224.0/22",
    }


def test_private_subnets_are_large() -> None:
    layout = subnet_layout("10.42.0.0/16", ["a", "b", "c"])
    assert {ipaddress.IPv4Network(e["private_cidr"]).num_addresses for e in layout} == {8192}


@pytest.mark.parametrize("count", [0, 7])
def test_zone_count_is_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="need 1 to 6"):
        subnet_layout("10.42.0.0/16", ["z"] * count)
