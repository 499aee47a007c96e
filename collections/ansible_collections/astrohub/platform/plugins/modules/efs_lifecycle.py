#!/usr/bin/python
"""Set when an EFS file system moves idle files to infrequent access, with one read.

community.aws.efs does this too, but only as part of its whole check of the file system (about
twenty calls); the efs_home role leaves that module alone when the file system is already as
wanted (astrohub.in_place), so the lifecycle needs a check of its own.
"""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: efs_lifecycle
short_description: Move an EFS file system's idle files to infrequent access after N days
description:
  - Reads the file system's lifecycle configuration and changes it only when it differs, so a
    re-run reports no change. Supports check mode.
version_added: 0.5.0
author: astrohub maintainers
options:
  file_system_id:
    description: The EFS file system id (fs-...).
    type: str
    required: true
  transition_to_ia_days:
    description: Days without access before a file moves to infrequent access, or 0 for never.
    type: int
    choices: [0, 1, 7, 14, 30, 60, 90, 180, 270, 365]
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Move files idle for 30 days to infrequent access
  astrohub.platform.efs_lifecycle:
    file_system_id: fs-0123456789abcdef0
    transition_to_ia_days: 30
"""

RETURN = r"""
lifecycle_policies:
  description: The lifecycle policies after the run, as EFS returns them.
  returned: always
  type: list
  elements: dict
  sample: [{"TransitionToIA": "AFTER_30_DAYS"}]
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def wanted_policies(days: int) -> list[dict[str, str]]:
    return [{"TransitionToIA": f"AFTER_{days}_DAY{'S' if days > 1 else ''}"}] if days else []


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "file_system_id": {"type": "str", "required": True},
            "transition_to_ia_days": {
                "type": "int",
                "required": True,
                "choices": [0, 1, 7, 14, 30, 60, 90, 180, 270, 365],
            },
        },
        supports_check_mode=True,
    )
    client: Any = module.client("efs")
    fs_id = module.params["file_system_id"]
    wanted = wanted_policies(module.params["transition_to_ia_days"])
    try:
        current = client.describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"]
        # Only the infrequent-access transition is ours; other policies (archive, back to
        # standard) are compared too, so a re-run puts back exactly what the setting says.
        changed = current != wanted
        if changed and not module.check_mode:
            client.put_lifecycle_configuration(FileSystemId=fs_id, LifecyclePolicies=wanted)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not set the lifecycle configuration of {fs_id}")
    module.exit_json(changed=changed, lifecycle_policies=wanted if changed else current)


if __name__ == "__main__":
    main()
