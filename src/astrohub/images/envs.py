"""Local copies of the images' environments, installed from their locks (tests and demo)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from astrohub.images.lock import _run_offline_first, uv_executable
from astrohub.images.spec import _ENV_MARKER, ImageEnvError, ImageSpec, env_root_dir


@dataclass(frozen=True)
class ImageEnv:
    """A virtualenv installed from an image's lock (``$ASTROHUB_RUNTIME_DIR/image-envs/``)."""

    image: ImageSpec
    path: Path
    created: bool
    seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name


def _python_minor(interpreter: str) -> str | None:
    try:
        out = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def image_python(version: str) -> str:
    """An interpreter of the image's Python version for the local environments.

    ``ASTROHUB_IMAGE_PYTHON`` if set; otherwise the system ``/usr/bin/python<version>``
    first: the singleuser test runs the environment as an unprivileged user, who must
    be able to execute the interpreter a venv points at (a pyenv Python under a
    private /root is not reachable for them).
    """
    override = os.environ.get("ASTROHUB_IMAGE_PYTHON")
    candidates = (
        [override]
        if override
        else [f"/usr/bin/python{version}", shutil.which(f"python{version}"), sys.executable]
    )
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _python_minor(candidate) == version:
            return candidate
    raise ImageEnvError(
        f"no Python {version} found (tried {', '.join(str(c) for c in candidates if c)}); "
        f"the image locks target Python {version}. Set ASTROHUB_IMAGE_PYTHON."
    )


def pip_check(
    python: Path, *, uv: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pip check`` of the environment of ``python``.

    The environments hold exactly the lock, without pip of their own (an unlocked,
    seeded pip/setuptools/wheel could itself break the check), so this runs this
    Python's pip against them (``pip --python``); ``uv pip check`` if there is none.
    """
    has_pip = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if has_pip.returncode == 0:
        argv = [sys.executable, "-m", "pip", "--python", str(python), "check"]
    else:
        argv = [uv or uv_executable(), "pip", "check", "--python", str(python)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Where an environment keeps the getting-started notebooks (the image's
# ASTROHUB_GETTING_STARTED: /opt/astrohub/venv/share/astrohub/getting-started).
GETTING_STARTED = Path("share", "astrohub", "getting-started")
# Where a local environment keeps a copy of the images' start hooks (in an image:
# /usr/local/bin/start-notebook.d), for the local hub to source as start.sh does.
START_HOOKS = Path("share", "astrohub", "start-notebook.d")


def copy_getting_started(image: ImageSpec, target: Path) -> None:
    """The image's getting-started notebooks into ``target``, as its Dockerfile copies them."""
    target.mkdir(parents=True, exist_ok=True)
    for notebook in image.getting_started:
        shutil.copyfile(notebook, target / notebook.name)


def _install_shipped_files(image: ImageSpec, target: Path) -> None:
    """What the Dockerfile copies into the image's venv besides the lock: JupyterLab's
    settings overrides, where the environment's JupyterLab reads them, the getting-started
    notebooks and (for the local hub, which sources them as start.sh does) the start hooks."""
    settings = target / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image.lab_overrides, settings / "overrides.json")
    for shipped in (target / GETTING_STARTED, target / START_HOOKS):
        if shipped.exists():
            shutil.rmtree(shipped)
    copy_getting_started(image, target / GETTING_STARTED)
    shutil.copytree(image.start_hooks, target / START_HOOKS)


def ensure_env(
    image: ImageSpec,
    env_root: Path | None = None,
    *,
    python: str | None = None,
    uv: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ImageEnv:
    """Install the image's lock into ``<env_root>/<name>-<lock hash>/``, or reuse it.

    ``uv venv`` and ``uv pip sync`` of the lock with ``--require-hashes`` and wheels
    only, like the Dockerfile, then :func:`pip_check`. uv's cache
    makes a re-install take seconds; an environment that finished installing is
    reused as it is. Other environments of the same image (older locks) are removed.
    """
    started = time.monotonic()
    digest = image.lock_hash
    env_root = Path(env_root) if env_root else env_root_dir()
    target = env_root / f"{image.name}-{digest}"
    marker = target / _ENV_MARKER
    uv = uv or uv_executable()
    with _exclusive(env_root / f".{image.name}.lock"):
        if marker.is_file() and (target / "bin" / "python").exists():
            recorded = json.loads(marker.read_text("utf-8"))
            if recorded.get("lock_hash") == digest:
                _install_shipped_files(image, target)
                return ImageEnv(image, target, False, time.monotonic() - started)
        if target.exists():
            shutil.rmtree(target)
        interpreter = python or image_python(image.lock.python_version)
        _run_offline_first(
            lambda offline: [
                uv,
                "venv",
                "--clear",
                "--no-config",
                "--python",
                interpreter,
                *(["--offline"] if offline else []),
                str(target),
            ],
            None,
            env,
        )
        _run_offline_first(
            lambda offline: [
                uv,
                "pip",
                "sync",
                "--no-config",
                "--python",
                str(target / "bin" / "python"),
                "--require-hashes",
                "--only-binary",
                ":all:",
                # Installed once, imported by many checks (which may not write .pyc files).
                "--compile-bytecode",
                *(["--offline"] if offline else []),
                str(image.requirements_txt),
            ],
            None,
            env,
        )
        check = pip_check(target / "bin" / "python", uv=uv, env=env)
        if check.returncode != 0:
            raise ImageEnvError(f"pip check failed in {target}:\n{check.stdout}{check.stderr}")
        _install_shipped_files(image, target)
        marker.write_text(
            json.dumps({"lock_hash": digest, "python": interpreter, "image": image.name}),
            "utf-8",
        )
        own = re.compile(rf"{re.escape(image.name)}-[0-9a-f]{{12}}")
        for stale in env_root.iterdir():
            if stale != target and stale.is_dir() and own.fullmatch(stale.name):
                shutil.rmtree(stale, ignore_errors=True)
    return ImageEnv(image, target, True, time.monotonic() - started)
