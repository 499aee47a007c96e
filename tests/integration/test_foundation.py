"""The AWS foundation against the emulator: converge, idempotence, properties, tagged teardown.

TestDeploy reads the operator's deployment (tests/integration/conftest.py: over SSH, its own
emulator and namespace). TestTeardown has a deployment of its own (local inventory) and its
steps run in order (like amazon.aws integration targets): each scope is applied to what the
previous steps left, and every step asserts what it removed, what it planned for the cluster,
and that everything else stayed. State is read with boto3.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from astrohub_local.emulator import Emulator
from astrohub_local.runner import PlaybookResult
from aws_state import DEPLOYED_COUNTS, SCOPE_KINDS, SCOPE_SECURITY_GROUPS, TAG, snapshot, tags_of
from deployments import OPERATOR_NAMESPACE as NAMESPACE
from deployments import Deployment, assert_converged_without_change
from iam_policies import ACCOUNT, render

# The secrets layer the jupyterhub role renders, under the deployment's render directory.
JUPYTERHUB_SECRETS = "jupyterhub-values/99-secrets.yaml"


def removed_by(
    namespace: str, scope: str, before: dict[str, set[str]], after: dict[str, set[str]]
) -> None:
    """Exactly the scope's kinds (and security groups) are gone; every other kind is intact."""
    kinds = SCOPE_KINDS.get(scope, set())
    groups = {namespace + suffix for suffix in SCOPE_SECURITY_GROUPS.get(scope, set())}
    for kind, ids in before.items():
        if kind == "security_group":
            assert after[kind] == ids - groups, kind
        elif kind in kinds:
            assert after[kind] == set(), f"{kind} left after {scope}: {after[kind]}"
        else:
            assert after[kind] == ids, f"{scope} touched {kind}"


def home_file_systems(efs: Any) -> list[dict[str, Any]]:
    """The operator deployment's EFS file systems, read by its tag."""
    return [
        f for f in efs.describe_file_systems()["FileSystems"] if tags_of(f).get(TAG) == NAMESPACE
    ]


@pytest.fixture(scope="module")
def aws(deployment: Deployment) -> dict[str, Any]:
    return deployment.clients()


class TestDeploy:
    def test_first_run_changes_things(self, deployment: Deployment) -> None:
        assert deployment.first is not None and deployment.first.changed > 0

    def test_second_run_reports_no_change(self, deployment: Deployment) -> None:
        assert_converged_without_change(deployment.run("deploy.yml"))

    def test_vpc_spans_three_zones_with_public_and_private_subnets(self, deployment, aws) -> None:
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
            r for t in routes for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ]
        assert defaults and all(r.get("NatGatewayId", "").startswith("nat-") for r in defaults)
        igw = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc[0]["VpcId"]]}]
        )["InternetGateways"]
        assert len(igw) == 1
        # S3 (the public archive, the state bucket) from the private subnets skips the NAT
        # gateway: a gateway endpoint on their route tables, whose routes name S3's prefix list.
        [endpoint] = ec2.describe_vpc_endpoints(
            Filters=[{"Name": "vpc-id", "Values": [vpc[0]["VpcId"]]}]
        )["VpcEndpoints"]
        assert (endpoint["ServiceName"], endpoint["VpcEndpointType"]) == (
            "com.amazonaws.us-east-1.s3",
            "Gateway",
        )
        assert sorted(endpoint["RouteTableIds"]) == sorted(t["RouteTableId"] for t in routes)
        assert tags_of(endpoint)[TAG] == NAMESPACE
        [s3_list] = ec2.describe_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.s3"]}]
        )["PrefixLists"]
        for table in routes:
            assert {"GatewayId": endpoint["VpcEndpointId"], "Prefix": s3_list["PrefixListId"]} in [
                {"GatewayId": r.get("GatewayId"), "Prefix": r.get("DestinationPrefixListId")}
                for r in table["Routes"]
            ]

    def test_ci_node_runs_with_its_profile_key_and_ssh_rule(self, deployment, aws) -> None:
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

    def test_ci_node_policies_are_the_evaluated_ones(self, deployment, aws) -> None:
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

    def test_state_bucket_is_versioned_encrypted_and_private(self, deployment, aws) -> None:
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
        self, deployment, aws
    ) -> None:
        efs, ec2 = aws["efs"], aws["ec2"]
        systems = home_file_systems(efs)
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

    def test_an_alarm_watches_the_home_stores_burst_credits(self, deployment, aws) -> None:
        (fs,) = home_file_systems(aws["efs"])
        alarm_name = f"{NAMESPACE}-home-burst-credits-low"
        (alarm,) = aws["cloudwatch"].describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/EFS", "BurstCreditBalance")
        assert alarm["Dimensions"] == [{"Name": "FileSystemId", "Value": fs["FileSystemId"]}]
        assert alarm["ComparisonOperator"] == "LessThanThreshold"
        assert (alarm["Statistic"], alarm["Unit"]) == ("Minimum", "Bytes")
        assert alarm["Threshold"] == 512 * 1024**3  # the default, efs_home_burst_credits_alarm_gib

    def test_a_budget_watches_the_accounts_monthly_cost(self, deployment, aws) -> None:
        account = aws["sts"].get_caller_identity()["Account"]
        name = f"{NAMESPACE}-monthly"
        budget = aws["budgets"].describe_budget(AccountId=account, BudgetName=name)["Budget"]
        assert budget["BudgetLimit"] == {"Amount": "800.0", "Unit": "USD"}
        assert (budget["TimeUnit"], budget["BudgetType"]) == ("MONTHLY", "COST")
        alerts = aws["budgets"].describe_notifications_for_budget(
            AccountId=account, BudgetName=name
        )["Notifications"]
        assert sorted((a["NotificationType"], a["Threshold"]) for a in alerts) == [
            ("ACTUAL", 80.0),
            ("FORECASTED", 100.0),
        ]
        for alert in alerts:
            subscribers = aws["budgets"].describe_subscribers_for_notification(
                AccountId=account, BudgetName=name, Notification=alert
            )["Subscribers"]
            assert subscribers == [{"SubscriptionType": "EMAIL", "Address": "ops@example.org"}]
        # With a budget, billing may break the costs down by deployment (the deployment tag
        # is an active cost allocation tag).
        active = aws["ce"].list_cost_allocation_tags(Status="Active")["CostAllocationTags"]
        assert [t["TagKey"] for t in active] == ["astrohub:deployment"]

    def test_the_hub_keeps_its_secrets(self, deployment, aws) -> None:
        """Cookie secret, CryptKeeper key, operators' token: made once as SecureStrings, left at
        their first version by the second run (above), carried by the rendered secrets layer
        (the values are compared, never shown)."""
        path = f"/astrohub/{NAMESPACE}/hub"
        kept = aws["ssm"].get_parameters_by_path(Path=path, WithDecryption=True)["Parameters"]
        by_name = {p["Name"].rsplit("/", 1)[1]: p for p in kept}
        assert sorted(by_name) == ["cookie-secret", "crypt-key", "operator-token"]
        for parameter in by_name.values():
            assert (parameter["Type"], parameter["Version"]) == ("SecureString", 1)
            assert re.fullmatch("[0-9a-f]{64}", parameter["Value"]), parameter["Name"]
            tags = aws["ssm"].list_tags_for_resource(
                ResourceType="Parameter", ResourceId=parameter["Name"]
            )["TagList"]
            assert tags_of({"Tags": tags})[TAG] == NAMESPACE
        assert len({p["Value"] for p in kept}) == 3
        layer = yaml.safe_load((deployment.build / JUPYTERHUB_SECRETS).read_text())
        config = layer["hub"]["config"]
        assert config["JupyterHub"]["cookie_secret"] == by_name["cookie-secret"]["Value"]
        assert config["CryptKeeper"]["keys"] == [by_name["crypt-key"]["Value"]]
        service = layer["hub"]["services"]["astrohub-operator"]
        assert service["apiToken"] == by_name["operator-token"]["Value"]

    def test_access_point_creates_home_as_uid_1000_gid_100(self, deployment, aws) -> None:
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

    def test_every_resource_carries_the_deployment_tag(self, deployment: Deployment) -> None:
        state = snapshot(deployment.emulator.url, NAMESPACE)
        assert {k: len(v) for k, v in state.items()} == DEPLOYED_COUNTS

    def test_science_images_have_scanned_tagged_repositories(self, aws) -> None:
        ecr = aws["ecr"]
        repos = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
        assert set(repos) == {f"{NAMESPACE}/jwst", f"{NAMESPACE}/hst"}
        for repo in repos.values():
            assert repo["imageScanningConfiguration"]["scanOnPush"] is True
            assert repo["imageTagMutability"] == "IMMUTABLE"
            tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            assert {"Key": TAG, "Value": NAMESPACE} in tags


class TestTeardown:
    """Each scope removes exactly its resources and plans exactly its cluster commands; a second
    run changes nothing. A deployment of this module's own."""

    def check_scope(
        self, d: Deployment, scope: str, verbosity: int = 0, **extra: Any
    ) -> PlaybookResult:
        before = snapshot(d.emulator.url, d.namespace)
        tags = [] if scope == "release" else [scope]
        result = d.run("teardown.yml", tags=tags, extra_vars=extra, verbosity=verbosity)
        assert result.returncode == 0, result.failures or result.output[-3000:]
        removed_by(d.namespace, scope, before, snapshot(d.emulator.url, d.namespace))
        # What the scope does to the cluster (plan mode records the commands it would run).
        uninstall = (
            f"plan: copy the hub's database to s3://{d.namespace}-kops-state/{d.namespace}"
            f"/hub-db/, then helm uninstall jupyterhub --namespace {d.namespace}"
        )
        delete = (
            f"plan: kops delete cluster --name {d.cluster} "
            f"--state s3://{d.namespace}-kops-state --yes"
        )
        assert (uninstall in result.output) == (scope in ("release", "kubernetes")), scope
        assert (delete in result.output) == (scope == "kubernetes"), scope
        # The second run. Other scopes' tasks are all in `-t all-fixtures`, whose second run
        # test_all_fixtures_leaves_nothing_tagged checks; the default scope runs the untagged
        # plays, and fixture-s3 the guard that must find its bucket gone without failing.
        if scope in ("release", "fixture-s3"):
            assert_converged_without_change(d.run("teardown.yml", tags=tags, extra_vars=extra))
        return result

    def test_default_removes_the_release_only(self, disposable: Deployment) -> None:
        self.check_scope(disposable, "release")

    def test_kubernetes_keeps_vpc_efs_bucket_and_ci_node(self, disposable: Deployment) -> None:
        self.check_scope(disposable, "kubernetes")

    def test_what_kops_left_of_the_cluster_fails_the_kubernetes_teardown(
        self, disposable: Deployment
    ) -> None:
        """An etcd volume kops made (tagged kubernetes.io/cluster/<name>=owned) that outlived
        `kops delete cluster` is named, and the run fails."""
        ec2 = disposable.clients()["ec2"]
        tags = [
            {"Key": f"kubernetes.io/cluster/{disposable.cluster}", "Value": "owned"},
            {"Key": "Name", "Value": f"a.etcd-main.{disposable.cluster}"},
        ]
        volume = ec2.create_volume(
            AvailabilityZone="us-east-1a",
            Size=20,
            TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
        )["VolumeId"]
        try:
            result = disposable.run("teardown.yml", tags=["kubernetes"])
            assert result.returncode != 0
            [failure] = result.failures
            assert "Still present after teardown" in failure and f"volume {volume}" in failure
        finally:
            ec2.delete_volume(VolumeId=volume)

    @pytest.mark.parametrize("scope", ["all-fixtures", "fixture-efs"])
    def test_home_deletion_refuses_without_confirmation(
        self, scope: str, disposable: Deployment
    ) -> None:
        before = snapshot(disposable.emulator.url, disposable.namespace)
        disposable.emulator.reset_calls()
        result = disposable.run("teardown.yml", tags=[scope], strategy="linear")
        assert result.returncode != 0
        assert "Nothing has been deleted" in "\n".join(result.failures)
        assert f"-e confirm_destroy={disposable.namespace}" in "\n".join(result.failures)
        assert disposable.emulator.calls() == {}, "refused before any AWS call"
        assert snapshot(disposable.emulator.url, disposable.namespace) == before

    def test_wrong_confirmation_is_refused(self, disposable: Deployment) -> None:
        before = snapshot(disposable.emulator.url, disposable.namespace)
        result = disposable.run(
            "teardown.yml",
            tags=["all-fixtures"],
            extra_vars={"confirm_destroy": "some-other-deployment"},
            strategy="linear",  # refused at the first task: Ansible's own starts faster
        )
        assert result.returncode != 0
        assert snapshot(disposable.emulator.url, disposable.namespace) == before

    @pytest.mark.parametrize(
        ("scope", "what"), [("fixture-s3", "the state bucket"), ("fixture-ci", "the CI node")]
    )
    def test_a_cluster_with_its_state_in_the_bucket_is_not_orphaned(
        self, scope: str, what: str, disposable: Deployment
    ) -> None:
        """kops lists a cluster for every <name>/config in its state store (v1.36.2
        vfsclientset listNames); while one is there, neither the bucket nor the node may go."""
        bucket = f"{disposable.namespace}-kops-state"
        s3 = disposable.clients()["s3"]
        key = f"{disposable.cluster}/config"
        version = s3.put_object(Bucket=bucket, Key=key, Body=b"kind: Cluster\n")["VersionId"]
        try:
            before = snapshot(disposable.emulator.url, disposable.namespace)
            result = disposable.run("teardown.yml", tags=[scope], strategy="linear")
            assert result.returncode != 0
            [failure] = result.failures
            assert f"The kops cluster {disposable.cluster} still keeps its state" in failure
            assert f"removing {what} now" in failure
            assert "Nothing has been deleted" in failure and "-t kubernetes" in failure
            assert snapshot(disposable.emulator.url, disposable.namespace) == before
        finally:
            # The version itself, not a delete marker: the bucket is as it was.
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)

    def test_fixture_s3_removes_only_the_state_bucket(self, disposable: Deployment) -> None:
        bucket = f"{disposable.namespace}-kops-state"
        s3 = disposable.clients()["s3"]
        key = f"{disposable.cluster}/config"
        for body in (b"v1", b"v2"):  # versions and a delete marker must all go
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        s3.delete_object(Bucket=bucket, Key=key)
        assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2
        self.check_scope(disposable, "fixture-s3")

    def test_fixture_ci_removes_only_the_ci_node(self, disposable: Deployment) -> None:
        self.check_scope(disposable, "fixture-ci")

    def test_fixture_efs_removes_only_the_home_store(self, disposable: Deployment) -> None:
        # The scope that deletes the hub's kept secrets, run with -vvv as an operator debugging
        # it would: the secrets stay out of its output (counted, so a failure prints none).
        kept = disposable.kept_hub_secrets()
        result = self.check_scope(
            disposable, "fixture-efs", verbosity=3, confirm_destroy=disposable.namespace
        )
        assert sum(secret in result.output for secret in kept) == 0, "a hub secret was printed"

    def test_a_leftover_is_reported_and_fails_the_teardown(self, disposable: Deployment) -> None:
        """Something tagged for the deployment that teardown does not remove (here a
        repository nobody declared in images/) must be named, and the run must fail."""
        ecr = disposable.clients()["ecr"]
        planted = f"{disposable.namespace}/planted"
        ecr.create_repository(
            repositoryName=planted, tags=[{"Key": TAG, "Value": disposable.namespace}]
        )
        try:
            result = disposable.run(
                "teardown.yml",
                tags=["all-fixtures"],
                extra_vars={"confirm_destroy": disposable.namespace},
            )
            assert result.returncode != 0
            [failure] = result.failures
            assert "Still present after teardown" in failure and planted in failure
        finally:
            ecr.delete_repository(repositoryName=planted, force=True)

    def test_all_fixtures_leaves_nothing_tagged(self, disposable: Deployment) -> None:
        confirm = {"confirm_destroy": disposable.namespace}
        result = disposable.run("teardown.yml", tags=["all-fixtures"], extra_vars=confirm)
        assert result.returncode == 0, result.failures or result.output[-3000:]
        state = snapshot(disposable.emulator.url, disposable.namespace)
        assert {k: v for k, v in state.items() if v} == {}
        assert_converged_without_change(
            disposable.run("teardown.yml", tags=["all-fixtures"], extra_vars=confirm)
        )


def test_teardown_survives_a_partly_built_deployment(clean_emulator: Emulator) -> None:
    partly = Deployment("astrohub-partly", clean_emulator)
    # One zone: what is being proven is teardown's tolerance, not the layout.
    partial = partly.run(
        "deploy.yml", tags=["network", "state_store"], extra_vars={"network_az_count": 1}
    )
    assert partial.returncode == 0, partial.failures
    assert snapshot(clean_emulator.url, partly.namespace)["vpc"]
    confirm = {"confirm_destroy": partly.namespace}
    result = partly.run("teardown.yml", tags=["all-fixtures"], extra_vars=confirm)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    state = snapshot(clean_emulator.url, partly.namespace)
    assert {k: v for k, v in state.items() if v} == {}
