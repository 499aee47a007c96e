#!/usr/bin/python
"""Render a Helm chart with Helm's own engine and validate the result (plan mode)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: chart_render
short_description: Render a chart with Helm's Go engine, validate it, write the result
description:
  - Reads O(values_files) in order (later files win, as repeated C(helm -f)), validates the
    values against the chart's values schema, renders the chart as C(helm template)
    would for an install, validates every manifest strictly with kubernetes-validate, and
    writes the manifests to O(dest) with the values Helm generates at install time (secrets
    and the checksums of them) redacted, so the file changes only when the inputs do and
    holds no credential.
  - Reports a change only when O(dest)'s content changes. Uses helm-python-sdk (no helm
    binary) and runs on the controller.
version_added: 0.1.0
author: astrohub maintainers
options:
  chart:
    description: Chart directory or packaged C(.tgz).
    type: path
    required: true
  values_files:
    description: Values files, in order.
    type: list
    elements: path
    required: true
  release:
    description: Release name.
    type: str
    required: true
  namespace:
    description: Release namespace.
    type: str
    required: true
  kubernetes_version:
    description: Kubernetes version to validate the manifests against.
    type: str
    required: true
  dest:
    description: Where the rendered manifests are written.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Render the hub
  astrohub.platform.chart_render:
    chart: build/cache/jupyterhub-4.4.0.tgz
    values_files:
      - build/astrohub/jupyterhub-values/10-base.yaml
      - build/astrohub/jupyterhub-values/99-secrets.yaml
    release: jupyterhub
    namespace: astrohub
    kubernetes_version: 1.35.1
    dest: build/astrohub/jupyterhub-rendered.yaml
"""

RETURN = r"""
summary:
  description: Chart version, number of manifests, their kinds, and the spawn-page profiles.
  returned: success
  type: dict
"""

from collections import Counter
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

from astrohub import chart as charts
from astrohub import manifests, plan


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "chart": {"type": "path", "required": True},
            "values_files": {"type": "list", "elements": "path", "required": True},
            "release": {"type": "str", "required": True},
            "namespace": {"type": "str", "required": True},
            "kubernetes_version": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        ours = charts.read_values_files(params["values_files"])
        chart = charts.load_chart(Path(params["chart"]))
        problems = charts.validate_values(
            charts.effective_values(chart, ours), charts.chart_values_schema(Path(params["chart"]))
        )
        if problems:
            module.fail_json(
                msg="the values do not fit the chart's schema:\n- " + "\n- ".join(problems),
                errors=problems,
            )
        rendered = charts.render_chart(
            chart, ours, release=params["release"], namespace=params["namespace"]
        )
        docs = manifests.load_documents(rendered)
        problems = manifests.validate_kubernetes(docs, params["kubernetes_version"])
        if problems:
            module.fail_json(
                msg="the rendered chart is not valid Kubernetes:\n- " + "\n- ".join(problems),
                errors=problems,
            )
    except (charts.ChartError, OSError, ValueError) as error:
        module.fail_json(msg=str(error))
    dest = Path(params["dest"])
    written = plan.redact_generated(rendered)
    changed = not dest.exists() or dest.read_text(encoding="utf-8") != written
    if changed and not module.check_mode:
        dest.write_text(written, encoding="utf-8")
    profiles = (ours.get("singleuser") or {}).get("profileList") or []
    summary = {
        "chart": f"{charts.chart_version(chart)} (app {charts.app_version(chart)})",
        "manifests": len(docs),
        "kinds": dict(sorted(Counter(d.get("kind") for d in docs).items())),
        "profiles": [p.get("display_name") for p in profiles],
        "storage": (ours.get("singleuser") or {}).get("storage", {}).get("type"),
    }
    module.exit_json(changed=changed, summary=summary)


if __name__ == "__main__":
    main()
