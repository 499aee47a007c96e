"""Values layers as Helm gets them: written to files and read back in order (``helm -f ...``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import helm_python
import yaml

from astrohub.chart import read_values_files
from astrohub_local.localhub import deployed_values_files
from pinned import CHART


def layered(*layers: dict[str, Any]) -> dict[str, Any]:
    """The values of ``helm -f 1.yaml -f 2.yaml ...`` with one file per layer."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, layer in enumerate(layers):
            path = Path(tmp) / f"{index:02d}.yaml"
            path.write_text(yaml.safe_dump(layer))
            paths.append(path)
        return read_values_files(paths)


def deployed_values(build: Path) -> dict[str, Any]:
    """Our values as a deploy rendered them into ``build/<namespace>/``, secrets included, in
    the order Helm gets them."""
    return read_values_files(deployed_values_files(build))


def release_values(build: Path) -> dict[str, Any]:
    """The values the release runs with: ours coalesced with the pinned chart's defaults by
    Helm's own engine (what the hub Secret's values.yaml holds)."""
    with helm_python.Chart.load(str(CHART)) as chart:
        merged: dict[str, Any] = chart.merge_values(deployed_values(build))
    return merged
