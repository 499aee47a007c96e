"""The pinned versions and the workplace's offline copies of the pinned upstream artifacts,
named once for every test.

``ASTROHUB_FIXTURES`` (the Makefile sets it to ../shared/fixtures when that is beside the
clone) holds the chart source at the pinned version, an older packaged chart for upgrade
tests, the chart's hub requirements, and the kops CRDs. A user's clone has none of this: the
product fetches what it needs (tests/integration/test_pinned_artifacts.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
VERSIONS = yaml.safe_load((REPO / "group_vars" / "all" / "versions.yml").read_text())
CHART_VERSION: str = VERSIONS["jupyterhub_chart_version"]
KOPS_VERSION: str = VERSIONS["kops_version"]
KUBERNETES_VERSION: str = VERSIONS["kubernetes_version"]
FIXTURES = Path(os.environ.get("ASTROHUB_FIXTURES") or REPO.parent / "shared" / "fixtures")
# The chart source at the pinned version (Chart.yaml says 0.0.1-set.by.chartpress).
CHART = FIXTURES / "charts" / f"jupyterhub-{CHART_VERSION}"
# The frozen requirements of that chart's hub image.
HUB_REQUIREMENTS = FIXTURES / "charts" / f"jupyterhub-{CHART_VERSION}-hub-requirements.txt"
# A published chart package of the previous major version.
OLD_CHART_TGZ = FIXTURES / "charts" / "jupyterhub-3.3.8.tgz"
KOPS_CRDS = FIXTURES / "kops-crds"
