"""Fixtures for the science-image tests: image specs, locks, and local copies of the
environments installed from the locks (no Docker anywhere)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from image_support import IMAGES_DIR, TIMINGS

from astrohub import images
from astrohub_local.runner import index_env


@pytest.fixture(scope="session")
def all_images() -> list[images.ImageSpec]:
    return images.load_images(IMAGES_DIR)


@pytest.fixture(scope="session")
def image_by_name(all_images: list[images.ImageSpec]) -> dict[str, images.ImageSpec]:
    return {image.name: image for image in all_images}


@pytest.fixture(scope="session")
def image_env(
    image_by_name: dict[str, images.ImageSpec],
) -> Iterator[Callable[[str], images.ImageEnv]]:
    """``image_env(name)``: the image's lock installed under $ASTROHUB_RUNTIME_DIR/image-envs/,
    built once per lock (reused across runs while the lock's hash is unchanged)."""
    built: dict[str, images.ImageEnv] = {}

    def get(name: str) -> images.ImageEnv:
        if name not in built:
            started = time.monotonic()
            env = images.ensure_env(image_by_name[name], env=index_env())
            built[name] = env
            TIMINGS[name] = {
                "path": str(env.path),
                "installed": env.created,
                "seconds": round(time.monotonic() - started, 1),
            }
        return built[name]

    yield get


def _du(path: str) -> str:
    out = subprocess.run(["du", "-sh", path], capture_output=True, text=True, check=False)
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout else "?"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("image environments")
    for name, info in sorted(TIMINGS.items()):
        state = "installed" if info["installed"] else "reused"
        terminalreporter.write_line(
            f"{name}: {state} in {info['seconds']} s, {_du(info['path'])} at {info['path']}"
        )
