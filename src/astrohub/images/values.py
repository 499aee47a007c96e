"""The spawn page: singleuser values and profiles generated from the images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from astrohub.images.dockerfile import common_base_image
from astrohub.images.spec import (
    CRDS_SHARED_CACHE_MOUNT,
    CRDS_SHARED_CACHE_VOLUME,
    DEFAULT_NAMESPACE,
    IMAGES_DIR,
    MINIMAL_PROFILE,
    STACKS_CMD,
    ImageSpec,
    ImageSpecError,
    load_images,
)


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
