"""Filters reading the science images' image.yml files (logic in astrohub.images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from astrohub.images import ecr_repository_names


def ecr_repositories(images_dir: str, namespace: str) -> list[str]:
    """The ECR repositories of the images under images_dir: <namespace>/<repository>."""
    return ecr_repository_names(Path(images_dir), namespace)


class FilterModule:
    """astrohub.platform image filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"ecr_repositories": ecr_repositories}
