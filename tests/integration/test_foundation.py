"""The AWS foundation against the emulator: converge, idempotence, properties, tagged teardown.

The steps share one deployment and run in order (like amazon.aws integration targets): each
teardown scope is applied to what the previous steps left, and every step asserts both that
its own resources went and that everything else stayed. State is read with boto3.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from astrohub.emulator import Emulator
from astrohub.runner import PlaybookResult
from aws_state import NAMESPACE, SCOPE_KINDS, SCOPE_SECURITY_GROUPS, TAG, clients, snapshot, tags_of
from iam_policies import ACCOUNT, render

CONFIRM = {"confirm_destroy": NAMESPACE}


def assert_converged_without_change(result: PlaybookResult) -> None:
    assert result.returncode == 0, result.failures or result.output[-3000:]
    assert result.stats, "no play recap"
    for host, stats in result.stats.items():
        assert stats["changed"] == 0, f"{host} reported changed={stats['changed']}"


def removed_by(scope: str, before: dict[str, set[str]], after: dict[str, set[str]]) -> None:
    """Exactly the scope's kinds (and security groups) are gone; every other kind is intact."""
    kinds = SCOPE_KINDS.get(scope, set())
    groups = {NAMESPACE + suffix for suffix in SCOPE_SECURITY_GROUPS.get(scope, set())}
    for kind, ids in before.items():
        if kind == "security_group":
            assert after[kind] == ids - groups, kind
        elif kind in kinds:
            assert after[kind] == set(), f"{kind} left after {scope}: {after[kind]}"
        else:
            assert after[kind] == ids, f"{scope} touched {kind}"


@pytest.fixture(scope="module")
def aws(aws_emulator: Emulator) -> dict[str, Any]:
    return clients(aws_emulator.url)


class TestDeploy:
    def test_first_run_changes_things(self, deployed: dict[str, Any]) -> None:
        assert deployed["first"].changed > 0

    def test_second_run_reports_no_change(self, deployed: dict[str, Any], playbook) -> None:
        assert_converged_without_change(playbook("deploy.yml"))

    def test_vpc_spans_three_zones_with_public_and_private_subnets(self, deployed, aws) -> None:
        ec2 = aws["ec2"]
        vpc = ec2.describe_vpcs(Filters=[{"Name": f"tag:{TAG}", "Values": [NAMESPACE]}])["Vpcs"]
        assert len(vpc) == 1
        assert vpc[0]["CidrBlock"] == "10.42.0.0/16"
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc[0]["VpcId"]]}])
        public = [s for s in subnets["Subnets"] if s["MapPublicIpOnLaunch"]]
        private = [s for s in subnets["Subnets"] if not s["MapPublicIpOnLaunch"]]
        assert len({s["AvailabilityZone"] for s in public}) == 3
        assert len({s["AvailabilityZone"] for s in private}) == 3
        assert all(tags_of(s).get("kubernetes.io/role/elb") == "1" for s in public)
        assert all(tags_of(s).get("kubernetes.io/role/internal-elb") == "1" for s in private)
        routes = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [s["SubnetId"] for s in private]}]
        )["RouteTables"]
        defaults = [
            r for t in routes for r in t["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0"
        ]
        assert defaults and all(r.get("NatGatewayId", "").startswith("nat-") for r in defaults)
        igw = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc[0]["VpcId"]]}]
        )["InternetGateways"]
        assert len(igw) == 1

    def test_ci_node_runs_with_its_profile_key_and_ssh_rule(self, deployed, aws) -> None:
        ec2 = aws["ec2"]
        reservations = ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [f"{NAMESPACE}-ci-node"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        assert len(instances) == 1
        node = instances[0]
        assert node["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{NAMESPACE}-ci-node")
        assert node["KeyName"] == f"{NAMESPACE}-ci-node"
        assert node["MetadataOptions"]["HttpTokens"] == "required"
        group = ec2.describe_security_groups(GroupIds=[node["SecurityGroups"][0]["GroupId"]])
        rules = group["SecurityGroups"][0]["IpPermissions"]
        assert [(r["FromPort"], [c["CidrIp"] for c in r["IpRanges"]]) for r in rules] == [
            (22, ["192.0.2.0/24"])
        ]
        image = ec2.describe_images(ImageIds=[node["ImageId"]])["Images"]
        ssm_param = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        assert image, "the CI node's AMI comes from the public SSM parameter " + ssm_param

    def test_ci_node_policies_are_the_evaluated_ones(self, deployed, aws) -> None:
        """The documents in IAM are those tests/unit/test_ci_node_policy.py evaluates (the
        role's templates for this namespace), attached as customer-managed policies; the kops
        roles' boundary exists beside them."""
        iam = aws["iam"]
        account = aws["sts"].get_caller_identity()["Account"]
        rendered = render(NAMESPACE)

        def document(arn: str) -> dict[str, Any]:
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)
            text = doc["PolicyVersion"]["Document"]
            return json.loads(text) if isinstance(text, str) else text

        attached = iam.list_attached_role_policies(RoleName=f"{NAMESPACE}-ci-node")
        arns = {p["PolicyName"]: p["PolicyArn"] for p in attached["AttachedPolicies"]}
        assert set(arns) == {f"{NAMESPACE}-ci-node-{c}" for c in ("ec2", "lb-asg", "iam", "state")}
        assert all(f":{account}:policy/" in arn for arn in arns.values()), "no AWS-managed policy"
        for name, arn in arns.items():
            expected = json.loads(
                json.dumps(rendered.policies[name.removeprefix(f"{NAMESPACE}-ci-node-")]).replace(
                    ACCOUNT, account
                )
            )
            assert document(arn) == expected, name
        boundary = f"arn:aws:iam::{account}:policy/{NAMESPACE}-kops-nodes-boundary"
        expected = json.loads(
            json.dumps(rendered.policies["kops-nodes-boundary"]).replace(ACCOUNT, account)
        )
        assert document(boundary) == expected

    def test_state_bucket_is_versioned_encrypted_and_private(self, deployed, aws) -> None:
        s3, bucket = aws["s3"], f"{NAMESPACE}-kops-state"
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        assert tags[TAG] == NAMESPACE

    def test_efs_is_encrypted_backed_up_and_mounted_in_every_private_subnet(
        self, deployed, aws
    ) -> None:
        efs, ec2 = aws["efs"], aws["ec2"]
        systems = [
            f
            for f in efs.describe_file_systems()["FileSystems"]
            if tags_of(f).get(TAG) == NAMESPACE
        ]
        assert len(systems) == 1
        fs = systems[0]
        assert fs["Encrypted"] is True
        assert tags_of(fs)["Name"] == f"{NAMESPACE}-home"
        policy = efs.describe_backup_policy(FileSystemId=fs["FileSystemId"])
        assert policy["BackupPolicy"]["Status"] == "ENABLED"
        private = {
            s["SubnetId"]
            for s in ec2.describe_subnets(Filters=[{"Name": f"tag:{TAG}", "Values": [NAMESPACE]}])[
                "Subnets"
            ]
            if not s["MapPublicIpOnLaunch"]
        }
        targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
        assert {t["SubnetId"] for t in targets} == private
        groups = {
            g["GroupName"]: g
            for g in ec2.describe_security_groups(
                Filters=[{"Name": f"tag:{TAG}", "Values": [NAMESPACE]}]
            )["SecurityGroups"]
        }
        clients_sg = groups[f"{NAMESPACE}-efs-clients"]["GroupId"]
        nfs = groups[f"{NAMESPACE}-efs-mount-targets"]["IpPermissions"]
        assert [
            (r["FromPort"], r["ToPort"], [p["GroupId"] for p in r["UserIdGroupPairs"]]) for r in nfs
        ] == [(2049, 2049, [clients_sg])]
        for target in targets:
            sgs = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])
            assert sgs["SecurityGroups"] == [groups[f"{NAMESPACE}-efs-mount-targets"]["GroupId"]]

    def test_access_point_creates_home_as_uid_1000_gid_100(self, deployed, aws) -> None:
        points = {
            tags_of(p)["Name"]: p for p in aws["efs"].describe_access_points()["AccessPoints"]
        }
        assert set(points) == {f"{NAMESPACE}-home", f"{NAMESPACE}-hub-db"}
        hub_db = points[f"{NAMESPACE}-hub-db"]
        assert hub_db["RootDirectory"]["Path"] == "/hub-db"
        assert hub_db["PosixUser"]["Uid"] == 1000 and hub_db["PosixUser"]["Gid"] == 1000
        point = points[f"{NAMESPACE}-home"]
        assert point["RootDirectory"]["Path"] == "/home"
        assert point["RootDirectory"]["CreationInfo"] == {
            "OwnerUid": 1000,
            "OwnerGid": 100,
            "Permissions": "0755",
        }
        assert point["PosixUser"]["Uid"] == 1000 and point["PosixUser"]["Gid"] == 100
        assert tags_of(point)[TAG] == NAMESPACE

    def test_every_resource_carries_the_deployment_tag(self, deployed, aws_emulator) -> None:
        state = snapshot(aws_emulator.url, NAMESPACE)
        expected = {
            "vpc": 1,
            "subnet": 6,
            "igw": 1,
            "nat": 1,
            "eip": 1,
            "route_table": 2,
            "security_group": 3,
            "instance": 1,
            "key_pair": 1,
            "efs": 1,
            "access_point": 2,
            "mount_target": 3,
            "bucket": 1,
            "iam_role": 1,
            "iam_profile": 1,
            "iam_policy": 5,
            "ecr": 2,
        }
        assert {k: len(v) for k, v in state.items()} == expected

    def test_science_images_have_scanned_tagged_repositories(self, deployed, aws_emulator):
        ecr = clients(aws_emulator.url)["ecr"]
        repos = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
        assert set(repos) == {f"{NAMESPACE}/jwst", f"{NAMESPACE}/hst"}
        for repo in repos.values():
            assert repo["imageScanningConfiguration"]["scanOnPush"] is True
            tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            assert {"Key": TAG, "Value": NAMESPACE} in tags


class TestTeardown:
    """Each scope removes exactly its resources; a second run changes nothing."""

    def check_scope(self, playbook, emulator: Emulator, scope: str, **kwargs: Any) -> None:
        before = snapshot(emulator.url, NAMESPACE)
        tags = [] if scope == "release" else [scope]
        result = playbook("teardown.yml", tags=tags, **kwargs)
        assert result.returncode == 0, result.failures or result.output[-3000:]
        removed_by(scope, before, snapshot(emulator.url, NAMESPACE))
        assert_converged_without_change(playbook("teardown.yml", tags=tags, **kwargs))

    def test_default_removes_no_aws_resource(self, deployed, playbook, aws_emulator) -> None:
        self.check_scope(playbook, aws_emulator, "release")

    def test_kubernetes_keeps_vpc_efs_bucket_and_ci_node(self, deployed, playbook, aws_emulator):
        self.check_scope(playbook, aws_emulator, "kubernetes")

    @pytest.mark.parametrize("scope", ["all-fixtures", "fixture-efs"])
    def test_home_deletion_refuses_without_confirmation(
        self, scope: str, deployed, playbook, aws_emulator
    ) -> None:
        before = snapshot(aws_emulator.url, NAMESPACE)
        aws_emulator.reset_calls()
        result = playbook("teardown.yml", tags=[scope])
        assert result.returncode != 0
        assert "Nothing has been deleted" in "\n".join(result.failures)
        assert f"-e confirm_destroy={NAMESPACE}" in "\n".join(result.failures)
        assert aws_emulator.calls() == {}, "refused before any AWS call"
        assert snapshot(aws_emulator.url, NAMESPACE) == before

    def test_wrong_confirmation_is_refused(self, deployed, playbook, aws_emulator) -> None:
        before = snapshot(aws_emulator.url, NAMESPACE)
        result = playbook(
            "teardown.yml",
            tags=["all-fixtures"],
            extra_vars={"confirm_destroy": "some-other-deployment"},
        )
        assert result.returncode != 0
        assert snapshot(aws_emulator.url, NAMESPACE) == before

    def test_fixture_s3_removes_only_the_state_bucket(self, deployed, playbook, aws_emulator):
        bucket = f"{NAMESPACE}-kops-state"
        s3 = clients(aws_emulator.url)["s3"]
        key = f"{NAMESPACE}.k8s.local/config"
        for body in (b"v1", b"v2"):  # versions and a delete marker must all go
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        s3.delete_object(Bucket=bucket, Key=key)
        assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2
        self.check_scope(playbook, aws_emulator, "fixture-s3")

    def test_fixture_ci_removes_only_the_ci_node(self, deployed, playbook, aws_emulator) -> None:
        self.check_scope(playbook, aws_emulator, "fixture-ci")

    def test_fixture_efs_removes_only_the_home_store(self, deployed, playbook, aws_emulator):
        self.check_scope(playbook, aws_emulator, "fixture-efs", extra_vars=CONFIRM)

    def test_all_fixtures_leaves_nothing_tagged(self, deployed, playbook, aws_emulator) -> None:
        result = playbook("teardown.yml", tags=["all-fixtures"], extra_vars=CONFIRM)
        assert result.returncode == 0, result.failures or result.output[-3000:]
        state = snapshot(aws_emulator.url, NAMESPACE)
        assert {k: v for k, v in state.items() if v} == {}
        assert_converged_without_change(
            playbook("teardown.yml", tags=["all-fixtures"], extra_vars=CONFIRM)
        )


def test_teardown_survives_a_partly_built_deployment(clean_emulator: Emulator, playbook) -> None:
    partial = playbook("deploy.yml", tags=["network", "state_store"])
    assert partial.returncode == 0, partial.failures
    assert snapshot(clean_emulator.url, NAMESPACE)["vpc"]
    result = playbook("teardown.yml", tags=["all-fixtures"], extra_vars=CONFIRM)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    state = snapshot(clean_emulator.url, NAMESPACE)
    assert {k: v for k, v in state.items() if v} == {}
