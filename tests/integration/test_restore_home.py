"""playbooks/restore_home.yml against the emulator (AWS Backup's recovery points and restore
jobs served by its add-on), the move step in plan mode: rendered and validated here, and run
on a directory tree in tests/unit/test_move_home.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from astrohub.storage import home_directory
from astrohub_local.runner import PlaybookResult
from deployments import Deployment

USER = "Astro.Person@Example.org"
RESTORE_TASK = "Restore the user's home from AWS Backup (waits for the restore job)"


def _task_result(result: PlaybookResult, name: str) -> dict[str, Any]:
    report = json.JSONDecoder().raw_decode(result.output, result.output.index("{"))[0]
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == name:
                found: dict[str, Any] = task["hosts"]["localhost"]
                return found
    raise AssertionError(f"no task {name!r} ran")


@pytest.fixture(scope="module")
def home_store(day2: Deployment) -> dict[str, str]:
    efs = day2.clients()["efs"]
    [fs] = [
        f
        for f in efs.describe_file_systems()["FileSystems"]
        if {"Key": "astrohub:deployment", "Value": day2.namespace} in f["Tags"]
    ]
    return {"id": fs["FileSystemId"], "arn": fs["FileSystemArn"]}


def test_without_a_user_nothing_is_called(day2: Deployment) -> None:
    day2.emulator.reset_calls()
    result = day2.run("restore_home.yml")
    assert result.returncode != 0
    assert "user: restore_home.yml restores one user's home" in "\n".join(result.failures)
    assert sum(day2.emulator.calls().values()) == 0


def test_a_bad_recovery_point_is_refused_by_the_preflight(day2: Deployment) -> None:
    result = day2.run("restore_home.yml", extra_vars={"user": USER, "recovery_point": "yesterday"})
    assert result.returncode != 0
    assert "recovery_point: expected empty (the newest completed backup)" in "\n".join(
        result.failures
    )


def test_the_newest_backup_is_restored_and_the_move_planned(
    day2: Deployment, home_store: dict[str, str]
) -> None:
    clients = day2.clients()
    backup = clients["backup"]
    role = f"arn:aws:iam::{clients['sts'].get_caller_identity()['Account']}:role/backup"
    points = []
    for _ in range(2):
        points.append(
            backup.start_backup_job(
                BackupVaultName="aws/efs/automatic-backup-vault",
                ResourceArn=home_store["arn"],
                IamRoleArn=role,
            )["RecoveryPointArn"]
        )
    result = day2.run("restore_home.yml", extra_vars={"user": USER})
    assert result.returncode == 0, result.failures or result.output[-4000:]
    restored = _task_result(result, RESTORE_TASK)
    assert restored["recovery_point_arn"] == points[-1]
    job = backup.describe_restore_job(RestoreJobId=restored["restore_job_id"])
    assert (job["Status"], job["RecoveryPointArn"]) == ("COMPLETED", points[-1])
    # The role AWS Backup restores with: only AWS Backup takes it, and it reaches this file
    # system only.
    iam = clients["iam"]
    name = f"{day2.namespace}-efs-restore"
    assert job["IamRoleArn"] == iam.get_role(RoleName=name)["Role"]["Arn"]
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "backup.amazonaws.com"}]
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName=name, PolicyName="restore-into-home-store")
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    [efs] = [s for s in document["Statement"] if s["Sid"] == "RestoreIntoTheHomeStore"]
    assert efs["Resource"] == home_store["arn"]
    # The move: the EFS root (not an access point) on a volume for the Job only, and the
    # user's directory as KubeSpawner names it.
    docs = yaml.safe_load_all((day2.build / "home-restore-job.yaml").read_text())
    by_kind = {d["kind"]: d for d in docs if d}
    assert by_kind["PersistentVolume"]["spec"]["csi"]["volumeHandle"] == home_store["id"]
    command = by_kind["Job"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[3] == home_directory(USER) == "-41stro-2e-50erson-40-45xample-2eorg"
    assert "plan: run home-restore-job.yaml" in result.output


def test_a_named_recovery_point_is_the_one_restored(
    day2: Deployment, home_store: dict[str, str]
) -> None:
    backup = day2.clients()["backup"]
    points = backup.list_recovery_points_by_resource(ResourceArn=home_store["arn"])
    oldest = min(points["RecoveryPoints"], key=lambda p: p["CreationDate"])["RecoveryPointArn"]
    result = day2.run("restore_home.yml", extra_vars={"user": USER, "recovery_point": oldest})
    assert result.returncode == 0, result.failures or result.output[-4000:]
    assert _task_result(result, RESTORE_TASK)["recovery_point_arn"] == oldest


def test_the_home_store_teardown_takes_the_restore_role(day2: Deployment) -> None:
    result = day2.run(
        "teardown.yml",
        tags=["fixture-efs"],
        extra_vars={"confirm_destroy": day2.namespace},
    )
    assert result.returncode == 0, result.failures or result.output[-4000:]
    roles = day2.clients()["iam"].list_roles()["Roles"]
    assert f"{day2.namespace}-efs-restore" not in {r["RoleName"] for r in roles}
