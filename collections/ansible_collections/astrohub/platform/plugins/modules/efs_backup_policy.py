#!/usr/bin/python
"""Set the AWS Backup policy of an EFS file system (no module in amazon.aws/community.aws does)."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: efs_backup_policy
short_description: Turn automatic AWS Backup of an EFS file system on or off
description:
  - Reads the file system's backup policy and changes it only when it differs, so a re-run
    reports no change. Supports check mode.
version_added: 0.1.0
author: astrohub maintainers
options:
  file_system_id:
    description: The EFS file system id (fs-...).
    type: str
    required: true
  status:
    description: The wanted status of automatic backups.
    type: str
    choices: [ENABLED, DISABLED]
    default: ENABLED
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Back up the home directories daily with AWS Backup
  astrohub.platform.efs_backup_policy:
    file_system_id: fs-0123456789abcdef0
    status: ENABLED
"""

RETURN = r"""
status:
  description: The backup policy's status after the run.
  returned: always
  type: str
  sample: ENABLED
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def current_status(client: Any, file_system_id: str) -> str:
    try:
        policy = client.describe_backup_policy(FileSystemId=file_system_id)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "PolicyNotFound":
            return "DISABLED"
        raise
    return policy["BackupPolicy"]["Status"]


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "file_system_id": {"type": "str", "required": True},
            "status": {"type": "str", "choices": ["ENABLED", "DISABLED"], "default": "ENABLED"},
        },
        supports_check_mode=True,
    )
    client = module.client("efs")
    fs_id = module.params["file_system_id"]
    wanted = module.params["status"]
    try:
        status = current_status(client, fs_id)
        changed = status != wanted
        if changed and not module.check_mode:
            client.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": wanted})
            status = wanted
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not set the backup policy of {fs_id}")
    module.exit_json(changed=changed, status=wanted if module.check_mode else status)


if __name__ == "__main__":
    main()
