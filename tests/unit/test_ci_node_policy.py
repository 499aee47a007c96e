"""The CI node's IAM policies, as the ci_node role renders them, evaluated by an IAM policy
evaluator that implements AWS's logic (@cloud-copilot/iam-simulate): every request kops v1.36.2
makes for our cluster shape is allowed under the context it really carries (the reference in
../shared/reference, copied call by call into tests/data/iam/kops-calls.yaml), and what must
stay out of reach is denied: other deployments, roles outside the cluster, the boundary."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from iam_policies import (
    ACCOUNT,
    LONGEST_NAMESPACE,
    NODE_ROLES,
    REGION,
    Rendered,
    Request,
    kops_calls,
    kops_requests,
    render,
    simulate,
    tag_context,
)
from pinned import KOPS_VERSION

# AWS's limit for one customer-managed policy, counted without whitespace.
MANAGED_POLICY_LIMIT = 6144


@pytest.fixture(
    scope="module",
    params=[("astrohub", (0,)), (LONGEST_NAMESPACE, (0,)), (LONGEST_NAMESPACE, (99, 100))],
    ids=["astrohub", "longest", "longest-upgrading-to-g100"],
)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    """The third: during an upgrade, kops' requests are those for the new cluster (names as
    long as they get), and the documents name both clusters (still within AWS's size limit)."""
    namespace, generations = request.param
    return render(namespace, generations)


def decide(rendered: Rendered, requests: list[Request]) -> list[str]:
    principal = f"arn:aws:iam::{ACCOUNT}:role/{rendered.namespace}-ci-node"
    results = simulate(rendered.identity(), requests, principal=principal)
    return [r.get("result") or f"error: {r.get('error')}" for r in results]


def test_the_calls_are_those_of_the_pinned_kops() -> None:
    """Moving kops_version without re-reading kops' calls fails here."""
    assert kops_calls()["kops_version"] == KOPS_VERSION
    assert yaml.safe_load(NODE_ROLES.read_text())["kops_version"] == KOPS_VERSION


def test_every_call_kops_makes_is_allowed(rendered: Rendered) -> None:
    requests = kops_requests(rendered)
    assert len(requests) > 150
    refused = [
        f"{r.label}: {result}"
        for r, result in zip(requests, decide(rendered, requests), strict=True)
        if result != "Allowed"
    ]
    assert not refused, "\n".join(refused)


def test_every_action_granted_is_one_kops_calls(rendered: Rendered) -> None:
    """Least privilege: nothing in an Allow that no call of the reference needs."""
    called = {c["action"] for c in kops_calls()["calls"]}
    granted = set()
    for document in rendered.identity().values():
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                actions = statement["Action"]
                granted |= {actions} if isinstance(actions, str) else set(actions)
    assert granted - called == set()
    assert all("*" not in action for action in granted)


def test_each_policy_fits_with_room_to_spare(rendered: Rendered) -> None:
    for name, document in rendered.policies.items():
        size = len(json.dumps(document, separators=(",", ":")))
        assert size <= 0.75 * MANAGED_POLICY_LIMIT, f"{name}: {size} characters"


# --- what stays out of reach ------------------------------------------------------------------


def _other(rendered: Rendered) -> dict[str, Any]:
    return tag_context("ResourceTag", {"astrohub:deployment": "someone-else"})


def denials(rendered: Rendered) -> dict[str, Request]:
    """Requests the node must never get through, by what they would do."""
    ns, cluster, boundary = rendered.namespace, rendered.cluster, rendered.boundary_arn
    arn_ec2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    arn_iam = f"arn:aws:iam::{ACCOUNT}"
    ours = tag_context("RequestTag", {"astrohub:deployment": ns})
    return {
        "delete another deployment's volume": Request(
            "ec2:DeleteVolume", f"{arn_ec2}:volume/vol-0ther", _other(rendered)
        ),
        "terminate an untagged instance": Request(
            "ec2:TerminateInstances", f"{arn_ec2}:instance/i-0ther"
        ),
        "terminate another deployment's instance": Request(
            "ec2:TerminateInstances", f"{arn_ec2}:instance/i-0ther", _other(rendered)
        ),
        "claim another deployment's volume by tagging it": Request(
            "ec2:CreateTags", f"{arn_ec2}:volume/vol-0ther", {**ours, **_other(rendered)}
        ),
        "create a group in another deployment's VPC": Request(
            "ec2:CreateSecurityGroup", f"{arn_ec2}:vpc/vpc-0ther", _other(rendered)
        ),
        "create an untagged volume": Request("ec2:CreateVolume", f"{arn_ec2}:volume/vol-new"),
        "delete another deployment's load balancer": Request(
            "elasticloadbalancing:DeleteLoadBalancer",
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/api-x/0a",
            _other(rendered),
        ),
        "delete another cluster's Auto Scaling group": Request(
            "autoscaling:DeleteAutoScalingGroup",
            f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0a:"
            f"autoScalingGroupName/nodes.x{cluster}",
        ),
        "create a kops role without the boundary": Request(
            "iam:CreateRole", f"{arn_iam}:role/masters.{cluster}"
        ),
        "create a kops role under another boundary": Request(
            "iam:CreateRole",
            f"{arn_iam}:role/masters.{cluster}",
            {"iam:PermissionsBoundary": f"{arn_iam}:policy/wide-open"},
        ),
        "create a role outside the cluster, even bounded": Request(
            "iam:CreateRole", f"{arn_iam}:role/admin", {"iam:PermissionsBoundary": boundary}
        ),
        "put a policy on a kops role that has no boundary": Request(
            "iam:PutRolePolicy", f"{arn_iam}:role/nodes.{cluster}"
        ),
        "put a policy on another cluster's role": Request(
            "iam:PutRolePolicy",
            f"{arn_iam}:role/nodes.other.k8s.local",
            {"iam:PermissionsBoundary": boundary},
        ),
        "attach an AWS-managed policy to a kops role": Request(
            "iam:AttachRolePolicy",
            f"{arn_iam}:role/masters.{cluster}",
            {
                "iam:PermissionsBoundary": boundary,
                "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
        ),
        "remove the boundary from a kops role": Request(
            "iam:DeleteRolePermissionsBoundary",
            f"{arn_iam}:role/masters.{cluster}",
            {"iam:PermissionsBoundary": boundary},
        ),
        "swap the boundary of a kops role": Request(
            "iam:PutRolePermissionsBoundary",
            f"{arn_iam}:role/masters.{cluster}",
            {"iam:PermissionsBoundary": f"{arn_iam}:policy/wide-open"},
        ),
        "rewrite the boundary": Request("iam:CreatePolicyVersion", boundary),
        "make another version of the boundary the default": Request(
            "iam:SetDefaultPolicyVersion", boundary
        ),
        "delete the boundary": Request("iam:DeletePolicy", boundary),
        "trust anyone on an arbitrary role": Request(
            "iam:UpdateAssumeRolePolicy", f"{arn_iam}:role/admin"
        ),
        "give an arbitrary role a policy": Request("iam:PutRolePolicy", f"{arn_iam}:role/admin"),
        "pass its own role to an instance": Request(
            "iam:PassRole",
            f"{arn_iam}:role/{ns}-ci-node",
            {"iam:PassedToService": "ec2.amazonaws.com"},
        ),
        "pass a kops role to Lambda": Request(
            "iam:PassRole",
            f"{arn_iam}:role/masters.{cluster}",
            {"iam:PassedToService": "lambda.amazonaws.com"},
        ),
        "assume a role": Request("sts:AssumeRole", f"{arn_iam}:role/admin"),
        "create a service-linked role for another service": Request(
            "iam:CreateServiceLinkedRole",
            f"{arn_iam}:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
            {"iam:AWSServiceName": "lambda.amazonaws.com"},
        ),
        "read another bucket": Request("s3:GetObject", "arn:aws:s3:::other-bucket/secret"),
        "delete the state bucket": Request("s3:DeleteBucket", f"arn:aws:s3:::{ns}-kops-state"),
        "delete another queue": Request(
            "sqs:DeleteQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:other-k8s-local-nth"
        ),
        "delete another cluster's rule": Request(
            "events:DeleteRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other.k8s.local-x"
        ),
    }


def test_what_must_stay_out_of_reach_is_denied(rendered: Rendered) -> None:
    cases = denials(rendered)
    results = dict(zip(cases, decide(rendered, list(cases.values())), strict=True))
    allowed = [name for name, result in results.items() if result == "Allowed"]
    assert not allowed, allowed
    assert all(r in ("ImplicitlyDenied", "ExplicitlyDenied") for r in results.values()), results


def test_the_boundary_is_enforced_by_explicit_denies(rendered: Rendered) -> None:
    """Whatever else is ever attached to the node: its own deny statements hold the boundary."""
    cases = denials(rendered)
    keep = [
        "create a kops role without the boundary",
        "swap the boundary of a kops role",
        "remove the boundary from a kops role",
        "rewrite the boundary",
        "delete the boundary",
    ]
    wide_open = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    principal = f"arn:aws:iam::{ACCOUNT}:role/{rendered.namespace}-ci-node"
    results = simulate(
        {**rendered.identity(), "someone-attached-this": wide_open},
        [cases[name] for name in keep],
        principal=principal,
    )
    assert [r["result"] for r in results] == ["ExplicitlyDenied"] * len(keep)


def test_the_boundary_lets_kops_roles_do_what_kops_grants_them(rendered: Rendered) -> None:
    """The boundary is a ceiling kops' own role policies fit under: no kops component is cut off."""
    data = yaml.safe_load(NODE_ROLES.read_text())
    names = rendered.placeholders()
    resources = {k: v.format(**names) for k, v in kops_calls()["resources"].items()}
    actions: set[str] = set()
    for action in data["masters"] + data["nodes"]:
        actions |= set(data["expands"].get(action, [action]))
    requests = [
        Request(
            action,
            resources[data["resources"].get(action, "any")],
            data["contexts"].get(action, {}),
            action,
        )
        for action in sorted(actions)
    ]
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    results = simulate(
        {"kops-role-policy": everything},
        requests,
        principal=f"arn:aws:iam::{ACCOUNT}:role/masters.{rendered.cluster}",
        boundary=rendered.policies["kops-nodes-boundary"],
    )
    cut_off = [
        r.label for r, res in zip(requests, results, strict=True) if res.get("result") != "Allowed"
    ]
    assert not cut_off, cut_off


def test_the_boundary_grants_no_way_to_escalate(rendered: Rendered) -> None:
    """A kops role, even with every permission put on it, stays inside the boundary."""
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn_iam = f"arn:aws:iam::{ACCOUNT}"
    requests = [
        Request("iam:CreateRole", f"{arn_iam}:role/x"),
        Request("iam:PutRolePolicy", f"{arn_iam}:role/masters.{rendered.cluster}"),
        Request("iam:AttachRolePolicy", f"{arn_iam}:role/masters.{rendered.cluster}"),
        Request(
            "iam:PassRole", f"{arn_iam}:role/admin", {"iam:PassedToService": "ec2.amazonaws.com"}
        ),
        Request("iam:CreateAccessKey", f"{arn_iam}:user/admin"),
        Request("sts:AssumeRole", f"{arn_iam}:role/admin"),
        Request("s3:GetObject", "arn:aws:s3:::other-bucket/key"),
        Request("ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0"),
    ]
    results = simulate(
        {"kops-role-policy": everything},
        requests,
        principal=f"arn:aws:iam::{ACCOUNT}:role/masters.{rendered.cluster}",
        boundary=rendered.policies["kops-nodes-boundary"],
    )
    allowed = [
        r.label or r.action
        for r, res in zip(requests, results, strict=True)
        if res.get("result") == "Allowed"
    ]
    assert not allowed, allowed


def test_an_upgrade_reaches_both_generations_and_no_other() -> None:
    """While an upgrade has generations 1 (live) and 2 (new), the node may manage the kops
    roles, Auto Scaling groups and termination queues of both, and of no other generation."""
    rendered = render("astrohub", (1, 2))
    arn_iam = f"arn:aws:iam::{ACCOUNT}"
    boundary = {"iam:PermissionsBoundary": rendered.boundary_arn}

    def requests(cluster: str) -> list[Request]:
        return [
            Request("iam:CreateRole", f"{arn_iam}:role/nodes.{cluster}", boundary),
            Request("iam:DeleteRole", f"{arn_iam}:role/nodes.{cluster}"),
            Request(
                "autoscaling:DeleteAutoScalingGroup",
                f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0a:"
                f"autoScalingGroupName/nodes.{cluster}",
            ),
            Request(
                "sqs:DeleteQueue",
                f"arn:aws:sqs:{REGION}:{ACCOUNT}:{cluster.replace('.', '-')}-nth",
            ),
        ]

    managed = ["astrohub-g1.k8s.local", "astrohub-g2.k8s.local"]
    others = ["astrohub.k8s.local", "astrohub-g3.k8s.local", "astrohub-g12.k8s.local"]
    results = {cluster: set(decide(rendered, requests(cluster))) for cluster in managed + others}
    assert {c: results[c] for c in managed} == {c: {"Allowed"} for c in managed}
    assert {c: results[c] for c in others} == {c: {"ImplicitlyDenied"} for c in others}
