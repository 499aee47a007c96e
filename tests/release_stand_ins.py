"""Stand-ins for the kops, kubectl and helm releases, laid out at their upstream paths (what
download_mirror serves), with their sha256s fixed here rather than computed from what is served:
a test that pins a digest it derived from the files it serves could not catch a wrong file.

    python tests/release_stand_ins.py <dir>    # write them under <dir> (molecule's prepare)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import yaml

VERSIONS = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "group_vars" / "all" / "versions.yml").read_text()
)
KOPS = b"#!/bin/sh\necho 'Client version: 1.36.2 (loopback stand-in)'\n"
KOPS_SHA256 = "d8958f003af562ad176538fcc7249d92e2c9776f06cf2be109f25651d8c7c414"
KUBECTL = b"#!/bin/sh\necho 'Client Version: v1.35.1 (loopback stand-in)'\n"
KUBECTL_SHA256 = "0827672412ed5008fbc9673bb305810320922c5154aa583de2ce2daf80361552"
HELM = b"#!/bin/sh\necho 'v3.21.4 (loopback stand-in)'\n"
HELM_SHA256 = "24d5fc8aa241fca9690d4116dd6d5ec2191933e27930eed5a9fedeaecdd34e70"


def helm_tarball() -> bytes:
    """helm's release tarball layout (linux-amd64/helm), byte for byte repeatable."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size, info.mode, info.mtime = len(HELM), 0o755, 0
        tar.addfile(info, io.BytesIO(HELM))
    return gzip.compress(raw.getvalue(), mtime=0)


def paths() -> dict[str, str]:
    """Each release file's upstream path, as the cluster_tools role asks for it."""
    kops, kubectl, helm = (
        VERSIONS[k] for k in ("kops_version", "kubernetes_version", "helm_version")
    )
    return {
        "kops": f"kubernetes/kops/releases/download/v{kops}/kops-linux-amd64",
        "kops.sha256": f"kubernetes/kops/releases/download/v{kops}/kops-linux-amd64.sha256",
        "kubectl": f"release/v{kubectl}/bin/linux/amd64/kubectl",
        "helm": f"helm-v{helm}-linux-amd64.tar.gz",
    }


def publish(root: Path, kops: bytes = KOPS, kops_sha256: str = KOPS_SHA256) -> None:
    """Write the releases under ``root``; kops beside the checksum file its release has."""
    where = paths()
    files = {
        where["kops"]: kops,
        where["kops.sha256"]: (kops_sha256 + "\n").encode(),
        where["kubectl"]: KUBECTL,
        where["helm"]: helm_tarball(),
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


def check() -> None:
    """The fixed digests are those of the stand-ins (so a change to either is caught)."""
    assert hashlib.sha256(KOPS).hexdigest() == KOPS_SHA256
    assert hashlib.sha256(KUBECTL).hexdigest() == KUBECTL_SHA256
    assert hashlib.sha256(helm_tarball()).hexdigest() == HELM_SHA256


if __name__ == "__main__":
    check()
    publish(Path(sys.argv[1]))
