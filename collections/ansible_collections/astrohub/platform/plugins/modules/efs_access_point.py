#!/usr/bin/python
"""Create or delete an EFS access point, found by its Name tag (no collection module exists)."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: efs_access_point
short_description: Manage an EFS access point, idempotent by its Name tag
description:
  - Finds the file system's access point whose C(Name) tag equals O(name). Creates it when
    missing; an access point's POSIX user and root directory cannot be changed, so a mismatch
    fails with a message instead of silently replacing it (which would cut off mounted clients).
  - Tags are kept in step with O(tags). Supports check mode.
version_added: 0.1.0
author: astrohub maintainers
options:
  file_system_id:
    description: The EFS file system id (fs-...).
    type: str
    required: true
  name:
    description: Value of the access point's Name tag, used to find it.
    type: str
    required: true
  state:
    description: Whether the access point should exist.
    type: str
    choices: [present, absent]
    default: present
  posix_user:
    description: The POSIX identity every client request through this access point uses.
    type: dict
    suboptions:
      uid:
        description: User id.
        type: int
        required: true
      gid:
        description: Group id.
        type: int
        required: true
  root_directory:
    description:
      - The directory clients see as C(/).
      - EFS creates it with O(root_owner_uid), O(root_owner_gid), O(root_permissions) when missing.
    type: str
    default: /
  root_owner_uid:
    description: Owner uid of the root directory when EFS creates it.
    type: int
  root_owner_gid:
    description: Owner gid of the root directory when EFS creates it.
    type: int
  root_permissions:
    description: Octal permissions of the root directory when EFS creates it.
    type: str
    default: "0755"
  tags:
    description: Tags of the access point (a Name tag is added from O(name)).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Homes under /home, created as jovyan (uid 1000, gid 100)
  astrohub.platform.efs_access_point:
    file_system_id: fs-0123456789abcdef0
    name: astrohub-home
    posix_user: {uid: 1000, gid: 100}
    root_directory: /home
    root_owner_uid: 1000
    root_owner_gid: 100
    root_permissions: "0755"
    tags:
      astrohub:deployment: astrohub
"""

RETURN = r"""
access_point:
  description: The access point as EFS describes it (absent when deleted).
  returned: when it exists
  type: dict
  sample: {access_point_id: fsap-0123, root_directory: {path: /home}}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)


def find(client: Any, fs_id: str, name: str) -> dict | None:
    paginator = client.get_paginator("describe_access_points")
    for page in paginator.paginate(FileSystemId=fs_id):
        for point in page["AccessPoints"]:
            if boto3_tag_list_to_ansible_dict(point.get("Tags", [])).get("Name") == name:
                return point
    return None


def wanted_spec(params: dict) -> dict:
    spec: dict = {"RootDirectory": {"Path": params["root_directory"]}}
    if params["root_owner_uid"] is not None:
        spec["RootDirectory"]["CreationInfo"] = {
            "OwnerUid": params["root_owner_uid"],
            "OwnerGid": params["root_owner_gid"],
            "Permissions": params["root_permissions"],
        }
    if params["posix_user"]:
        spec["PosixUser"] = {"Uid": params["posix_user"]["uid"], "Gid": params["posix_user"]["gid"]}
    return spec


def mismatches(point: dict, spec: dict) -> list[str]:
    problems = []
    if point.get("RootDirectory", {}).get("Path") != spec["RootDirectory"]["Path"]:
        problems.append("root_directory")
    have_user = point.get("PosixUser") or {}
    want_user = spec.get("PosixUser") or {}
    if (have_user.get("Uid"), have_user.get("Gid")) != (want_user.get("Uid"), want_user.get("Gid")):
        problems.append("posix_user")
    return problems


def sync_tags(module: Any, client: Any, point: dict, tags: dict) -> bool:
    have = boto3_tag_list_to_ansible_dict(point.get("Tags", []))
    add, remove = compare_aws_tags(have, tags, purge_tags=True)
    if not (add or remove):
        return False
    if not module.check_mode:
        if add:
            client.tag_resource(
                ResourceId=point["AccessPointId"], Tags=ansible_dict_to_boto3_tag_list(add)
            )
        if remove:
            client.untag_resource(ResourceId=point["AccessPointId"], TagKeys=remove)
    return True


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "file_system_id": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "posix_user": {
                "type": "dict",
                "options": {
                    "uid": {"type": "int", "required": True},
                    "gid": {"type": "int", "required": True},
                },
            },
            "root_directory": {"type": "str", "default": "/"},
            "root_owner_uid": {"type": "int"},
            "root_owner_gid": {"type": "int"},
            "root_permissions": {"type": "str", "default": "0755"},
            "tags": {"type": "dict", "default": {}},
        },
        required_together=[["root_owner_uid", "root_owner_gid"]],
        supports_check_mode=True,
    )
    params = module.params
    client = module.client("efs")
    tags = {**params["tags"], "Name": params["name"]}
    try:
        point = find(client, params["file_system_id"], params["name"])
        if params["state"] == "absent":
            if point and not module.check_mode:
                client.delete_access_point(AccessPointId=point["AccessPointId"])
            module.exit_json(changed=point is not None)

        spec = wanted_spec(params)
        if point is None:
            if not module.check_mode:
                point = client.create_access_point(
                    ClientToken=f"{params['file_system_id']}-{params['name']}"[:64],
                    FileSystemId=params["file_system_id"],
                    Tags=ansible_dict_to_boto3_tag_list(tags),
                    **spec,
                )
            module.exit_json(
                changed=True,
                access_point=camel_dict_to_snake_dict(point or {}, ignore_list=["Tags"]),
            )

        problems = mismatches(point, spec)
        if problems:
            module.fail_json(
                msg=(
                    f"The access point {point['AccessPointId']} ({params['name']}) has a different "
                    f"{' and '.join(problems)} than asked; access points cannot be changed. "
                    "Delete it deliberately (state=absent) if the change is intended."
                )
            )
        changed = sync_tags(module, client, point, tags)
        if changed and not module.check_mode:
            point = find(client, params["file_system_id"], params["name"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not manage the access point {params['name']}")
    module.exit_json(
        changed=changed, access_point=camel_dict_to_snake_dict(point, ignore_list=["Tags"])
    )


if __name__ == "__main__":
    main()
