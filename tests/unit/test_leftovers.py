"""What kops and Kubernetes leave of a cluster is found by their own tag (the `kubernetes` scope
of astrohub.leftovers), against the emulator: owned resources count, shared ones never."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from astrohub import leftovers
from astrohub_local.emulator import Emulator

NAMESPACE = "lefty"
CLUSTER = f"{NAMESPACE}.k8s.local"
OWNED = {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"}
SHARED = {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "shared"}
ANOTHER = {"Key": "kubernetes.io/cluster/other.k8s.local", "Value": "owned"}


@pytest.fixture
def planted(aws_emulator: Emulator) -> dict[str, Any]:
    """A cluster's leftovers as kops and Kubernetes tag them, beside look-alikes that are not."""
    aws_emulator.reset()

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=aws_emulator.url, region_name="us-east-1")

    ec2, elbv2, elb = client("ec2"), client("elbv2"), client("elb")
    vpc = ec2.create_vpc(
        CidrBlock="10.7.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [SHARED]}],
    )["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    ec2.create_tags(Resources=subnets, Tags=[SHARED])

    def tagged(kind: str, tags: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": tags}]

    made = {
        "volume": ec2.create_volume(
            AvailabilityZone="us-east-1a", Size=1, TagSpecifications=tagged("volume", [OWNED])
        )["VolumeId"],
        "group": ec2.create_security_group(
            GroupName="k8s-elb-a1b2",
            Description="a LoadBalancer service's",
            VpcId=vpc,
            TagSpecifications=tagged("security-group", [OWNED]),
        )["GroupId"],
        "interface": ec2.create_network_interface(
            SubnetId=subnets[0], TagSpecifications=tagged("network-interface", [OWNED])
        )["NetworkInterface"]["NetworkInterfaceId"],
        "nlb": elbv2.create_load_balancer(
            Name="api-lefty", Subnets=subnets, Type="network", Tags=[OWNED]
        )["LoadBalancers"][0]["LoadBalancerArn"],
        "clb": "a1b2c3-service",
    }
    elb.create_load_balancer(
        LoadBalancerName=made["clb"],
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}],
        Subnets=subnets,
        Tags=[OWNED],
    )
    # Not the cluster's: another cluster's volume and an untagged load balancer.
    ec2.create_volume(
        AvailabilityZone="us-east-1a", Size=1, TagSpecifications=tagged("volume", [ANOTHER])
    )
    elbv2.create_load_balancer(Name="someone-else", Subnets=subnets, Type="network")
    return {"made": made, "clients": client, "emulator": aws_emulator}


def test_the_kubernetes_scope_lists_what_the_cluster_owns_and_nothing_shared(
    planted: dict[str, Any],
) -> None:
    made = planted["made"]
    found = leftovers.find(planted["clients"], NAMESPACE, f"{NAMESPACE}-kops-state", ["kubernetes"])
    assert sorted(found["kubernetes"]) == sorted(
        [
            f"volume {made['volume']}",
            f"security group {made['group']}",
            f"network interface {made['interface']}",
            f"load balancer {made['nlb']}",
            f"classic load balancer {made['clb']}",
        ]
    )


def test_more_load_balancers_than_one_tag_call_takes_are_all_read(
    planted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leftovers, "ELB_TAGS_PER_CALL", 1)
    planted["emulator"].reset_calls()
    found = leftovers.find(planted["clients"], NAMESPACE, f"{NAMESPACE}-kops-state", ["kubernetes"])
    assert f"load balancer {planted['made']['nlb']}" in found["kubernetes"]
    # One call per load balancer: the two network ones, then the classic one.
    assert planted["emulator"].calls()["elasticloadbalancing:DescribeTags"] == 3


def test_the_kubernetes_scope_covers_every_generation_it_is_given(
    planted: dict[str, Any],
) -> None:
    """During an upgrade two clusters exist: the new generation's leftovers count only when
    its name is passed (teardown passes every generation the state bucket's record names)."""
    ec2 = planted["clients"]("ec2")
    upgrade = {"Key": f"kubernetes.io/cluster/{NAMESPACE}-g1.k8s.local", "Value": "owned"}
    volume = ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [upgrade]}],
    )["VolumeId"]
    bucket = f"{NAMESPACE}-kops-state"
    live_only = leftovers.find(planted["clients"], NAMESPACE, bucket, ["kubernetes"])
    assert f"volume {volume}" not in live_only["kubernetes"]
    both = leftovers.find(
        planted["clients"],
        NAMESPACE,
        bucket,
        ["kubernetes"],
        [CLUSTER, f"{NAMESPACE}-g1.k8s.local"],
    )
    assert sorted(both["kubernetes"]) == sorted([*live_only["kubernetes"], f"volume {volume}"])
