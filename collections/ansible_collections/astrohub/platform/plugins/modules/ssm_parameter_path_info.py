#!/usr/bin/python
"""Read every parameter under a Parameter Store path, decrypted, as a module.

amazon.aws's ssm_parameter lookup does the same, but a lookup runs while Ansible templates and
prints what it read at -vvvv, where a task's no_log cannot reach; a module's result is hidden
by the task's no_log at every verbosity.
"""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: ssm_parameter_path_info
short_description: Read the parameters under a Parameter Store path, decrypted
description:
  - Returns every parameter directly under I(path) (not recursive), SecureStrings decrypted,
    by the last part of its name. Use it with C(no_log) on the task when the values are
    secrets. Read-only; supports check mode.
version_added: 0.5.0
author: astrohub maintainers
options:
  path:
    description: The path, e.g. C(/astrohub/astrohub-demo/hub).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the hub's kept secrets
  astrohub.platform.ssm_parameter_path_info:
    path: /astrohub/astrohub-demo/hub
  register: kept
  no_log: true
"""

RETURN = r"""
parameters:
  description: Each parameter's value by the last part of its name; empty when there are none.
  returned: always
  type: dict
  sample: {"cookie-secret": "..."}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"path": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    client: Any = module.client("ssm")
    path = module.params["path"]
    try:
        pages = client.get_paginator("get_parameters_by_path").paginate(
            Path=path, WithDecryption=True
        )
        found = [parameter for page in pages for parameter in page["Parameters"]]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read the parameters under {path}")
    module.exit_json(
        changed=False, parameters={p["Name"].rsplit("/", 1)[-1]: p["Value"] for p in found}
    )


if __name__ == "__main__":
    main()
