"""Filters reading the science images' image.yml files (logic in astrohub.images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from astrohub.images import (
    CRDS_SHARED_CACHE_MOUNT,
    CRDS_SHARED_CACHE_VOLUME,
    common_base_image,
    crds_sync_jobs,
    ecr_repository_names,
    load_images,
    singleuser_values,
)


def ecr_repositories(images_dir: str, namespace: str) -> list[str]:
    """The ECR repositories of the images under images_dir: <namespace>/<repository>."""
    return ecr_repository_names(Path(images_dir), namespace)


def singleuser_images(
    images_dir: str,
    registry: str,
    namespace: str,
    crds_shared_cache: bool = False,
    crds_cache_claim: str = CRDS_SHARED_CACHE_VOLUME,
    crds_cache_mount: str = CRDS_SHARED_CACHE_MOUNT,
) -> dict[str, Any]:
    """The helm values of the spawn page: singleuser.profileList and the pre-puller, and
    with crds_shared_cache the claim crds_cache_claim mounted read-only at crds_cache_mount
    in every user's server."""
    return singleuser_values(
        Path(images_dir),
        registry,
        namespace,
        crds_shared_cache=crds_shared_cache,
        crds_shared_cache_claim=crds_cache_claim,
        crds_shared_cache_mount=crds_cache_mount,
    )


def crds_sync_images(images_dir: str, registry: str, namespace: str) -> list[dict[str, str]]:
    """The images whose CronJob keeps the shared CRDS cache in sync (name, observatory, image)."""
    return crds_sync_jobs(Path(images_dir), registry, namespace)


def base_image(images_dir: str) -> str:
    """The base image every science image builds on (the minimal notebook's image)."""
    return common_base_image(load_images(Path(images_dir)))


class FilterModule:
    """astrohub.platform image filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "base_image": base_image,
            "crds_sync_images": crds_sync_images,
            "ecr_repositories": ecr_repositories,
            "singleuser_images": singleuser_images,
        }
