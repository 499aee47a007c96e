"""Reading the images' Dockerfiles: their instructions and the base image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dockerfile_parse import DockerfileParser

from astrohub.images.spec import ImageSpec, ImageSpecError


def _parsed(dockerfile: Path) -> DockerfileParser:
    return DockerfileParser(str(dockerfile), cache_content=True)


def dockerfile_instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, comments dropped and continuations joined
    (dockerfile-parse)."""
    return [
        (item["instruction"], item["value"])
        for item in _parsed(dockerfile).structure
        if item["instruction"] != "COMMENT"
    ]


def base_image(dockerfile: Path) -> str:
    """The final stage's ``FROM`` image, with global ``ARG`` defaults substituted."""
    base = _parsed(dockerfile).baseimage
    if not base:
        raise ImageSpecError(f"{dockerfile}: no FROM instruction")
    return str(base)


def common_base_image(images: Sequence[ImageSpec]) -> str:
    """The one base image every Dockerfile builds on (the Minimal notebook profile's image)."""
    bases = {image.name: base_image(image.dockerfile) for image in images}
    distinct = sorted(set(bases.values()))
    if len(distinct) != 1:
        raise ImageSpecError(f"the images build on different bases: {bases}")
    return distinct[0]
