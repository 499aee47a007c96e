"""Science images: what the spawn page offers, how each image is locked, built and tested.

Every ``images/<name>/`` directory with an ``image.yml`` is one image:

* ``image.yml``: the spawn page's entry (display name, description, resources, default)
  plus the ECR repository, the image version and the lock settings. It is the single
  source of truth for ``singleuser.profileList`` (:func:`profile_list`).
* ``requirements.in`` -> ``requirements.txt``: the Python environment, locked with
  ``uv pip compile`` for the image's Python on linux x86_64, wheels only, with hashes,
  and only from packages uploaded before ``lock.exclude_newer``, so that re-locking
  later gives the same file (:func:`compile_lock`, ``make images-lock``).
* ``Dockerfile``: ``FROM`` a date-pinned ``quay.io/jupyter/minimal-notebook`` and
  installs only from the lock; ``smoke.sh`` runs inside the built image.

Images are tagged ``<version>-<lock hash>`` (the first 12 hex digits of the lock's
sha256, :func:`lock_hash`) and ``<version>``. The spawn page and the pre-puller use
the ``<version>-<lock hash>`` tag: it names exactly the environment that the tests
installed, and a changed lock can never silently reuse an old image. The bare
``<version>`` tag is for people (and moves when the lock changes without a new
version, so the ECR repositories must allow mutable tags).

Docker is needed only to build and push (``make images``, ``make images-push``);
everything else, including a copy of each environment installed from its lock into
``$ASTROHUB_RUNTIME_DIR/image-envs/`` for the tests (:func:`ensure_env`), works without it.

Command line: ``python -m astrohub.images {lock,env,build,push,profiles,repositories}``;
``--dry-run`` prints the commands instead of running them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import yaml

from astrohub.unprivileged import runtime_dir

__all__ = [
    "DEFAULT_NAMESPACE",
    "HUB_JUPYTERHUB_MAJOR",
    "IMAGES_DIR",
    "ImageEnv",
    "ImageSpec",
    "ImageSpecError",
    "LockSettings",
    "base_image",
    "build_commands",
    "check_lock",
    "common_base_image",
    "compile_lock",
    "ecr_login",
    "ecr_registry",
    "ecr_repository_names",
    "ensure_env",
    "image_reference",
    "load_image",
    "load_images",
    "lock_hash",
    "main",
    "profile_list",
    "singleuser_values",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
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
        "Plain JupyterLab (Jupyter Docker Stacks minimal-notebook, Python 3.11) with no "
        "science packages: install your own with pip or mamba."
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


# ---------------------------------------------------------------------------------------
# Dockerfiles


def dockerfile_instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in Path(dockerfile).read_text("utf-8").splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    if pending:
        keyword, _, rest = pending.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def base_image(dockerfile: Path) -> str:
    """The final stage's ``FROM`` image, with global ``ARG`` defaults substituted."""
    args: dict[str, str] = {}
    base: str | None = None
    for keyword, rest in dockerfile_instructions(dockerfile):
        if keyword == "ARG" and base is None:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(
                r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), ""), words[0]
            )
    if base is None:
        raise ImageSpecError(f"{dockerfile}: no FROM instruction")
    return base


def common_base_image(images: Sequence[ImageSpec]) -> str:
    """The one base image every Dockerfile builds on (the Minimal notebook profile's image)."""
    bases = {image.name: base_image(image.dockerfile) for image in images}
    distinct = sorted(set(bases.values()))
    if len(distinct) != 1:
        raise ImageSpecError(f"the images build on different bases: {bases}")
    return distinct[0]


# ---------------------------------------------------------------------------------------
# Spawn page (helm values)


def image_reference(
    image: ImageSpec, registry: str, namespace: str = DEFAULT_NAMESPACE, tag: str | None = None
) -> str:
    """``<registry>/<namespace>/<repository>:<tag>`` (tag defaults to the full tag)."""
    repository = f"{namespace}/{image.repository}"
    prefix = f"{registry.rstrip('/')}/" if registry else ""
    return f"{prefix}{repository}:{tag or image.full_tag}"


def profile_list(
    images_dir: Path = IMAGES_DIR, registry: str = "", namespace: str = DEFAULT_NAMESPACE
) -> list[dict[str, Any]]:
    """The z2jh ``singleuser.profileList``: one profile per image.yml, then "Minimal notebook".

    Each image profile runs ``<registry>/<namespace>/<repository>:<version>-<lock hash>``.
    """
    if not registry:
        raise ImageSpecError("profile_list needs the registry the images are pushed to")
    images = load_images(images_dir)
    profiles: list[dict[str, Any]] = []
    for image in images:
        profiles.append(
            {
                "display_name": image.display_name,
                "description": image.description,
                "slug": image.name,
                "default": image.default,
                "kubespawner_override": {
                    "image": image_reference(image, registry, namespace),
                    "cmd": list(STACKS_CMD),
                    "cpu_guarantee": image.cpu_guarantee,
                    "cpu_limit": image.cpu_limit,
                    "mem_guarantee": image.mem_guarantee,
                    "mem_limit": image.mem_limit,
                },
            }
        )
    profiles.append(
        {
            "display_name": MINIMAL_PROFILE["display_name"],
            "description": MINIMAL_PROFILE["description"],
            "slug": MINIMAL_PROFILE["slug"],
            "default": False,
            "kubespawner_override": {
                "image": common_base_image(images),
                "cmd": list(STACKS_CMD),
                "cpu_guarantee": MINIMAL_PROFILE["cpu_guarantee"],
                "cpu_limit": MINIMAL_PROFILE["cpu_limit"],
                "mem_guarantee": MINIMAL_PROFILE["mem_guarantee"],
                "mem_limit": MINIMAL_PROFILE["mem_limit"],
            },
        }
    )
    return profiles


def singleuser_values(
    images_dir: Path = IMAGES_DIR,
    registry: str = "",
    namespace: str = DEFAULT_NAMESPACE,
    *,
    crds_shared_cache: bool = False,
    crds_shared_cache_claim: str = CRDS_SHARED_CACHE_VOLUME,
    crds_shared_cache_mount: str = CRDS_SHARED_CACHE_MOUNT,
) -> dict[str, Any]:
    """The helm values fragment for the images, to deep-merge into the rendered values.

    ``singleuser.profileList`` from :func:`profile_list`; ``prePuller.pullProfileListImages``
    (the chart's default, stated so the pre-puller pulls every profile's image); and, with
    ``crds_shared_cache``, the shared CRDS cache: the PersistentVolumeClaim
    ``crds_shared_cache_claim`` (an EFS volume) mounted read-only at
    ``crds_shared_cache_mount`` and ``CRDS_SHARED_CACHE`` pointing there, which the
    images' start hook links into each user's ``$CRDS_PATH``.
    """
    singleuser: dict[str, Any] = {"profileList": profile_list(images_dir, registry, namespace)}
    if crds_shared_cache:
        singleuser["storage"] = {
            "extraVolumes": [
                {
                    "name": CRDS_SHARED_CACHE_VOLUME,
                    "persistentVolumeClaim": {
                        "claimName": crds_shared_cache_claim,
                        "readOnly": True,
                    },
                }
            ],
            "extraVolumeMounts": [
                {
                    "name": CRDS_SHARED_CACHE_VOLUME,
                    "mountPath": crds_shared_cache_mount,
                    "readOnly": True,
                }
            ],
        }
        singleuser["extraEnv"] = {"CRDS_SHARED_CACHE": crds_shared_cache_mount}
    return {"singleuser": singleuser, "prePuller": {"pullProfileListImages": True}}


def crds_sync_jobs(
    images_dir: Path = IMAGES_DIR, registry: str = "", namespace: str = DEFAULT_NAMESPACE
) -> list[dict[str, str]]:
    """What keeps the shared CRDS cache filled: one sync per image that names a
    ``crds_observatory`` (its name, observatory and image reference), for the CronJobs."""
    if not registry:
        raise ImageSpecError("crds_sync_jobs needs the registry the images are pushed to")
    return [
        {
            "name": image.name,
            "observatory": image.crds_observatory,
            "image": image_reference(image, registry, namespace),
        }
        for image in load_images(images_dir)
        if image.crds_observatory
    ]


# ---------------------------------------------------------------------------------------
# ECR


def ecr_registry(account_id: str, region: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com``."""
    registry = f"{account_id}.dkr.ecr.{region}.amazonaws.com"
    if not _ECR_REGISTRY.match(registry):
        raise ValueError(f"not an ECR registry: {registry!r}")
    return registry


def ecr_repository_names(
    images_dir: Path = IMAGES_DIR, namespace: str = DEFAULT_NAMESPACE
) -> list[str]:
    """The ECR repositories the AWS foundation creates: ``<namespace>/<repository>``."""
    return sorted(f"{namespace}/{image.repository}" for image in load_images(images_dir))


Runner = Callable[[Sequence[str], str | None], None]


def run_command(argv: Sequence[str], stdin: str | None = None) -> None:
    """Run one command (no shell), failing loudly; ``stdin`` is passed on standard input."""
    subprocess.run(list(argv), input=stdin, text=True, check=True)


def ecr_login_command(registry: str) -> list[str]:
    return ["docker", "login", "--username", "AWS", "--password-stdin", f"https://{registry}"]


class EcrClient(Protocol):
    """The one ECR call :func:`ecr_login` makes (a boto3 ``ecr`` client has it)."""

    def get_authorization_token(self, *, registryIds: list[str]) -> Mapping[str, Any]: ...


def ecr_login(
    registry: str, runner: Runner = run_command, ecr_client: EcrClient | None = None
) -> None:
    """``docker login`` to ECR with a token from ``ecr:GetAuthorizationToken``.

    The same as ``aws ecr get-login-password | docker login --password-stdin``, without
    a shell: boto3 fetches the token and the password goes to docker on standard input,
    never on a command line or to disk (beyond docker's own credential store).
    """
    match = _ECR_REGISTRY.match(registry)
    if not match:
        raise ValueError(f"not an ECR registry: {registry!r}")
    account_id, region = match.groups()
    if ecr_client is None:
        import boto3

        ecr_client = boto3.client("ecr", region_name=region)
    response = ecr_client.get_authorization_token(registryIds=[account_id])
    token = response["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
    if user != "AWS" or not password:
        raise RuntimeError("unexpected ECR authorization token format")
    runner(ecr_login_command(registry), password)


# ---------------------------------------------------------------------------------------
# Build commands


def base_check_command(base: str) -> list[str]:
    """Check that the base image (the Minimal notebook profile) runs the hub's major."""
    code = (
        "import sys, jupyterhub; v = jupyterhub.__version__; "
        "print('base image jupyterhub', v); "
        f"sys.exit(0 if v.split('.')[0] == '{HUB_JUPYTERHUB_MAJOR}' else 1)"
    )
    return ["docker", "run", "--rm", "--platform", PLATFORM, base, "python", "-c", code]


def build_commands(
    image: ImageSpec, registry: str = "", push: bool = False, namespace: str = DEFAULT_NAMESPACE
) -> list[list[str]]:
    """The commands ``make images`` (push=False) and ``make images-push`` (push=True) run.

    1. ``docker buildx build`` for linux/amd64 with both tags, ``--load``ed into the
       local engine (context: the images/ directory, so the shared hook is reachable);
    2. the image's smoke test inside the built image;
    3. with ``push``, ``docker push`` of both tags, so that only an image whose smoke
       test passed is ever pushed.
    """
    full_ref = image_reference(image, registry, namespace, image.full_tag)
    version_ref = image_reference(image, registry, namespace, image.version)
    commands = [
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            PLATFORM,
            "--file",
            str(image.dockerfile),
            "--build-arg",
            f"ASTROHUB_IMAGE_VERSION={image.version}",
            "--build-arg",
            f"ASTROHUB_LOCK_HASH={image.lock_hash}",
            "--build-arg",
            f"SOURCE_DATE_EPOCH={image.lock.exclude_newer_epoch}",
            "--tag",
            full_ref,
            "--tag",
            version_ref,
            "--load",
            str(image.directory.parent),
        ],
        ["docker", "run", "--rm", "--platform", PLATFORM, full_ref, "bash", SMOKE_SCRIPT],
    ]
    if push:
        if not registry:
            raise ValueError("pushing needs a registry")
        commands += [["docker", "push", full_ref], ["docker", "push", version_ref]]
    return commands


# ---------------------------------------------------------------------------------------
# Locks


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


# ---------------------------------------------------------------------------------------
# Local copies of the environments (for the tests)


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
        marker.write_text(
            json.dumps({"lock_hash": digest, "python": interpreter, "image": image.name}),
            "utf-8",
        )
        own = re.compile(rf"{re.escape(image.name)}-[0-9a-f]{{12}}")
        for stale in env_root.iterdir():
            if stale != target and stale.is_dir() and own.fullmatch(stale.name):
                shutil.rmtree(stale, ignore_errors=True)
    return ImageEnv(image, target, True, time.monotonic() - started)


# ---------------------------------------------------------------------------------------
# Command line


def _select(images: list[ImageSpec], names: Sequence[str] | None) -> list[ImageSpec]:
    if not names:
        return images
    by_name = {i.name: i for i in images}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise SystemExit(f"unknown image(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def _show(argv: Sequence[str], note: str = "") -> None:
    print(shlex.join(argv) + (f"    # {note}" if note else ""), flush=True)


def _build_or_push(args: argparse.Namespace, images: list[ImageSpec], push: bool) -> int:
    registry: str = args.registry or ""
    if push and not registry:
        raise SystemExit("push needs --registry <account>.dkr.ecr.<region>.amazonaws.com")
    run: Runner = run_command
    if args.dry_run:

        def run(argv: Sequence[str], stdin: str | None = None) -> None:
            _show(argv, "password from ecr:GetAuthorizationToken on stdin" if stdin else "")

    if push:
        if args.dry_run:
            _show(ecr_login_command(registry), "password from ecr:GetAuthorizationToken on stdin")
        else:
            ecr_login(registry, run)
    run(base_check_command(common_base_image(load_images(args.images_dir))), None)
    for image in images:
        for argv in build_commands(image, registry, push=push, namespace=args.namespace):
            run(argv, None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m astrohub.images", description=__doc__)
    parser.add_argument("--images-dir", type=Path, default=IMAGES_DIR)
    sub = parser.add_subparsers(dest="action", required=True)

    p_lock = sub.add_parser("lock", help="re-lock requirements.in into requirements.txt")
    p_lock.add_argument(
        "--check", action="store_true", help="only report whether locks are current"
    )
    p_env = sub.add_parser(
        "env", help="install each lock into $ASTROHUB_RUNTIME_DIR/image-envs (as the tests do)"
    )
    p_build = sub.add_parser("build", help="docker buildx build + smoke test (make images)")
    p_push = sub.add_parser("push", help="ECR login, build, smoke test, push (make images-push)")
    p_prof = sub.add_parser("profiles", help="print the helm values fragment (profileList)")
    p_repo = sub.add_parser("repositories", help="print the ECR repository names")
    for p in (p_lock, p_env, p_build, p_push):
        p.add_argument("--image", action="append", dest="names", metavar="NAME")
        p.add_argument("--dry-run", action="store_true", help="print the commands only")
    for p in (p_build, p_push, p_prof):
        p.add_argument("--registry", default=os.environ.get("ASTROHUB_ECR_REGISTRY", ""))
    for p in (p_build, p_push, p_prof, p_repo):
        p.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p_prof.add_argument("--crds-shared-cache", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.action == "repositories":
            print("\n".join(ecr_repository_names(args.images_dir, args.namespace)))
            return 0
        if args.action == "profiles":
            values = singleuser_values(
                args.images_dir,
                args.registry,
                args.namespace,
                crds_shared_cache=args.crds_shared_cache,
            )
            print(yaml.safe_dump(values, sort_keys=False), end="")
            return 0
        images = _select(
            load_images(args.images_dir, require_lock=args.action != "lock"), args.names
        )
        if args.action == "lock":
            status = 0
            for image in images:
                if args.dry_run:
                    _show(compile_command(image, image.requirements_txt), f"in {image.directory}")
                    continue
                started = time.monotonic()
                if args.check:
                    diff = check_lock(image)
                    diff += "\n" if diff else ""
                    state = "current" if not diff else "STALE: run `make images-lock`"
                    status |= 1 if diff else 0
                    sys.stdout.write(diff)
                else:
                    state = "re-locked" if write_lock(image) else "unchanged"
                print(f"{image.name}: {state} ({time.monotonic() - started:.1f} s)")
            return status
        if args.action == "env":
            for image in images:
                if args.dry_run:
                    print(f"{image.name}: {env_root_dir() / (image.name + '-' + image.lock_hash)}")
                    continue
                built = ensure_env(image)
                state = "installed" if built.created else "reused"
                print(f"{image.name}: {state} {built.path} ({built.seconds:.1f} s)")
            return 0
        return _build_or_push(args, images, push=args.action == "push")
    except (ImageSpecError, ImageEnvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {shlex.join(exc.cmd)} exited {exc.returncode}", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
