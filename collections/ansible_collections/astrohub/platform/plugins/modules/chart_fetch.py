#!/usr/bin/python
"""Fetch the pinned Helm chart by version from its repository into a cache (plan mode)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: chart_fetch
short_description: Fetch a pinned chart by version, verified against its repository's index
description:
  - Finds the chart O(name) O(version) without any network in O(cache_dir) (a chart fetched
    earlier, whose sha256 still matches the one recorded when it was verified) or in
    O(offline_cache) (C(charts/<name>-<version>.tgz) or the unpacked chart directory there).
  - Otherwise fetches it from the Helm repository O(repo_url) with Helm's own client
    (helm-python-sdk, no helm binary), checks the archive's sha256 against the digest the
    repository's C(index.yaml) lists for that version, and keeps it in O(cache_dir).
  - Fails with one message saying what to download and where to put it when the chart is
    neither cached nor reachable.
version_added: 0.1.0
author: astrohub maintainers
options:
  name:
    description: Chart name in the repository.
    type: str
    default: jupyterhub
  version:
    description: The pinned chart version.
    type: str
    required: true
  repo_url:
    description: The Helm chart repository (the URL holding C(index.yaml)).
    type: str
    required: true
  cache_dir:
    description: Where fetched charts are kept and reused.
    type: path
    required: true
  offline_cache:
    description: A directory with C(charts/<name>-<version>[.tgz]) to use instead of fetching.
    type: path
"""

EXAMPLES = r"""
- name: Fetch the pinned JupyterHub chart
  astrohub.platform.chart_fetch:
    version: 4.4.0
    repo_url: https://hub.jupyter.org/helm-chart/
    cache_dir: build/cache
"""

RETURN = r"""
path:
  description: The chart archive or directory to render.
  returned: success
  type: str
source:
  description: Where it came from, and how it was verified.
  returned: success
  type: str
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

from astrohub import chart as charts


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "default": charts.CHART_NAME},
            "version": {"type": "str", "required": True},
            "repo_url": {"type": "str", "required": True},
            "cache_dir": {"type": "path", "required": True},
            "offline_cache": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    cache_dir = Path(params["cache_dir"]).resolve()
    found = charts.find_chart(
        params["version"],
        cache_dir=cache_dir,
        offline_cache=Path(params["offline_cache"]) if params["offline_cache"] else None,
        name=params["name"],
    )
    if found:
        module.exit_json(changed=False, path=str(found[0]), source=found[1])
    if module.check_mode:
        module.exit_json(
            changed=True,
            path=str(charts.cached_chart(cache_dir, params["version"], params["name"])),
            source=f"would fetch from {params['repo_url']}",
        )
    try:
        path, source = charts.fetch_chart(
            params["repo_url"], params["version"], cache_dir=cache_dir, name=params["name"]
        )
    except charts.ChartError as error:
        module.fail_json(
            msg=charts.missing_chart_message(
                params["repo_url"],
                params["version"],
                cache_dir=cache_dir,
                reason=str(error),
                name=params["name"],
            )
        )
    module.exit_json(changed=True, path=str(path), source=source)


if __name__ == "__main__":
    main()
