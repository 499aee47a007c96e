#!/usr/bin/python
"""Validate rendered manifests strictly: Kubernetes kinds, or kops Cluster/InstanceGroup."""

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_manifests
short_description: Validate a multi-document manifest file strictly
description:
  - Read-only. With O(schema=kubernetes), every document is validated with kubernetes-validate
    in strict mode for O(kubernetes_version) (unknown kinds and unknown fields are errors).
  - With O(schema=kops), every document must be a kops v1alpha2 Cluster or InstanceGroup and
    is validated against the CRD schemas in O(crd_dir), with unknown fields rejected.
  - Fails with one line per problem. Runs on the controller (it needs the astrohub package).
version_added: 0.1.0
author: astrohub maintainers
options:
  path:
    description: The manifest file.
    type: path
    required: true
  schema:
    description: Which schemas to validate against.
    type: str
    choices: [kubernetes, kops]
    required: true
  kubernetes_version:
    description: Kubernetes version for O(schema=kubernetes), e.g. C(1.35.1).
    type: str
  crd_dir:
    description: Directory with C(kops.k8s.io_clusters.yaml) and C(kops.k8s.io_instancegroups.yaml).
    type: path
"""

EXAMPLES = r"""
- name: Validate the EFS volumes
  astrohub.platform.validate_manifests:
    path: build/astrohub/efs-home-storage.yaml
    schema: kubernetes
    kubernetes_version: 1.35.1
"""

RETURN = r"""
kinds:
  description: The kind/name of every document validated.
  returned: success
  type: list
  elements: str
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

from astrohub import manifests


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "schema": {"type": "str", "choices": ["kubernetes", "kops"], "required": True},
            "kubernetes_version": {"type": "str"},
            "crd_dir": {"type": "path"},
        },
        required_if=[
            ("schema", "kubernetes", ["kubernetes_version"]),
            ("schema", "kops", ["crd_dir"]),
        ],
        supports_check_mode=True,
    )
    path = Path(module.params["path"])
    try:
        docs = manifests.load_documents(path.read_text(encoding="utf-8"))
        if module.params["schema"] == "kops":
            crd_dir = Path(module.params["crd_dir"])
            if not crd_dir.is_dir():
                module.fail_json(msg=f"no kops CRDs at {crd_dir}: set kops_cluster_crd_dir")
            errors = manifests.validate_kops(docs, crd_dir)
        else:
            errors = manifests.validate_kubernetes(docs, module.params["kubernetes_version"])
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"{path}: {error}")
    kinds = [f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in docs]
    if errors:
        module.fail_json(msg=f"{path} is not valid:\n- " + "\n- ".join(errors), errors=errors)
    module.exit_json(changed=False, kinds=kinds)


if __name__ == "__main__":
    main()
