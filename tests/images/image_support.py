"""Helpers shared by the science-image tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from astrohub_local.runner import LOOPBACK_ONLY
from pinned import HUB_REQUIREMENTS

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
HERE = Path(__file__).resolve().parent
IMAGE_NAMES = ("jwst", "hst")

# Filled by the image_env fixture, printed at the end of the run.
TIMINGS: dict[str, dict[str, Any]] = {}


def offline_env(**extra: str) -> dict[str, str]:
    """The environment for code running inside an image environment: all traffic goes
    to the dead proxy except loopback, so nothing can reach the network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRDS_", "VIRTUAL_ENV"))}
    env.update(LOOPBACK_ONLY)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def hub_jupyterhub_version() -> str:
    """The JupyterHub version chart 4.4.0's hub image runs, from the chart's hub lock."""
    if not HUB_REQUIREMENTS.is_file():
        pytest.fail(
            f"{HUB_REQUIREMENTS} is missing: ASTROHUB_FIXTURES must name the offline copy of the "
            "pinned chart's files; the singleuser-version checks cannot run without it"
        )
    for line in HUB_REQUIREMENTS.read_text().splitlines():
        if line.startswith("jupyterhub=="):
            return line.split("==", 1)[1].strip()
    pytest.fail(f"{HUB_REQUIREMENTS} pins no jupyterhub")


def run_result(argv: list[str], env: dict[str, str], timeout: float = 600) -> dict[str, Any]:
    """Run a check script and return its ``RESULT {json}`` line; fail with its output."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or len(lines) != 1:
        pytest.fail(
            f"{' '.join(argv)} exited {proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}"
            f"\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    result: dict[str, Any] = json.loads(lines[0][len("RESULT ") :])
    return result
