"""Where processes that run as the notebook user (uid 1000, gid 100, like jovyan) find
what they need.

The local hub starts single-user servers as uid 1000 when it runs as root, and the image
tests run hooks and servers the same way. uid 1000 must be able to reach their interpreter,
environment and home, whatever the checkout's parents allow: a clone under a 0700 home
(``/root``) or a ``mktemp -d`` folder is not traversable by anyone else. So those files live
in one runtime directory outside the checkout, ``ASTROHUB_RUNTIME_DIR`` (default
``/var/tmp/astrohub``): the image environments (keyed by lock hash, shared by checkouts),
the local hub's JupyterLab environment, and scratch directories for homes.

Before anything is placed there, :func:`runtime_dir` proves that uid 1000 can traverse it
and otherwise stops with one message naming the setting.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

UID, GID = 1000, 100
# A fixed name in a shared directory: runtime_dir() refuses it unless we own it and nobody
# else may write to it (so nobody can plant an environment that root would then run).
DEFAULT_RUNTIME_DIR = "/var/tmp/astrohub"  # noqa: S108
ENV_VAR = "ASTROHUB_RUNTIME_DIR"
REPO = Path(__file__).resolve().parents[2]


class UnreachableError(RuntimeError):
    """uid 1000 cannot reach the runtime directory."""


def run_as_prefix(uid: int = UID, gid: int = GID) -> list[str]:
    """The command prefix that runs a program as uid/gid when we are root (else as us)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"]


def can_traverse(path: Path, uid: int = UID, gid: int = GID) -> bool:
    """Whether uid/gid can reach ``path`` (asked of the kernel, as that user)."""
    if os.geteuid() != 0:
        return os.access(path, os.X_OK)
    probe = subprocess.run(
        [*run_as_prefix(uid, gid), "test", "-x", str(path)], capture_output=True, check=False
    )
    return probe.returncode == 0


def runtime_dir(*parts: str) -> Path:
    """``$ASTROHUB_RUNTIME_DIR/<parts>``, created 0755 and proved reachable by uid 1000."""
    root = Path(os.environ.get(ENV_VAR) or DEFAULT_RUNTIME_DIR)
    path = root.joinpath(*parts)
    for directory in [root, *(root.joinpath(*parts[: i + 1]) for i in range(len(parts)))]:
        if not directory.exists():
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)  # not the umask's choice: others must traverse it
    owner = root.stat()
    if owner.st_uid != os.geteuid() or owner.st_mode & 0o022:
        raise UnreachableError(
            f"{ENV_VAR}: {root} belongs to uid {owner.st_uid} or is writable by others; "
            f"remove it or set {ENV_VAR} to a directory of your own"
        )
    if not can_traverse(path):
        raise UnreachableError(
            f"{ENV_VAR}: uid {UID} cannot reach {path} (a parent directory is not "
            f"traversable by others); set {ENV_VAR} to a directory whose parents are, "
            f"e.g. {DEFAULT_RUNTIME_DIR}"
        )
    return path


def scratch_dir(prefix: str) -> Path:
    """A fresh directory (0755) under the runtime directory, for homes and hooks."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=runtime_dir("scratch")))
    path.chmod(0o755)
    return path


def checkout_dir(*parts: str) -> Path:
    """A directory of this checkout's own under the runtime directory (the demo's homes)."""
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    return runtime_dir(f"checkout-{checkout}", *parts)


def lock_digest(lock: Path) -> str:
    """The first 12 hex digits of a lock's sha256: names an environment built from it."""
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:12]


def localhub_venv() -> Path:
    """The local hub's JupyterLab environment (``make localhub-venv`` builds it here)."""
    lock = REPO / "requirements-localhub.lock"
    return runtime_dir() / f"localhub-venv-{lock_digest(lock)}"
