#!/usr/bin/python
"""Restore one directory of an EFS file system from an AWS Backup recovery point, and wait."""

from __future__ import annotations

import json
import time
from typing import Any

DOCUMENTATION = r"""
module: efs_item_restore
short_description: Restore one directory of an EFS file system from AWS Backup, and wait
description:
  - Starts an AWS Backup item-level restore of O(path) into the same file system and waits
    until the job ends. EFS puts the restored copy under C(/aws-backup-restore_<time>/) at the
    file system's root; moving it into place is the caller's step.
  - Without O(recovery_point_arn), the newest completed recovery point of the file system.
  - Each run that is not in check mode starts a restore (an action, not a state); check mode
    reports the recovery point it would use.
version_added: 0.6.0
author: astrohub maintainers
options:
  file_system_id:
    description: The EFS file system (fs-...).
    type: str
    required: true
  path:
    description: The directory to restore, from the file system's root (C(/home/<user>)).
    type: str
    required: true
  recovery_point_arn:
    description: The recovery point to restore from; empty for the newest completed one.
    type: str
    default: ""
  iam_role_arn:
    description: The role AWS Backup restores with (the efs_home role makes it).
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the restore job to end.
    type: int
    default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Restore one user's home from last night's backup
  astrohub.platform.efs_item_restore:
    file_system_id: fs-0123456789abcdef0
    path: /home/astronomer-40example-2eorg
    iam_role_arn: arn:aws:iam::123456789012:role/astrohub-efs-restore
"""

RETURN = r"""
recovery_point_arn:
  description: The recovery point restored from (would be, in check mode).
  returned: always
  type: str
restore_job_id:
  description: The restore job.
  returned: when not in check mode
  type: str
status:
  description: How the restore job ended (C(COMPLETED)); a job that ends otherwise fails the task.
  returned: when not in check mode
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

POLL_SECONDS = 10


def newest_point(client: Any, resource_arn: str) -> str | None:
    """The newest completed recovery point of the resource (every page read)."""
    points = [
        point
        for page in client.get_paginator("list_recovery_points_by_resource").paginate(
            ResourceArn=resource_arn
        )
        for point in page.get("RecoveryPoints", [])
        if point.get("Status") == "COMPLETED"
    ]
    if not points:
        return None
    newest: str = max(points, key=lambda p: p["CreationDate"])["RecoveryPointArn"]
    return newest


def restore_metadata(file_system_id: str, path: str, token: str) -> dict[str, str]:
    """An item-level restore into the same file system (AWS Backup's EFS restore metadata)."""
    return {
        "file-system-id": file_system_id,
        "newFileSystem": "false",
        "Encrypted": "true",
        "PerformanceMode": "generalPurpose",
        "CreationToken": token,
        "ItemsToRestore": json.dumps([path]),
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "file_system_id": {"type": "str", "required": True},
            "path": {"type": "str", "required": True},
            "recovery_point_arn": {"type": "str", "default": ""},
            "iam_role_arn": {"type": "str", "required": True},
            "wait_timeout": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not params["path"].startswith("/") or ".." in params["path"].split("/"):
        module.fail_json(msg=f"path must be absolute, without '..': {params['path']!r}")
    backup: Any = module.client("backup")
    account = module.client("sts").get_caller_identity()["Account"]
    fs_arn = (
        f"arn:aws:elasticfilesystem:{module.region}:{account}:file-system/"
        f"{params['file_system_id']}"
    )
    try:
        point = params["recovery_point_arn"] or newest_point(backup, fs_arn)
        if not point:
            module.fail_json(
                msg=f"{params['file_system_id']} has no completed recovery point in AWS Backup "
                "yet (the first automatic backup runs within a day of the file system's creation)"
            )
        if module.check_mode:
            module.exit_json(changed=True, recovery_point_arn=point)
        job = backup.start_restore_job(
            RecoveryPointArn=point,
            IamRoleArn=params["iam_role_arn"],
            Metadata=restore_metadata(
                params["file_system_id"], params["path"], f"astrohub-{int(time.time())}"
            ),
            ResourceType="EFS",
        )["RestoreJobId"]
        deadline = time.monotonic() + params["wait_timeout"]
        while True:
            described = backup.describe_restore_job(RestoreJobId=job)
            status = described["Status"]
            if status not in ("PENDING", "RUNNING"):
                break
            if time.monotonic() > deadline:
                module.fail_json(
                    msg=f"restore job {job} still {status} after {params['wait_timeout']} s",
                    restore_job_id=job,
                )
            time.sleep(POLL_SECONDS)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not restore {params['path']}")
    if status != "COMPLETED":
        module.fail_json(
            msg=f"restore job {job} ended {status}: {described.get('StatusMessage', '')}",
            restore_job_id=job,
            status=status,
        )
    module.exit_json(changed=True, recovery_point_arn=point, restore_job_id=job, status=status)


if __name__ == "__main__":
    main()
