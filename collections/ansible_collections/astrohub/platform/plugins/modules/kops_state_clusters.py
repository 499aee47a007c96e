#!/usr/bin/python
"""List the kops clusters whose state is kept in a kops state bucket."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: kops_state_clusters
short_description: List the kops clusters registered in a kops state bucket
description:
  - kops keeps each cluster's spec at C(<cluster name>/config) in its state store, and
    C(kops get clusters) lists a cluster for every key that ends in C(/config);
    C(kops delete cluster) removes it. This module applies the same rule, so a cluster it
    lists still exists as far as kops knows, and still needs the bucket and the CI node that
    runs kops to be deleted.
  - Read only. A bucket that does not exist has no clusters.
version_added: 0.3.0
author: astrohub maintainers
options:
  bucket:
    description: The kops state bucket's name.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the clusters whose state is in the bucket
  astrohub.platform.kops_state_clusters:
    bucket: astrohub-kops-state
  register: clusters
"""

RETURN = r"""
clusters:
  description: The names of the clusters that have a C(config) object in the bucket, sorted.
  returned: always
  type: list
  elements: str
  sample: [astrohub.k8s.local]
bucket_exists:
  description: Whether the bucket exists.
  returned: always
  type: bool
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# kops v1.36.2 pkg/client/simple/vfsclientset/cluster.go, listNames: every key of the state
# store that ends in /config names a cluster (registry.PathCluster = "config").
CLUSTER_SPEC_SUFFIX = "/config"


def clusters_in(client: Any, bucket: str) -> list[str] | None:
    """The clusters with a spec in the bucket; None when there is no such bucket."""
    names: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [item["Key"] for item in page.get("Contents", [])]
            names += [
                k.removesuffix(CLUSTER_SPEC_SUFFIX) for k in keys if k.endswith(CLUSTER_SPEC_SUFFIX)
            ]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            return None
        raise
    return sorted(names)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"bucket": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    client = module.client("s3")
    try:
        clusters = clusters_in(client, module.params["bucket"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not list the clusters in {module.params['bucket']}")
    module.exit_json(changed=False, clusters=clusters or [], bucket_exists=clusters is not None)


if __name__ == "__main__":
    main()
