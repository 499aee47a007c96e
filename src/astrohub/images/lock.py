"""The images' locks: uv pip compile, the inputs digest, and checks that a lock is current."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from astrohub.images.spec import INPUTS_PREFIX, LOCK_COMMAND, ImageEnvError, ImageSpec


def uv_executable() -> str:
    """``uv`` beside this Python (the project venv's pinned uv), else on PATH."""
    override = os.environ.get("ASTROHUB_UV")
    if override:
        return override
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if not found:
        raise ImageEnvError("uv not found: install the dev dependencies (make setup)")
    return found


def compile_command(
    image: ImageSpec, output: Path, *, uv: str | None = None, offline: bool = False
) -> list[str]:
    """``uv pip compile`` of ``requirements.in`` into ``output`` (run in the image dir)."""
    lock = image.lock
    command = [
        uv or uv_executable(),
        "pip",
        "compile",
        "requirements.in",
        "--output-file",
        str(output),
        "--python-version",
        lock.python_version,
        "--python-platform",
        lock.python_platform,
        "--exclude-newer",
        lock.exclude_newer,
        "--only-binary",
        ":all:",
        "--generate-hashes",
        "--custom-compile-command",
        LOCK_COMMAND,
        "--no-config",
        "--quiet",
    ]
    if offline:
        command.append("--offline")
    return command


def _run_offline_first(
    build: Callable[[bool], list[str]],
    cwd: Path | None,
    env: Mapping[str, str] | None,
    *,
    try_offline: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run with ``--offline`` (uv's cache only); if the cache cannot answer, run online."""
    if try_offline:
        offline = subprocess.run(
            build(True), cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        if offline.returncode == 0:
            return offline
    online = subprocess.run(
        build(False), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if online.returncode != 0:
        raise ImageEnvError(
            f"{shlex.join(build(False))} failed ({online.returncode}):\n{online.stderr}"
        )
    return online


def compile_lock(
    image: ImageSpec,
    output: Path,
    *,
    uv: str | None = None,
    env: Mapping[str, str] | None = None,
    offline_first: bool = False,
) -> str:
    """Resolve ``requirements.in`` into ``output`` and return its text.

    A fresh resolution (the output file starts empty, so no earlier pins steer it).
    With ``offline_first`` uv first tries its cache alone and asks the package index
    only if the cache cannot answer; the answer from the cache can only be trusted
    when the cache is younger than ``lock.exclude_newer``, so callers that write a
    lock resolve online.
    """
    output = Path(output).resolve()
    output.unlink(missing_ok=True)
    _run_offline_first(
        lambda offline: compile_command(image, output, uv=uv, offline=offline),
        image.directory,
        env,
        try_offline=offline_first,
    )
    return output.read_text("utf-8")


def lock_inputs_digest(image: ImageSpec) -> str:
    """sha256 of everything a lock is resolved from: ``requirements.in`` and the lock settings
    of ``image.yml`` (Python, platform, ``exclude_newer``) and the fixed resolver options."""
    lock = image.lock
    inputs = {
        "requirements.in": image.requirements_in.read_text("utf-8"),
        "python_version": lock.python_version,
        "python_platform": lock.python_platform,
        "exclude_newer": lock.exclude_newer,
        "options": compile_command(image, Path("requirements.txt"), uv="uv")[4:],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def stamp_inputs(lock_text: str, digest: str) -> str:
    """The lock with its inputs' digest recorded under uv's header (replacing an old one)."""
    lines = [
        line for line in lock_text.splitlines(keepends=True) if not line.startswith(INPUTS_PREFIX)
    ]
    header = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return "".join([*lines[:header], f"{INPUTS_PREFIX}{digest}\n", *lines[header:]])


def recorded_inputs(lock_text: str) -> str | None:
    """The inputs' digest a lock records, if any."""
    for line in lock_text.splitlines():
        if line.startswith(INPUTS_PREFIX):
            return line[len(INPUTS_PREFIX) :].strip()
    return None


def check_lock(image: ImageSpec) -> str:
    """Why ``requirements.txt`` is not the lock of the current inputs; empty if it is.

    Compares the digest the lock records (written by ``make images-lock``) with the digest of
    ``requirements.in`` and the lock settings now. No network: re-resolving is
    ``make images-lock``'s job, and the package index moving on must not turn this red.
    """
    recorded = recorded_inputs(image.requirements_txt.read_text("utf-8"))
    current = lock_inputs_digest(image)
    if recorded == current:
        return ""
    return (
        f"images/{image.name}/requirements.txt was locked from other inputs "
        f"(recorded {recorded or 'nothing'}, requirements.in and image.yml now give {current}); "
        f"run `{LOCK_COMMAND}`"
    )


def write_lock(
    image: ImageSpec,
    *,
    uv: str | None = None,
    env: Mapping[str, str] | None = None,
    offline_first: bool = False,
) -> bool:
    """Re-lock ``requirements.txt`` in place (from the package index unless
    ``offline_first``, see :func:`compile_lock`), recording the inputs' digest; True if it
    changed."""
    with tempfile.TemporaryDirectory(prefix=f"astrohub-lock-{image.name}-") as tmp:
        fresh = compile_lock(
            image, Path(tmp) / "requirements.txt", uv=uv, env=env, offline_first=offline_first
        )
    fresh = stamp_inputs(fresh, lock_inputs_digest(image))
    current = image.requirements_txt.read_text("utf-8") if image.requirements_txt.exists() else ""
    if fresh == current:
        return False
    image.requirements_txt.write_text(fresh, "utf-8")
    return True
