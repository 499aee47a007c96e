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
installed, and a changed lock can never silently reuse an old image; it is the only tag
pushed, into repositories whose tags are immutable. The bare ``<version>`` tag is for
people on the build machine (it moves when the lock changes without a new version).

Docker is needed only to build and push (``make images``, ``make images-push``);
everything else, including a copy of each environment installed from its lock into
``$ASTROHUB_RUNTIME_DIR/image-envs/`` for the tests (:func:`ensure_env`), works without it.

Command line: ``python -m astrohub.images {lock,env,build,push,profiles,repositories}``;
``--dry-run`` prints the commands instead of running them."""

from __future__ import annotations

from astrohub.images.build import (
    base_check_command,
    build_commands,
)
from astrohub.images.cli import (
    main,
)
from astrohub.images.dockerfile import (
    base_image,
    common_base_image,
    dockerfile_instructions,
)
from astrohub.images.ecr import (
    EcrClient,
    Runner,
    ecr_login,
    ecr_login_command,
    ecr_registry,
    ecr_repository_names,
    run_command,
)
from astrohub.images.envs import (
    GETTING_STARTED,
    START_HOOKS,
    ImageEnv,
    copy_getting_started,
    ensure_env,
    image_python,
    pip_check,
)
from astrohub.images.lock import (
    check_lock,
    compile_command,
    compile_lock,
    lock_inputs_digest,
    recorded_inputs,
    stamp_inputs,
    uv_executable,
    write_lock,
)
from astrohub.images.spec import (
    CRDS_SHARED_CACHE_MOUNT,
    CRDS_SHARED_CACHE_VOLUME,
    DEFAULT_NAMESPACE,
    HUB_JUPYTERHUB_MAJOR,
    IMAGE_SCHEMA,
    IMAGES_DIR,
    INPUTS_PREFIX,
    LOCK_COMMAND,
    MINIMAL_PROFILE,
    PLATFORM,
    REPO_ROOT,
    SMOKE_SCRIPT,
    STACKS_CMD,
    ImageEnvError,
    ImageSpec,
    ImageSpecError,
    LockSettings,
    canonical_name,
    env_root_dir,
    load_image,
    load_images,
    lock_hash,
    lock_pins,
)
from astrohub.images.values import (
    crds_sync_jobs,
    image_reference,
    profile_list,
    singleuser_values,
)

__all__ = [
    "CRDS_SHARED_CACHE_MOUNT",
    "CRDS_SHARED_CACHE_VOLUME",
    "DEFAULT_NAMESPACE",
    "GETTING_STARTED",
    "HUB_JUPYTERHUB_MAJOR",
    "IMAGES_DIR",
    "IMAGE_SCHEMA",
    "INPUTS_PREFIX",
    "LOCK_COMMAND",
    "MINIMAL_PROFILE",
    "PLATFORM",
    "REPO_ROOT",
    "SMOKE_SCRIPT",
    "STACKS_CMD",
    "START_HOOKS",
    "EcrClient",
    "ImageEnv",
    "ImageEnvError",
    "ImageSpec",
    "ImageSpecError",
    "LockSettings",
    "Runner",
    "base_check_command",
    "base_image",
    "build_commands",
    "canonical_name",
    "check_lock",
    "common_base_image",
    "compile_command",
    "compile_lock",
    "copy_getting_started",
    "crds_sync_jobs",
    "dockerfile_instructions",
    "ecr_login",
    "ecr_login_command",
    "ecr_registry",
    "ecr_repository_names",
    "ensure_env",
    "env_root_dir",
    "image_python",
    "image_reference",
    "load_image",
    "load_images",
    "lock_hash",
    "lock_inputs_digest",
    "lock_pins",
    "main",
    "pip_check",
    "profile_list",
    "recorded_inputs",
    "run_command",
    "singleuser_values",
    "stamp_inputs",
    "uv_executable",
    "write_lock",
]
