"""The pinned chart and kops CRDs that plan mode checks against come by version from their
upstream (a chart repository, the kops tag), verified, into the cache; without them and without
an offline cache, the run stops before any AWS call and says what to download.

Loopback servers stand in for the chart repository and raw.githubusercontent.com; nothing here
uses the workplace's offline cache (ASTROHUB_FIXTURES), as in a user's clone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from astrohub_local.emulator import Emulator
from astrohub_local.runner import REPO, run_playbook
from loopback_server import serving
from pinned import CHART, CHART_VERSION, KOPS_CRDS, KOPS_VERSION, VERSIONS

# What the message tells a user to run on a machine that can reach the repository.
HELM_PULL = (
    f"helm pull jupyterhub --repo https://hub.jupyter.org/helm-chart/ --version {CHART_VERSION}"
)
# A tag no task carries: only the always-tagged plays run (preflight, pinned artifacts).
ONLY_ALWAYS = ["pinned-artifacts-only"]


def no_offline_cache() -> dict[str, str]:
    """The environment of a clone with nothing beside it."""
    return {k: v for k, v in os.environ.items() if k not in ("ASTROHUB_FIXTURES",)}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A chart repository with the pinned chart (packaged from the offline source at the pinned
    version) and the kops release tree with its CRDs, at their upstream paths."""
    root = tmp_path_factory.mktemp("upstream")
    source = tmp_path_factory.mktemp("chart-source") / "jupyterhub"
    shutil.copytree(CHART, source)
    repo = root / "helm-chart"
    repo.mkdir()
    archive = Path(helm_python.package(source, destination=repo, version=CHART_VERSION))
    crds = root / "kubernetes" / "kops" / f"v{KOPS_VERSION}" / "k8s" / "crds"
    crds.mkdir(parents=True)
    for name in VERSIONS["kops_crds_sha256"]:
        shutil.copy2(KOPS_CRDS / name, crds / name)
    with serving(root) as (base, requested):
        helm_python.repo_index_generate(repo, base_url=f"{base}/helm-chart/")
        yield {
            "base": base,
            "repo": f"{base}/helm-chart/",
            "archive": archive,
            "digest": hashlib.sha256(archive.read_bytes()).hexdigest(),
            "requested": requested,
            "root": root,
        }


def fetch(emulator: Emulator, cache: Path, upstream: dict[str, Any], **extra: Any):
    return run_playbook(
        "deploy.yml",
        emulator.url,
        tags=ONLY_ALWAYS,
        env=no_offline_cache(),
        strategy="linear",  # a few local tasks: Ansible's own strategy starts faster
        extra_vars={
            "artifact_cache_dir": str(cache),
            "artifact_offline_cache": "",
            "jupyterhub_chart_repo": upstream["repo"],
            "download_mirror": upstream["base"],
            **extra,
        },
    )


def test_the_chart_and_crds_are_fetched_verified_and_reused(
    aws_emulator: Emulator, upstream: dict[str, Any], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = fetch(aws_emulator, cache, upstream)
    assert first.returncode == 0, first.failures or first.output[-3000:]
    fetched = cache / f"jupyterhub-{CHART_VERSION}.tgz"
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == upstream["digest"]
    # The run says where the chart came from and how it was checked.
    assert f"jupyterhub chart {CHART_VERSION}: {upstream['repo']} (sha256 {upstream['digest']}" in (
        first.output
    )
    for name, digest in VERSIONS["kops_crds_sha256"].items():
        crd = cache / f"kops-crds-{KOPS_VERSION}" / name
        assert hashlib.sha256(crd.read_bytes()).hexdigest() == digest
    assert (
        f"/kubernetes/kops/v{KOPS_VERSION}/k8s/crds/kops.k8s.io_clusters.yaml"
        in (upstream["requested"])
    )

    # A second run finds both in the cache: no download, nothing changed.
    upstream["requested"].clear()
    second = fetch(aws_emulator, cache, upstream)
    assert second.returncode == 0 and second.changed == 0, second.output[-3000:]
    assert not [p for p in upstream["requested"] if p.endswith((".tgz", ".yaml"))], upstream[
        "requested"
    ]


def test_a_chart_that_differs_from_its_index_is_refused(
    aws_emulator: Emulator, upstream: dict[str, Any], tmp_path: Path
) -> None:
    """The repository serves other bytes than its index lists: nothing is cached."""
    tampered_root = tmp_path / "tampered"
    shutil.copytree(upstream["root"] / "helm-chart", tampered_root / "helm-chart")
    index_path = tampered_root / "helm-chart" / "index.yaml"
    index = yaml.safe_load(index_path.read_text())
    with serving(tampered_root) as (base, _):
        for entry in index["entries"]["jupyterhub"]:
            entry["urls"] = [f"{base}/helm-chart/{Path(entry['urls'][0]).name}"]
            entry["digest"] = "0" * 64
        index_path.write_text(yaml.safe_dump(index))
        cache = tmp_path / "cache"
        result = fetch(aws_emulator, cache, upstream, jupyterhub_chart_repo=f"{base}/helm-chart/")
    assert result.returncode != 0
    message = "\n".join(result.failures)
    assert "but the repository's index lists sha256:" + "0" * 64 in message
    assert not (cache / f"jupyterhub-{CHART_VERSION}.tgz").exists()


def test_offline_without_a_cache_stops_before_any_aws_call(
    clean_emulator: Emulator, tmp_path: Path
) -> None:
    """The whole deploy, as make demo runs it, from a clone with nothing beside it and no way
    out: one message saying what to download and where, and not one AWS call."""
    result = run_playbook(
        "deploy.yml",
        clean_emulator.url,
        env={**no_offline_cache(), "ASTROHUB_CACHE_DIR": str(tmp_path / "empty-cache")},
        strategy="linear",
    )
    assert result.returncode != 0
    assert len(result.failures) == 1, result.failures
    message = result.failures[0]
    assert f"the jupyterhub chart {CHART_VERSION} is not in" in message
    assert (
        f"helm pull jupyterhub --repo https://hub.jupyter.org/helm-chart/ --version {CHART_VERSION}"
        in message
    )
    assert "ASTROHUB_FIXTURES" in message
    assert clean_emulator.calls() == {}


def test_make_demo_offline_without_a_cache_says_what_to_download(tmp_path: Path) -> None:
    """`make demo`'s own program, from a clone with nothing beside it and no network."""
    done = subprocess.run(
        [sys.executable, "-m", "astrohub_local.demo", "--no-wait"],
        cwd=REPO,
        env={**no_offline_cache(), "ASTROHUB_CACHE_DIR": str(tmp_path / "empty-cache")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert (
        f"helm pull jupyterhub --repo https://hub.jupyter.org/helm-chart/ --version {CHART_VERSION}"
        in output
    )
    assert "What the deployment made" not in output
