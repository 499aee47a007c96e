"""The CI node's tools are downloaded and verified against pinned sha256s.

A loopback HTTP server stands in for the release sites; the real role runs against it.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from astrohub_local.runner import DEAD_PROXY, REPO

PLAYBOOK = REPO / "tests" / "integration" / "playbooks" / "cluster_tools.yml"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Serve fake kops, kubectl and a helm tarball from a loopback server."""
    root = tmp_path_factory.mktemp("releases")
    files = {"kops": b"#!/bin/sh\necho kops 1.36.2\n", "kubectl": b"#!/bin/sh\necho kubectl\n"}
    for name, data in files.items():
        (root / name).write_bytes(data)
    helm = io.BytesIO()
    with tarfile.open(fileobj=helm, mode="w:gz") as tar:
        body = b"#!/bin/sh\necho helm 3.21.4\n"
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size, info.mode = len(body), 0o755
        tar.addfile(info, io.BytesIO(body))
    (root / "helm.tar.gz").write_bytes(helm.getvalue())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {
        "base": base,
        "root": root,
        "sha": {
            "kops": sha256(files["kops"]),
            "kubectl": sha256(files["kubectl"]),
            "helm": sha256(helm.getvalue()),
        },
    }
    server.shutdown()


def install(
    releases: dict[str, object], target: Path, *, index: bool = False, **overrides: object
) -> subprocess.CompletedProcess:
    """Run the role into ``target``. ``index``: the Kubernetes Python client too, which pip
    installs from the package index (as `make test` does for the image locks); everything
    else comes from the loopback server."""
    sha = releases["sha"]
    extra = {
        "kops_version": "1.36.2",
        "kubernetes_version": "1.35.1",
        "helm_version": "3.21.4",
        "kops_sha256": sha["kops"],
        "kubectl_sha256": sha["kubectl"],
        "helm_sha256": sha["helm"],
        "cluster_tools_kops_url": f"{releases['base']}/kops",
        "cluster_tools_kubectl_url": f"{releases['base']}/kubectl",
        "cluster_tools_helm_url": f"{releases['base']}/helm.tar.gz",
        "cluster_tools_bin_dir": str(target / "bin"),
        "cluster_tools_cache_dir": str(target / "cache"),
        "cluster_tools_become": False,
        "cluster_tools_python_client": index,
        "ci_node_python_venv": str(target / "python"),
        "cluster_tools_system_python": sys.executable,
        "cluster_tools_system_packages": [],
        "ansible_python_interpreter": sys.executable,
        **overrides,
    }
    (target / "bin").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if index:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            if env.get(name) == DEAD_PROXY:
                del env[name]
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(PLAYBOOK),
            "-e",
            json.dumps(extra),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def recap_changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("localhost "))
    return int(line.split("changed=")[1].split()[0])


def test_a_file_with_the_wrong_sha256_is_refused(releases, tmp_path: Path) -> None:
    result = install(releases, tmp_path, kops_sha256="0" * 64)
    assert result.returncode != 0
    assert "checksum" in result.stdout.lower() and "0" * 64 in result.stdout
    assert not (tmp_path / "bin" / "kops").exists()


def test_verified_tools_install_and_a_rerun_changes_nothing(releases, tmp_path: Path) -> None:
    first = install(releases, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    for tool in ("kops", "kubectl", "helm"):
        path = tmp_path / "bin" / tool
        assert os.access(path, os.X_OK), tool
    assert b"helm 3.21.4" in (tmp_path / "bin" / "helm").read_bytes()
    assert recap_changed(first.stdout) > 0
    second = install(releases, tmp_path)
    assert second.returncode == 0 and recap_changed(second.stdout) == 0


def test_a_new_pin_replaces_the_installed_tool(releases, tmp_path: Path) -> None:
    assert install(releases, tmp_path).returncode == 0
    newer = b"#!/bin/sh\necho kubectl newer\n"
    (releases["root"] / "kubectl-newer").write_bytes(newer)
    result = install(
        releases,
        tmp_path,
        kubectl_sha256=sha256(newer),
        cluster_tools_kubectl_url=f"{releases['base']}/kubectl-newer",
    )
    assert result.returncode == 0 and recap_changed(result.stdout) == 1
    assert (tmp_path / "bin" / "kubectl").read_bytes() == newer


def test_a_package_outside_the_lock_is_refused(releases, tmp_path: Path) -> None:
    """--require-hashes: a lock entry whose hash does not match installs nothing."""
    lock = (REPO / "requirements-ci-node.lock").read_text()
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, lock))
    result = install(releases, tmp_path, index=True, cluster_tools_python_lock=str(tampered))
    assert result.returncode != 0
    # pip's own refusal (the failing command line alone would mention --require-hashes).
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in result.stdout
    probe = subprocess.run(
        [str(tmp_path / "python" / "bin" / "python"), "-c", "import kubernetes"],
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0
