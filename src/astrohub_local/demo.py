"""`make demo`: the real playbooks against a local AWS emulator, then a summary of what exists.

Starts the emulator on loopback, runs playbooks/deploy.yml with inventories/local/, and prints
what the deployment made, read back from the emulator with boto3. With a terminal attached it
ends with a local JupyterHub (and the local OpenID Connect provider standing in for MAST)
served from the values the deploy rendered, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import yaml

from astrohub.chart import read_values_files
from astrohub_local.emulator import Emulator
from astrohub_local.localhub import VALUES_DIR, deployed_values_files, run_demo
from astrohub_local.runner import REPO, run_playbook

TAG = "astrohub:deployment"
LOCAL_NAMESPACE = "astrohub-demo"


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def summary(endpoint: str, namespace: str = LOCAL_NAMESPACE) -> list[str]:
    """Human lines describing the deployment's AWS resources, read from the endpoint."""
    ec2, efs, s3, iam = (_client(endpoint, s) for s in ("ec2", "efs", "s3", "iam"))
    tagged = [{"Name": f"tag:{TAG}", "Values": [namespace]}]
    lines: list[str] = []
    for vpc in ec2.describe_vpcs(Filters=tagged)["Vpcs"]:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
        kinds: dict[bool, list[str]] = {True: [], False: []}
        for subnet in sorted(subnets["Subnets"], key=lambda s: s["AvailabilityZone"]):
            kinds[subnet["MapPublicIpOnLaunch"]].append(
                f"{subnet['AvailabilityZone']} {subnet['CidrBlock']}"
            )
        nats = [
            n
            for n in ec2.describe_nat_gateways(Filters=tagged)["NatGateways"]
            if n["State"] == "available"
        ]
        endpoints = ec2.describe_vpc_endpoints(
            Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, *tagged]
        )["VpcEndpoints"]
        lines += [
            f"VPC         {vpc['VpcId']} {vpc['CidrBlock']}",
            f"  public    {', '.join(kinds[True])}",
            f"  private   {', '.join(kinds[False])}",
            f"  NAT       {len(nats)} gateway(s)",
            *(
                f"  endpoint  {e['ServiceName']} ({e['VpcEndpointType']}) on "
                f"{len(e['RouteTableIds'])} private route table(s)"
                for e in endpoints
            ),
        ]
    for reservation in ec2.describe_instances(Filters=tagged)["Reservations"]:
        for node in reservation["Instances"]:
            if node["State"]["Name"] == "terminated":
                continue
            profile = node.get("IamInstanceProfile", {}).get("Arn", "").rsplit("/", 1)[-1]
            lines.append(
                f"CI node     {node['InstanceId']} {node['InstanceType']} {node['State']['Name']}"
                f" (profile {profile}, key {node.get('KeyName')})"
            )
    roles = [
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        if r["RoleName"].startswith(f"{namespace}-")
    ]
    for role in roles:
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        names = ", ".join(p["PolicyName"] for p in attached)
        lines.append(f"IAM role    {role} -> {names}")
    for bucket in s3.list_buckets()["Buckets"]:
        if not bucket["Name"].startswith(f"{namespace}-"):
            continue
        versioning = s3.get_bucket_versioning(Bucket=bucket["Name"]).get("Status", "off")
        lines.append(f"S3 bucket   {bucket['Name']} (versioning {versioning}, encrypted, private)")
    for fs in efs.describe_file_systems()["FileSystems"]:
        if _tags(fs).get(TAG) != namespace:
            continue
        fs_id = fs["FileSystemId"]
        targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
        backup = efs.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"]["Status"]
        lines.append(
            f"EFS         {fs_id} encrypted={fs['Encrypted']} backup={backup} "
            f"mount targets={len(targets)}"
        )
        for point in efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]:
            info = point["RootDirectory"].get("CreationInfo", {})
            lines.append(
                f"  access pt {point['AccessPointId']} {point['RootDirectory']['Path']} "
                f"uid={info.get('OwnerUid')} gid={info.get('OwnerGid')}"
            )
    return lines


def plan_summary(build: Path) -> list[str]:
    """Human lines describing the Kubernetes plan in build/<namespace>/."""
    docs = list(yaml.safe_load_all((build / "kops-cluster.yaml").read_text(encoding="utf-8")))
    cluster = next(d for d in docs if d and d["kind"] == "Cluster")
    spec = cluster["spec"]
    lines = [
        f"kops        {build / 'kops-cluster.yaml'}",
        f"  cluster   {cluster['metadata']['name']} Kubernetes {spec['kubernetesVersion']}"
        f" in {spec['networkID']}, DNS {spec['topology']['dns']['type']}",
    ]
    for doc in docs:
        if doc and doc["kind"] == "InstanceGroup":
            spec = doc["spec"]
            lines.append(
                f"  group     {doc['metadata']['name']:26s} {spec['machineType']:11s} "
                f"{spec['minSize']}..{spec['maxSize']} nodes"
            )
    values = read_values_files(deployed_values_files(build))
    versions = yaml.safe_load((REPO / "group_vars/all/versions.yml").read_text(encoding="utf-8"))
    lines.append(f"helm        {build / VALUES_DIR}/ (in name order)")
    lines.append(
        f"  chart     jupyterhub {versions['jupyterhub_chart_version']} (pinned), rendered and "
        f"validated: {build / 'jupyterhub-rendered.yaml'}"
    )
    for profile in values["singleuser"]["profileList"]:
        lines.append(f"  profile   {profile['display_name']}")
    storage = values["singleuser"]["storage"]
    lines.append(
        f"  storage   {storage['type']} claim {storage['static']['pvcName']}, "
        f"subPath {storage['static']['subPath']} ({build / 'efs-home-storage.yaml'})"
    )
    sync = build / "crds-sync.yaml"
    if sync.is_file():
        docs = yaml.safe_load_all(sync.read_text(encoding="utf-8"))
        jobs = [d for d in docs if d and d["kind"] == "CronJob"]
        names = ", ".join(job["metadata"]["name"] for job in jobs)
        schedule = jobs[0]["spec"]["schedule"] if jobs else "-"
        lines.append(
            f"  crds      shared cache, read-only in every server; sync {names} at {schedule}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--no-wait", action="store_true", help="exit once the hub is up")
    args = parser.parse_args(argv)
    wait = not args.no_wait and sys.stdin.isatty()

    with Emulator() as emulator:
        print(f"==> AWS emulator on {emulator.url} (moto, loopback only; no AWS account used)")

        def deploy(env: Mapping[str, str]) -> int:
            """The real deploy, with the provider URL and hub host the local inventory reads."""
            print("==> ansible-playbook -i inventories/local playbooks/deploy.yml", flush=True)
            result = run_playbook(
                "deploy.yml", emulator.url, structured=False, env={**os.environ, **env}
            )
            if result.returncode != 0:
                print("==> deploy failed; see the output above", file=sys.stderr)
                return result.returncode
            calls = emulator.calls()
            print(f"\n==> What the deployment made ({sum(calls.values())} AWS API calls):")
            for line in summary(emulator.url):
                print("    " + line)
            print("\n==> The Kubernetes layer, planned (kops/helm would apply these):")
            for line in plan_summary(REPO / "build" / LOCAL_NAMESPACE):
                print("    " + line)
            return 0

        return run_demo(deploy, REPO / "build" / LOCAL_NAMESPACE, wait=wait)


if __name__ == "__main__":
    raise SystemExit(main())
