"""Filters of the storage report (logic and tests in astrohub.storage)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from astrohub import storage


def home_directory(username: str) -> str:
    """The home directory KubeSpawner's {escaped_username} gives a hub user."""
    return storage.home_directory(username)


def home_sizes(du_output: str) -> dict[str, int]:
    """Bytes by home directory name, from `du -s --block-size=1` output."""
    return storage.parse_du(du_output)


def storage_report(
    sizes: Mapping[str, int], users: Iterable[Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """One row per home and per user without one, largest first."""
    return storage.report(sizes, users, now)


def archive_candidates(
    rows: Iterable[Mapping[str, Any]], idle_days: int, running: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The report's rows whose home the archive takes (users idle for idle_days or more)."""
    return storage.archive_candidates(rows, int(idle_days), running)


class FilterModule:
    """astrohub.platform storage filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "archive_candidates": archive_candidates,
            "home_directory": home_directory,
            "home_sizes": home_sizes,
            "storage_report": storage_report,
        }
