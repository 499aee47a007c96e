"""What an image is: images/<name>/image.yml, its lock and its tags."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from astrohub.unprivileged import runtime_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
IMAGES_DIR = REPO_ROOT / "images"

DEFAULT_NAMESPACE = "astrohub"


def env_root_dir() -> Path:
    """Where the image environments are installed: the runtime directory uid 1000 can reach
    (the single-user test runs them as that user), shared by checkouts, keyed by lock hash."""
    return runtime_dir("image-envs")


PLATFORM = "linux/amd64"
# Chart 4.4.0's hub runs JupyterHub 5.5.0; jupyterhub-singleuser in every image must
# have the same major version (tests/images checks this against the chart's hub lock).
HUB_JUPYTERHUB_MAJOR = 5
LOCK_COMMAND = "make images-lock"
# The line under uv's header that records what a lock was resolved from (check_lock).
INPUTS_PREFIX = "#    inputs sha256:"
SMOKE_SCRIPT = "/opt/astrohub/smoke.sh"
# The docker-stacks entrypoint. z2jh's default singleuser.cmd (jupyterhub-singleuser)
# would bypass start.sh and its start-notebook.d hooks, so each profile sets it back.
STACKS_CMD = ["start-notebook.py"]
CRDS_SHARED_CACHE_VOLUME = "crds-shared-cache"
CRDS_SHARED_CACHE_MOUNT = "/srv/crds-shared-cache"

MINIMAL_PROFILE: dict[str, Any] = {
    "slug": "minimal",
    "display_name": "Minimal notebook",
    "description": (
        "For your own packages and quick looks: plain JupyterLab (Jupyter Docker Stacks "
        "minimal-notebook, Python 3.11) with no science packages; install what you need with "
        "pip or mamba. The smallest image (0.6 GB): the quickest to start."
    ),
    "cpu_guarantee": 0.25,
    "cpu_limit": 1,
    "mem_guarantee": "1G",
    "mem_limit": "2G",
}

_MEMORY = r"^[0-9]+(\.[0-9]+)?[KMGT]$"
IMAGE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "name",
        "display_name",
        "description",
        "repository",
        "version",
        "default",
        "cpu_guarantee",
        "cpu_limit",
        "mem_guarantee",
        "mem_limit",
        "lock",
    ],
    "properties": {
        # A DNS label: also the profile slug.
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "minLength": 1, "maxLength": 1000},
        # One ECR repository path component (the namespace is added in front).
        "repository": {"type": "string", "pattern": "^[a-z0-9]+([._-][a-z0-9]+)*$"},
        # Docker tag characters; no "-" so that "<version>-<lock hash>" stays unambiguous.
        "version": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.]{0,99}$"},
        "headline_package": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
        "default": {"type": "boolean"},
        # The CRDS observatory whose references this image calibrates with: with
        # crds_shared_cache, a CronJob in this image keeps the shared cache in sync.
        "crds_observatory": {"enum": ["jwst", "hst"]},
        "cpu_guarantee": {"type": "number", "exclusiveMinimum": 0},
        "cpu_limit": {"type": "number", "exclusiveMinimum": 0},
        "mem_guarantee": {"type": "string", "pattern": _MEMORY},
        "mem_limit": {"type": "string", "pattern": _MEMORY},
        "lock": {
            "type": "object",
            "additionalProperties": False,
            "required": ["python_version", "python_platform", "exclude_newer"],
            "properties": {
                "python_version": {"type": "string", "pattern": r"^3\.[0-9]+$"},
                "python_platform": {"type": "string", "pattern": "^x86_64-manylinux_2_[0-9]+$"},
                "exclude_newer": {
                    "type": "string",
                    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                },
            },
        },
    },
}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)
_ECR_REGISTRY = re.compile(r"^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$")
_ENV_MARKER = ".astrohub-env.json"


class ImageSpecError(ValueError):
    """An image directory or its image.yml is not valid; the message says what and where."""


class ImageEnvError(RuntimeError):
    """A local copy of an image environment could not be created."""


@dataclass(frozen=True)
class LockSettings:
    """How ``requirements.in`` is compiled: the lock is a pure function of these."""

    python_version: str
    python_platform: str
    exclude_newer: str

    @property
    def exclude_newer_epoch(self) -> int:
        """The cut-off as a Unix time (also the image's SOURCE_DATE_EPOCH)."""
        return int(datetime.fromisoformat(self.exclude_newer.replace("Z", "+00:00")).timestamp())


@dataclass(frozen=True)
class ImageSpec:
    """One validated ``images/<name>/image.yml`` and the files beside it."""

    name: str
    display_name: str
    description: str
    repository: str
    version: str
    default: bool
    cpu_guarantee: float
    cpu_limit: float
    mem_guarantee: str
    mem_limit: str
    lock: LockSettings
    directory: Path
    headline_package: str | None = None
    crds_observatory: str | None = None

    @property
    def dockerfile(self) -> Path:
        return self.directory / "Dockerfile"

    @property
    def requirements_in(self) -> Path:
        return self.directory / "requirements.in"

    @property
    def requirements_txt(self) -> Path:
        return self.directory / "requirements.txt"

    @property
    def lab_overrides(self) -> Path:
        """JupyterLab's settings overrides every environment gets (the news prompt off)."""
        return self.directory.parent / "common" / "jupyterlab-overrides.json"

    @property
    def start_hooks(self) -> Path:
        """The scripts start.sh sources before the server starts (start-notebook.d)."""
        return self.directory.parent / "common" / "start-notebook.d"

    @property
    def getting_started(self) -> list[Path]:
        """The notebooks every user of this image finds in ~/getting-started: the common ones
        (images/common/getting-started) and the image's own, in name order."""
        shipped = [
            *(self.directory.parent / "common" / "getting-started").glob("*.ipynb"),
            *(self.directory / "getting-started").glob("*.ipynb"),
        ]
        return sorted(shipped, key=lambda path: path.name)

    @property
    def smoke_script(self) -> Path:
        return self.directory / "smoke.sh"

    @property
    def lock_hash(self) -> str:
        return lock_hash(self.directory)

    @property
    def full_tag(self) -> str:
        """``<version>-<lock hash>``: the tag the spawn page uses."""
        return f"{self.version}-{self.lock_hash}"

    @property
    def tags(self) -> tuple[str, str]:
        return (self.full_tag, self.version)

    def pins(self) -> dict[str, str]:
        """Canonical package name -> pinned version, from requirements.txt."""
        return lock_pins(self.requirements_txt)


def canonical_name(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(requirements_txt: Path) -> dict[str, str]:
    """Canonical package name -> pinned version of a compiled requirements file."""
    text = requirements_txt.read_text("utf-8")
    return {canonical_name(m.group(1)): m.group(2) for m in _PIN.finditer(text)}


def lock_hash(image_dir: Path) -> str:
    """First 12 hex digits of the sha256 of ``<image_dir>/requirements.txt``."""
    path = Path(image_dir) / "requirements.txt"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageSpecError(f"{path}: missing; run `{LOCK_COMMAND}`") from None
    return hashlib.sha256(data).hexdigest()[:12]


def _memory_bytes(value: str) -> float:
    factor = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[value[-1]]
    return float(value[:-1]) * factor


def load_image(directory: Path, *, require_lock: bool = True) -> ImageSpec:
    """Load and validate one image directory (``require_lock=False``: before the first lock)."""
    directory = Path(directory).resolve()
    path = directory / "image.yml"
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ImageSpecError(f"{path}: missing") from None
    except yaml.YAMLError as exc:
        raise ImageSpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ImageSpecError(f"{path}: expected a mapping of settings")

    validator = jsonschema.Draft202012Validator(IMAGE_SCHEMA)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.path))
    if errors:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e.path) or '(top level)'}: {e.message}"
            for e in errors
        ]
        raise ImageSpecError("\n".join(lines))

    problems: list[str] = []
    if raw["name"] != directory.name:
        problems.append(f"name is {raw['name']!r} but the directory is {directory.name!r}")
    if raw["cpu_guarantee"] > raw["cpu_limit"]:
        problems.append("cpu_guarantee is above cpu_limit")
    if _memory_bytes(raw["mem_guarantee"]) > _memory_bytes(raw["mem_limit"]):
        problems.append("mem_guarantee is above mem_limit")
    required_files = ["Dockerfile", "requirements.in", "smoke.sh"]
    if require_lock:
        required_files.append("requirements.txt")
    for required in required_files:
        if not (directory / required).is_file():
            problems.append(f"{required} is missing beside image.yml")
    headline = raw.get("headline_package")
    if headline and (directory / "requirements.txt").is_file():
        pinned = lock_pins(directory / "requirements.txt").get(canonical_name(headline))
        if pinned is None:
            problems.append(f"headline_package {headline} is not in requirements.txt")
        elif pinned not in raw["display_name"]:
            problems.append(
                f"display_name {raw['display_name']!r} does not name the locked "
                f"{headline} {pinned}: update it after re-locking"
            )
    if problems:
        raise ImageSpecError("\n".join(f"{path}: {p}" for p in problems))

    lock = raw["lock"]
    return ImageSpec(
        name=raw["name"],
        display_name=raw["display_name"],
        description=" ".join(raw["description"].split()),
        repository=raw["repository"],
        version=raw["version"],
        default=raw["default"],
        cpu_guarantee=float(raw["cpu_guarantee"]),
        cpu_limit=float(raw["cpu_limit"]),
        mem_guarantee=raw["mem_guarantee"],
        mem_limit=raw["mem_limit"],
        lock=LockSettings(
            python_version=lock["python_version"],
            python_platform=lock["python_platform"],
            exclude_newer=lock["exclude_newer"],
        ),
        directory=directory,
        headline_package=headline,
        crds_observatory=raw.get("crds_observatory"),
    )


def load_images(images_dir: Path = IMAGES_DIR, *, require_lock: bool = True) -> list[ImageSpec]:
    """Every ``<images_dir>/*/image.yml``, validated, default image first then by name."""
    images_dir = Path(images_dir)
    images = [
        load_image(p.parent, require_lock=require_lock)
        for p in sorted(images_dir.glob("*/image.yml"))
    ]
    if not images:
        raise ImageSpecError(f"{images_dir}: no */image.yml found")
    defaults = [i.name for i in images if i.default]
    if len(defaults) > 1:
        raise ImageSpecError(f"{images_dir}: more than one default image: {', '.join(defaults)}")
    seen: dict[str, str] = {}
    for image in images:
        if image.repository in seen:
            raise ImageSpecError(
                f"{images_dir}: {image.name} and {seen[image.repository]} "
                f"share the repository {image.repository!r}"
            )
        seen[image.repository] = image.name
        if image.name == MINIMAL_PROFILE["slug"]:
            raise ImageSpecError(f"{images_dir}: the name 'minimal' is the built-in profile's")
    return sorted(images, key=lambda i: (not i.default, i.name))
