#!/usr/bin/python
"""List the AWS resources a deployment still has, by teardown scope."""

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_leftovers
short_description: List what is still tagged for an astrohub deployment
description:
  - Read-only. Finds the deployment's resources by the C(astrohub:deployment) tag (IAM and S3
    by their deployment-derived names) in each asked scope. Teardown ends with it and fails
    when anything it tore down is still there.
  - The C(kubernetes) scope is what kops and Kubernetes made for the clusters O(clusters),
    found by their C(kubernetes.io/cluster/<name>=owned) tag
    (instances, volumes, security groups, network interfaces, launch templates, auto scaling
    groups, load balancers and target groups).
version_added: 0.1.0
author: astrohub maintainers
options:
  namespace:
    description: The deployment.
    type: str
    required: true
  state_bucket:
    description: The kops state bucket's name.
    type: str
    required: true
  scopes:
    description: Which parts to look at.
    type: list
    elements: str
    choices: [kubernetes, efs, ci, s3, ecr, network]
    required: true
  clusters:
    description:
      - The kops clusters of the C(kubernetes) scope, one per cluster generation (see
        M(astrohub.platform.cluster_generation)). Default C(<namespace>.k8s.local).
    type: list
    elements: str
    version_added: 0.6.0
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: What is left of the EFS home store
  astrohub.platform.deployment_leftovers:
    namespace: astrohub
    state_bucket: astrohub-kops-state
    scopes: [efs]
  register: leftovers
"""

RETURN = r"""
leftovers:
  description: For each scope, a line per resource still there.
  returned: always
  type: dict
  sample: {efs: ["efs file system fs-0123"], s3: []}
remaining:
  description: How many resources are left over in all asked scopes.
  returned: always
  type: int
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from astrohub import leftovers


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "namespace": {"type": "str", "required": True},
            "state_bucket": {"type": "str", "required": True},
            "scopes": {
                "type": "list",
                "elements": "str",
                "choices": list(leftovers.SCOPES),
                "required": True,
            },
            "clusters": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    try:
        found = leftovers.find(
            module.client,
            module.params["namespace"],
            module.params["state_bucket"],
            module.params["scopes"],
            module.params["clusters"],
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not list the deployment's resources")
    module.exit_json(changed=False, leftovers=found, remaining=sum(map(len, found.values())))


if __name__ == "__main__":
    main()
