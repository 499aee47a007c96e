"""docker buildx commands that build and smoke-test an image."""

from __future__ import annotations

from astrohub.images.spec import (
    DEFAULT_NAMESPACE,
    HUB_JUPYTERHUB_MAJOR,
    PLATFORM,
    SMOKE_SCRIPT,
    ImageSpec,
)
from astrohub.images.values import image_reference


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
    3. with ``push``, ``docker push`` of the ``<version>-<lock hash>`` tag only, so that
       only an image whose smoke test passed is ever pushed. The repositories' tags are
       immutable; the bare ``<version>`` tag, which moves when a lock changes, stays local.
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
        commands += [["docker", "push", full_ref]]
    return commands
