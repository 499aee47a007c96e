#!/usr/bin/python
"""Create or delete a tagged ECR repository (community.aws.ecs_ecr cannot tag)."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: ecr_repository
short_description: Manage a tagged ECR repository with scan on push
description:
  - Creates the repository with image scanning on push, AES256 encryption, immutable tags and
    the given tags, and keeps scanning, tag immutability and tags in step on later runs (a
    repository made mutable by hand is made immutable again). Supports check mode.
  - Deleting removes the images in it too (O(state=absent)).
version_added: 0.1.0
author: astrohub maintainers
options:
  name:
    description: Repository name, e.g. C(astrohub/jwst).
    type: str
    required: true
  state:
    description: Whether the repository should exist.
    type: str
    choices: [present, absent]
    default: present
  scan_on_push:
    description: Scan every pushed image for vulnerabilities.
    type: bool
    default: true
  tags:
    description: Tags of the repository.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Repository for the JWST image
  astrohub.platform.ecr_repository:
    name: astrohub/jwst
    tags:
      astrohub:deployment: astrohub
"""

RETURN = r"""
repository:
  description: The repository's name, ARN and URI.
  returned: when it exists
  type: dict
  sample: {name: astrohub/jwst, uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/astrohub/jwst}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)


def describe(client: Any, name: str) -> dict | None:
    try:
        return client.describe_repositories(repositoryNames=[name])["repositories"][0]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "RepositoryNotFoundException":
            return None
        raise


def summary(repo: dict) -> dict:
    return {
        "name": repo["repositoryName"],
        "arn": repo["repositoryArn"],
        "uri": repo["repositoryUri"],
    }


def converge(module: Any, client: Any, repo: dict) -> bool:
    """Bring scanning, tag immutability and tags in line; True when something changed."""
    changed = False
    if repo.get("imageTagMutability") != "IMMUTABLE":
        changed = True
        if not module.check_mode:
            client.put_image_tag_mutability(
                repositoryName=repo["repositoryName"], imageTagMutability="IMMUTABLE"
            )
    scan = module.params["scan_on_push"]
    if repo.get("imageScanningConfiguration", {}).get("scanOnPush") != scan:
        changed = True
        if not module.check_mode:
            client.put_image_scanning_configuration(
                repositoryName=repo["repositoryName"],
                imageScanningConfiguration={"scanOnPush": scan},
            )
    arn = repo["repositoryArn"]
    have = boto3_tag_list_to_ansible_dict(
        client.list_tags_for_resource(resourceArn=arn)["tags"], "Key", "Value"
    )
    want = module.params["tags"]
    add, remove = compare_aws_tags(have, want, purge_tags=True)
    if add or remove:
        changed = True
        if not module.check_mode:
            if add:
                client.tag_resource(resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(add))
            if remove:
                client.untag_resource(resourceArn=arn, tagKeys=remove)
    return changed


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "scan_on_push": {"type": "bool", "default": True},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("ecr")
    name = module.params["name"]
    try:
        repo = describe(client, name)
        if module.params["state"] == "absent":
            if repo and not module.check_mode:
                client.delete_repository(repositoryName=name, force=True)
            module.exit_json(changed=repo is not None)
        if repo is None:
            if not module.check_mode:
                repo = client.create_repository(
                    repositoryName=name,
                    # A pushed tag (<version>-<lock hash>) never changes under a deployment.
                    imageTagMutability="IMMUTABLE",
                    imageScanningConfiguration={"scanOnPush": module.params["scan_on_push"]},
                    encryptionConfiguration={"encryptionType": "AES256"},
                    tags=ansible_dict_to_boto3_tag_list(module.params["tags"]),
                )["repository"]
            module.exit_json(changed=True, repository=summary(repo) if repo else {})
        changed = converge(module, client, repo)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not manage the ECR repository {name}")
    module.exit_json(changed=changed, repository=summary(repo))


if __name__ == "__main__":
    main()
