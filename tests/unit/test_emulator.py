"""Tests for astrohub_local.emulator: moto server, call counting and the EFS add-ons."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from astrohub_local import emulator as emulator_module
from astrohub_local.emulator import Emulator, EmulatorProcess

REGION = "us-east-1"
DEADLINE_SECONDS = 30.0

ClientFactory = Callable[[str], Any]


@pytest.fixture(scope="module")
def module_emulator(offline_aws_env: None) -> Iterator[Emulator]:
    # Our own server, so the call counts here never mix with other modules'.
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(module_emulator: Emulator) -> Emulator:
    module_emulator.reset_calls()
    return module_emulator


@pytest.fixture
def client(emulator: Emulator) -> ClientFactory:
    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # A failure should show at once, not after botocore's retries.
            config=Config(retries={"total_max_attempts": 1}),
        )

    return make


def http_json(emulator: Emulator, method: str, path: str) -> tuple[int, Any]:
    # Generous: moto's data.json walks every backend, seconds of CPU on a loaded machine; a
    # timeout here guards against a hang, it is not a speed check.
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=120)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, json.loads(body) if body else None


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def new_file_system(efs: Any) -> str:
    return efs.create_file_system(CreationToken=f"test-{uuid.uuid4()}")["FileSystemId"]


# --- server ---------------------------------------------------------------


def test_listens_on_a_free_loopback_port(emulator: Emulator) -> None:
    assert emulator.port > 0
    assert emulator.url == f"http://127.0.0.1:{emulator.port}"
    assert http_json(emulator, "GET", "/_astrohub/calls") == (200, {"total": 0, "calls": {}})


def test_listens_on_a_given_port(offline_aws_env: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Emulator(port=port) as emulator:
        assert emulator.url == f"http://127.0.0.1:{port}"
        assert http_json(emulator, "GET", "/_astrohub/calls")[0] == 200
    assert not emulator.running
    with pytest.raises(RuntimeError):
        _ = emulator.url


def test_aws_emulator_fixture_serves_aws_calls(aws_emulator: Emulator) -> None:
    # No explicit credentials or region: the session environment provides them.
    sts = boto3.client("sts", endpoint_url=aws_emulator.url)
    aws_emulator.reset_calls()
    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert aws_emulator.calls() == Counter({"sts:GetCallerIdentity": 1})


# --- call counting --------------------------------------------------------


def test_counts_calls_by_service_and_action(emulator: Emulator, client: ClientFactory) -> None:
    ec2, sts = client("ec2"), client("sts")
    ec2.describe_vpcs()
    ec2.describe_vpcs()
    sts.get_caller_identity()

    expected = {"ec2:DescribeVpcs": 2, "sts:GetCallerIdentity": 1}
    assert emulator.calls() == Counter(expected)
    assert http_json(emulator, "GET", "/_astrohub/calls") == (
        200,
        {"total": 3, "calls": expected},
    )

    emulator.reset_calls()
    assert emulator.calls() == Counter()
    ec2.describe_vpcs()
    assert http_json(emulator, "POST", "/_astrohub/calls/reset")[0] == 200
    assert emulator.calls() == Counter()
    assert http_json(emulator, "GET", "/_astrohub/calls")[1] == {"total": 0, "calls": {}}


def test_names_calls_of_each_protocol(emulator: Emulator, client: ClientFactory) -> None:
    iam = client("iam")
    role = f"role-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    # The form body was read for counting; moto must still have seen all of it.
    assert iam.get_role(RoleName=role)["Role"]["RoleName"] == role
    client("logs").describe_log_groups()  # JSON: X-Amz-Target
    client("cloudwatch").list_metrics()  # smithy-rpc-v2-cbor: operation in the path
    client("s3").list_buckets()  # REST
    efs = client("efs")
    efs.describe_file_systems()  # REST
    efs.list_tags_for_resource(ResourceId=new_file_system(efs))

    assert emulator.calls() == Counter(
        {
            "iam:CreateRole": 1,
            "iam:GetRole": 1,
            "logs:DescribeLogGroups": 1,
            "monitoring:ListMetrics": 1,
            "s3:GET /": 1,
            "elasticfilesystem:GET /2015-02-01/file-systems": 1,
            "elasticfilesystem:POST /2015-02-01/file-systems": 1,
            "elasticfilesystem:GET /2015-02-01/resource-tags/{id}": 1,
        }
    )


def test_does_not_count_moto_api_or_own_endpoints(emulator: Emulator) -> None:
    assert http_json(emulator, "GET", "/moto-api/data.json")[0] == 200
    assert http_json(emulator, "GET", "/_astrohub/calls")[0] == 200
    assert http_json(emulator, "GET", "/_astrohub/nothing-here")[0] == 404
    assert emulator.calls() == Counter()


def test_reset_wipes_resources_and_counts(emulator: Emulator, client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]

    emulator.reset()

    assert emulator.calls() == Counter()
    vpc_ids = [vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]]
    assert vpc_id not in vpc_ids
    assert emulator.calls() == Counter({"ec2:DescribeVpcs": 1})


# --- EFS add-ons ------------------------------------------------------------


def test_efs_legacy_tag_apis_share_moto_tag_store(client: ClientFactory) -> None:
    efs = client("efs")
    fs_id = new_file_system(efs)

    efs.create_tags(
        FileSystemId=fs_id, Tags=[{"Key": "Name", "Value": "home"}, {"Key": "team", "Value": "a"}]
    )
    efs.create_tags(FileSystemId=fs_id, Tags=[{"Key": "team", "Value": "b"}])  # overwrites

    expected = {"Name": "home", "team": "b"}
    described = efs.describe_tags(FileSystemId=fs_id)["Tags"]
    assert {t["Key"]: t["Value"] for t in described} == expected
    listed = efs.list_tags_for_resource(ResourceId=fs_id)["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == expected
    (file_system,) = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    assert {t["Key"]: t["Value"] for t in file_system["Tags"]} == expected
    assert file_system["Name"] == "home"

    efs.delete_tags(FileSystemId=fs_id, TagKeys=["team"])

    assert efs.describe_tags(FileSystemId=fs_id)["Tags"] == [{"Key": "Name", "Value": "home"}]
    (file_system,) = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    assert file_system["Tags"] == [{"Key": "Name", "Value": "home"}]


def test_efs_legacy_tag_apis_reject_unknown_file_system(client: ClientFactory) -> None:
    efs = client("efs")
    calls: list[Callable[[], object]] = [
        lambda: efs.describe_tags(FileSystemId="fs-00000000"),
        lambda: efs.create_tags(FileSystemId="fs-00000000", Tags=[{"Key": "k", "Value": "v"}]),
        lambda: efs.delete_tags(FileSystemId="fs-00000000", TagKeys=["k"]),
    ]
    for call in calls:
        with pytest.raises(efs.exceptions.FileSystemNotFound) as excinfo:
            call()
        assert error_of(excinfo) == ("FileSystemNotFound", 404)
        assert "fs-00000000" in excinfo.value.response["Error"]["Message"]


def test_efs_put_backup_policy(client: ClientFactory) -> None:
    efs = client("efs")
    fs_id = new_file_system(efs)

    for status in ("ENABLED", "DISABLED", "ENABLED"):
        response = efs.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": status})
        assert response["BackupPolicy"] == {"Status": status}
        described = efs.describe_backup_policy(FileSystemId=fs_id)
        assert described["BackupPolicy"] == {"Status": status}

    with pytest.raises(efs.exceptions.FileSystemNotFound) as excinfo:
        efs.put_backup_policy(FileSystemId="fs-00000000", BackupPolicy={"Status": "ENABLED"})
    assert error_of(excinfo) == ("FileSystemNotFound", 404)


def test_budgets_update_budget_and_describe_subscribers(client: ClientFactory) -> None:
    """The two operations moto lacks answer as the AWS Budgets API reference says, on the
    budgets moto keeps."""
    budgets = client("budgets")
    account = "123456789012"
    name = f"test-{uuid.uuid4()}"
    notification = {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 80.0,
        "ThresholdType": "PERCENTAGE",
    }
    subscribers = [{"SubscriptionType": "EMAIL", "Address": "ops@example.org"}]
    budget = {
        "BudgetName": name,
        "BudgetLimit": {"Amount": "500.0", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }
    budgets.create_budget(
        AccountId=account,
        Budget=budget,
        NotificationsWithSubscribers=[{"Notification": notification, "Subscribers": subscribers}],
    )
    found = budgets.describe_subscribers_for_notification(
        AccountId=account, BudgetName=name, Notification=notification
    )
    assert found["Subscribers"] == subscribers

    budgets.update_budget(
        AccountId=account, NewBudget={**budget, "BudgetLimit": {"Amount": "800.0", "Unit": "USD"}}
    )
    described = budgets.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    assert described["BudgetLimit"] == {"Amount": "800.0", "Unit": "USD"}
    assert described["TimePeriod"]["Start"]  # kept from the budget as created

    with pytest.raises(ClientError) as excinfo:
        budgets.update_budget(AccountId=account, NewBudget={**budget, "BudgetName": "missing"})
    assert error_of(excinfo) == ("NotFoundException", 400)
    other = {**notification, "Threshold": 100.0}
    with pytest.raises(ClientError) as excinfo:
        budgets.describe_subscribers_for_notification(
            AccountId=account, BudgetName=name, Notification=other
        )
    assert error_of(excinfo) == ("NotFoundException", 400)


# --- command line -----------------------------------------------------------


def wait_for_file(path: Path, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + DEADLINE_SECONDS
    delay = 0.01
    while not path.exists():
        assert process.poll() is None, f"emulator exited early: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return path.read_text().strip()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_cli_serves_until_signalled(tmp_path: Path, signum: signal.Signals) -> None:
    url_file, pid_file = tmp_path / "url", tmp_path / "pid"
    command = [sys.executable, "-m", "astrohub_local.emulator", "--port", "0"]
    command += ["--url-file", str(url_file), "--pid-file", str(pid_file)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        url = wait_for_file(url_file, process)
        assert url.startswith("http://127.0.0.1:")
        assert pid_file.read_text().strip() == str(process.pid)
        sts = boto3.client("sts", endpoint_url=url, region_name=REGION)
        assert sts.get_caller_identity()["Account"] == "123456789012"

        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr
    assert stdout.splitlines() == [f"AWS emulator listening on {url}"]
    # Removed on exit, so nobody later takes them for a live emulator.
    assert not url_file.exists()
    assert not pid_file.exists()


def test_a_process_that_dies_at_start_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Debian's Python has no astrohub_local: the emulator process dies at its first import.
    monkeypatch.setattr(emulator_module.sys, "executable", "/usr/bin/python3")
    with pytest.raises(RuntimeError, match=r"exited with 1(.|\n)*No module named 'astrohub_local'"):
        EmulatorProcess(tmp_path).start()


def test_nat_gateway_tags_use_aws_resource_type(client: ClientFactory) -> None:
    """amazon.aws.ec2_vpc_nat_gateway reads tags with resource-type=natgateway (AWS's name)."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=subnet,
        AllocationId=alloc,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["NatGateway"]["NatGatewayId"]
    tags = ec2.describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [nat]},
            {"Name": "resource-type", "Values": ["natgateway"]},
        ]
    )["Tags"]
    assert [(t["Key"], t["Value"], t["ResourceType"]) for t in tags] == [("k", "v", "natgateway")]


def test_nat_gateways_are_filtered_by_tag(client: ClientFactory) -> None:
    """One deployment's teardown finds its NAT gateways by tag, never another's."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    made = {}
    for deployment in ("ours", "theirs"):
        alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        tags = [{"Key": "astrohub:deployment", "Value": deployment}]
        made[deployment] = ec2.create_nat_gateway(
            SubnetId=subnet,
            AllocationId=alloc,
            TagSpecifications=[{"ResourceType": "natgateway", "Tags": tags}],
        )["NatGateway"]["NatGatewayId"]

    def found(*filters: tuple[str, list[str]]) -> set[str]:
        request = [{"Name": name, "Values": values} for name, values in filters]
        gateways = ec2.describe_nat_gateways(Filter=request)["NatGateways"]
        return {g["NatGatewayId"] for g in gateways} & set(made.values())

    assert found(("tag:astrohub:deployment", ["ours"])) == {made["ours"]}
    assert found(("tag:astrohub:deployment", ["ours"]), ("state", ["available"])) == {made["ours"]}
    assert found(("tag-key", ["astrohub:deployment"])) == set(made.values())
    assert found(("tag-value", ["theirs"])) == {made["theirs"]}


def test_policy_statement_with_unmet_condition_does_not_apply(client: ClientFactory) -> None:
    """A TLS-only Deny (conditioned on aws:SecureTransport) must not deny everything."""
    s3 = client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)

    def deny(condition: dict[str, Any] | None) -> str:
        statement: dict[str, Any] = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        if condition:
            statement["Condition"] = condition
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    # The emulator stands in for AWS's HTTPS endpoints: a TLS-only Deny does not apply...
    s3.put_bucket_policy(Bucket=bucket, Policy=deny({"Bool": {"aws:SecureTransport": "false"}}))
    s3.put_object(Bucket=bucket, Key="allowed", Body=b"x")
    # ...while a Deny whose condition holds, or that has none, still denies.
    for condition in ({"Bool": {"aws:SecureTransport": "true"}}, None):
        s3.put_bucket_policy(Bucket=bucket, Policy=deny(condition))
        with pytest.raises(ClientError, match=r"Forbidden|AccessDenied"):
            s3.put_object(Bucket=bucket, Key="denied", Body=b"x")


def test_backup_recovery_points_and_restore_jobs(client: ClientFactory) -> None:
    """The four AWS Backup operations moto lacks answer in the shapes of the AWS Backup API
    reference (as botocore parses them): an on-demand backup makes a recovery point of the
    resource, a restore of it completes, and unknown ones are refused."""
    backup = client("backup")
    efs = client("efs")
    fs_id = new_file_system(efs)
    fs_arn = f"arn:aws:elasticfilesystem:{REGION}:123456789012:file-system/{fs_id}"
    role = "arn:aws:iam::123456789012:role/test-efs-restore"
    assert backup.list_recovery_points_by_resource(ResourceArn=fs_arn)["RecoveryPoints"] == []
    point = backup.start_backup_job(
        BackupVaultName="aws/efs/automatic-backup-vault", ResourceArn=fs_arn, IamRoleArn=role
    )["RecoveryPointArn"]
    [listed] = backup.list_recovery_points_by_resource(ResourceArn=fs_arn)["RecoveryPoints"]
    assert (listed["RecoveryPointArn"], listed["Status"]) == (point, "COMPLETED")
    job = backup.start_restore_job(
        RecoveryPointArn=point,
        IamRoleArn=role,
        Metadata={"file-system-id": fs_id, "newFileSystem": "false"},
        ResourceType="EFS",
    )["RestoreJobId"]
    described = backup.describe_restore_job(RestoreJobId=job)
    assert (described["Status"], described["RecoveryPointArn"]) == ("COMPLETED", point)
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.start_restore_job(
            RecoveryPointArn=point + "-gone", IamRoleArn=role, Metadata={}, ResourceType="EFS"
        )
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.describe_restore_job(RestoreJobId="NOPE")


def test_cost_allocation_tags_are_the_keys_on_resources_and_can_be_activated(
    client: ClientFactory,
) -> None:
    """Cost Explorer's cost allocation tags, which moto lacks: a user-defined key is listed once
    a resource carries it, Inactive until activated (API reference shapes, as botocore parses
    them); an unknown key comes back in Errors."""
    ce, ec2 = client("ce"), client("ec2")
    key = "astrohub:costs-test"
    assert ce.list_cost_allocation_tags(TagKeys=[key])["CostAllocationTags"] == []
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": key, "Value": "x"}])
    [listed] = ce.list_cost_allocation_tags(TagKeys=[key])["CostAllocationTags"]
    assert (listed["Type"], listed["Status"]) == ("UserDefined", "Inactive")
    answer = ce.update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[
            {"TagKey": key, "Status": "Active"},
            {"TagKey": "never-used", "Status": "Active"},
        ]
    )
    assert [e["TagKey"] for e in answer["Errors"]] == ["never-used"]
    active = ce.list_cost_allocation_tags(TagKeys=[key], Status="Active")["CostAllocationTags"]
    assert [t["TagKey"] for t in active] == [key]
