"""Filters reading the science images' image.yml files (logic in astrohub.images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from astrohub.images import common_base_image, ecr_repository_names, load_images, singleuser_values


def ecr_repositories(images_dir: str, namespace: str) -> list[str]:
    """The ECR repositories of the images under images_dir: <namespace>/<repository>."""
    return ecr_repository_names(Path(images_dir), namespace)


def singleuser_images(images_dir: str, registry: str, namespace: str) -> dict[str, Any]:
    """The helm values of the spawn page: singleuser.profileList and the pre-puller."""
    return singleuser_values(Path(images_dir), registry, namespace)


def base_image(images_dir: str) -> str:
    """The base image every science image builds on (the minimal notebook's image)."""
    return common_base_image(load_images(Path(images_dir)))


class FilterModule:
    """astrohub.platform image filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "base_image": base_image,
            "ecr_repositories": ecr_repositories,
            "singleuser_images": singleuser_images,
        }
