#!/usr/bin/python
"""List the access points of an EFS file system (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: efs_access_point_info
short_description: List an EFS file system's access points
description:
  - Read-only. Returns the file system's access points, optionally only the one whose
    C(Name) tag equals O(name).
version_added: 0.1.0
author: astrohub maintainers
options:
  file_system_id:
    description: The EFS file system id (fs-...).
    type: str
    required: true
  name:
    description: Only the access point with this Name tag.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the /home access point
  astrohub.platform.efs_access_point_info:
    file_system_id: fs-0123456789abcdef0
    name: astrohub-home
  register: home_ap
"""

RETURN = r"""
access_points:
  description: The access points, as EFS describes them, with a C(name) key from the Name tag.
  returned: always
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "file_system_id": {"type": "str", "required": True},
            "name": {"type": "str"},
        },
        supports_check_mode=True,
    )
    client = module.client("efs")
    found = []
    try:
        paginator = client.get_paginator("describe_access_points")
        for page in paginator.paginate(FileSystemId=module.params["file_system_id"]):
            for point in page["AccessPoints"]:
                name = boto3_tag_list_to_ansible_dict(point.get("Tags", [])).get("Name")
                if module.params["name"] in (None, name):
                    found.append(
                        {**camel_dict_to_snake_dict(point, ignore_list=["Tags"]), "name": name}
                    )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not list the access points")
    module.exit_json(changed=False, access_points=found)


if __name__ == "__main__":
    main()
