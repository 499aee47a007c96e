#!/usr/bin/python
"""Activate user-defined tag keys as cost allocation tags (no module in amazon.aws or
community.aws does)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cost_allocation_tag
short_description: Activate tag keys as cost allocation tags, where the account may
description:
  - Makes each of I(keys) an active user-defined cost allocation tag, so AWS Cost Explorer and
    the cost and usage reports can break costs down by it (Billing's Cost Allocation Tags;
    C(ListCostAllocationTags), then C(UpdateCostAllocationTagsStatus) for the inactive ones).
    A re-run reports no change.
  - AWS lists a tag key only once its billing has seen it on a resource, up to 24 hours after
    the first resource was tagged. Such a key is returned in RV(pending) with a warning, not an
    error; a later run activates it.
  - Only an organization's management (payer) account, or an account outside any
    organization, may manage cost allocation tags. Elsewhere AWS refuses with
    C(AccessDeniedException); the module warns, names the keys to activate in the payer
    account, and changes nothing.
  - Supports check mode.
version_added: 0.7.0
author: astrohub maintainers
options:
  keys:
    description: The tag keys to activate.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Break the account's costs down by deployment
  astrohub.platform.cost_allocation_tag:
    keys: ["astrohub:deployment"]
"""

RETURN = r"""
activated:
  description: The keys this run activated (would activate, in check mode).
  returned: always
  type: list
  elements: str
active:
  description: The keys active after the run.
  returned: always
  type: list
  elements: str
pending:
  description: The keys AWS billing has not seen on a resource yet (activate on a later run).
  returned: always
  type: list
  elements: str
refused:
  description: Whether AWS refused this account access to cost allocation tags (not the payer).
  returned: always
  type: bool
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from astrohub.cost_tags import activate


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "keys": {"type": "list", "elements": "str", "required": True, "no_log": False}
        },
        supports_check_mode=True,
    )
    keys = module.params["keys"]
    try:
        outcome = activate(module.client("ce"), keys, module.check_mode)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not read or activate the cost allocation tags")
    except RuntimeError as error:
        module.fail_json(msg=str(error))
    if outcome.refused:
        module.warn(
            "This account may not manage cost allocation tags (only an organization's "
            f"management account may): activate {', '.join(keys)} there, in Billing's Cost "
            "Allocation Tags."
        )
    if outcome.pending:
        module.warn(
            f"AWS billing has not seen {', '.join(outcome.pending)} on a resource yet (it "
            "takes up to 24 hours after tagging); a later run activates it."
        )
    module.exit_json(changed=bool(outcome.activated), **outcome.as_dict())


if __name__ == "__main__":
    main()
