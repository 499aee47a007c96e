"""Reading the images' Dockerfiles: their instructions and the base image."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from astrohub.images.spec import ImageSpec, ImageSpecError


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
