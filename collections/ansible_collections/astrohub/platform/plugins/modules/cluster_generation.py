#!/usr/bin/python
"""Read and advance the record of which kops cluster generation is live (astrohub.generations)."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: cluster_generation
short_description: Read or advance the record of the live kops cluster generation
description:
  - An upgrade builds a new cluster (generation N+1) beside the live one (N), moves the hub to
    it and deletes the old one. The record C(astrohub/cluster-generation.json) in the kops state
    bucket says which generation is live, which one an upgrade is building and which one it
    has switched away from but not deleted yet, so an interrupted upgrade resumes.
  - Generation 0 is C(<namespace>.k8s.local), the name of a cluster made before upgrades
    existed; generation N is C(<namespace>-g<N>.k8s.local). No record means generation 0.
  - O(state=read) changes nothing; a missing bucket reads as generation 0. The other states
    move the record one step and refuse a step out of order. Supports check mode.
version_added: 0.6.0
author: astrohub maintainers
options:
  bucket:
    description: The kops state bucket's name.
    type: str
    required: true
  namespace:
    description: The deployment's namespace (names the clusters).
    type: str
    required: true
  state:
    description:
      - V(read) reports the record. V(upgrading) starts an upgrade (records the next
        generation as being built) unless one is under way, which it leaves as it is.
        V(switched) records that the hub now runs on O(generation), V(retired) that the old
        cluster is deleted.
    type: str
    choices: [read, upgrading, switched, retired]
    default: read
  generation:
    description: The new generation, for V(switched) (a check that the switch is the expected one).
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the live generation
  astrohub.platform.cluster_generation:
    bucket: astrohub-kops-state
    namespace: astrohub
  register: generation

- name: Start an upgrade, or resume the one under way
  astrohub.platform.cluster_generation:
    bucket: astrohub-kops-state
    namespace: astrohub
    state: upgrading
"""

RETURN = r"""
live:
  description: The live generation after the run.
  returned: always
  type: int
  sample: 1
live_cluster:
  description: The live generation's cluster name.
  returned: always
  type: str
  sample: astrohub-g1.k8s.local
generations:
  description: Every generation the record names (live, building, retiring), sorted.
  returned: always
  type: list
  elements: int
  sample: [0, 1]
clusters:
  description: The cluster names of those generations, in the same order.
  returned: always
  type: list
  elements: str
  sample: [astrohub.k8s.local, astrohub-g1.k8s.local]
upgrade:
  description:
    - What an upgrade does next. C(phase) is C(build) (build C(new), switch to it, delete C(old))
      or C(retire) (the switch is done; only C(old) is left to delete).
  returned: always
  type: dict
  sample: {"phase": "build", "new": 1, "old": 0, "new_cluster": astrohub-g1.k8s.local,
           "old_cluster": astrohub.k8s.local}
record:
  description: The record after the run.
  returned: always
  type: dict
  sample: {"live": 0, "building": 1, "retiring": null}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from astrohub.generations import RECORD_KEY, Record, cluster_name


def read_record(client: Any, bucket: str) -> str | None:
    """The record's text; None when the bucket or the record does not exist."""
    try:
        return client.get_object(Bucket=bucket, Key=RECORD_KEY)["Body"].read().decode()
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchBucket"):
            return None
        raise


def advanced(record: Record, state: str, generation: int | None) -> Record:
    """The record one step on (ValueError for a step out of order)."""
    if state == "read":
        return record
    if state == "upgrading":
        return record.upgrade_started()
    if state == "retired":
        return record.retired()
    if generation is None:
        raise ValueError(f"state={state} needs generation")
    return record.switched(generation)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "bucket": {"type": "str", "required": True},
            "namespace": {"type": "str", "required": True},
            "state": {
                "type": "str",
                "default": "read",
                "choices": ["read", "upgrading", "switched", "retired"],
            },
            "generation": {"type": "int"},
        },
        required_if=[("state", "switched", ["generation"])],
        supports_check_mode=True,
    )
    client: Any = module.client("s3")
    bucket, namespace = module.params["bucket"], module.params["namespace"]
    try:
        before = Record.parse(read_record(client, bucket))
        after = advanced(before, module.params["state"], module.params["generation"])
        changed = after != before
        if changed and not module.check_mode:
            client.put_object(
                Bucket=bucket,
                Key=RECORD_KEY,
                Body=after.dump().encode(),
                ContentType="application/json",
            )
    except ValueError as error:
        module.fail_json(msg=str(error))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read or write s3://{bucket}/{RECORD_KEY}")
    upgrade = after.upgrade()
    upgrade.update(
        new_cluster=cluster_name(namespace, upgrade["new"]),
        old_cluster=cluster_name(namespace, upgrade["old"]),
    )
    module.exit_json(
        changed=changed,
        live=after.live,
        live_cluster=cluster_name(namespace, after.live),
        generations=after.generations(),
        clusters=[cluster_name(namespace, g) for g in after.generations()],
        upgrade=upgrade,
        record={"live": after.live, "building": after.building, "retiring": after.retiring},
    )


if __name__ == "__main__":
    main()
