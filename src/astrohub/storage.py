"""The storage report: each home directory's size beside its user's last activity on the hub,
largest first (playbooks/storage.yml).

Homes are the sub-directories of the EFS /home access point that KubeSpawner names
``{escaped_username}`` (helm-values/20-storage.yaml.j2); ``du`` measures them where they are
mounted, the hub's REST API says who was last active when.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from escapism import escape

# KubeSpawner 7's escape_slug (kubespawner/slugs.py): escapism with these safe characters and
# '-' as the escape character, lower-cased. KubeSpawner is the hub's, not a dependency here.
_SAFE = frozenset(string.ascii_lowercase + string.digits)


def home_directory(username: str) -> str:
    """The directory KubeSpawner's ``{escaped_username}`` gives a user."""
    return str(escape(username, safe=_SAFE, escape_char="-")).lower()


def parse_du(output: str) -> dict[str, int]:
    """``du -s --block-size=1 <homes>/*/`` output: bytes by directory name."""
    sizes: dict[str, int] = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        size, _, path = line.partition("\t")
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if not size.isdigit() or not name:
            raise ValueError(f"not a line of du -s output: {line!r}")
        sizes[name] = int(size)
    return sizes


def _utc(moment: datetime) -> datetime:
    """A time without a zone is UTC (Ansible's now(utc=true), older hubs' timestamps)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def report(
    sizes: Mapping[str, int], users: Iterable[Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """One row per home directory and per user without one, largest first.

    A directory no user of the hub maps to is listed with ``user: None`` (a deleted user's
    home, say); a user who never started a server has no directory (``bytes: None``)."""
    by_directory = {home_directory(str(user["name"])): user for user in users}
    now = _utc(now)
    rows = []
    for directory in sorted(set(sizes) | set(by_directory)):
        user = by_directory.get(directory)
        last = user.get("last_activity") if user else None
        rows.append(
            {
                "user": user["name"] if user else None,
                "directory": directory,
                "bytes": sizes.get(directory),
                "last_activity": last,
                "idle_days": (now - _utc(datetime.fromisoformat(last))).days if last else None,
            }
        )
    return sorted(rows, key=lambda row: (-(row["bytes"] or 0), row["directory"]))


def archive_candidates(
    rows: Iterable[Mapping[str, Any]], idle_days: int, running: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The report's rows whose home goes to the archive: users idle for ``idle_days`` or more
    (0: none) with a home directory and no server running. A directory no hub user maps to is
    never chosen: how long it has been unused is not known."""
    if idle_days <= 0:
        return []
    busy = set(running)
    return [
        dict(row)
        for row in rows
        if row["user"] is not None
        and row["user"] not in busy
        and row["bytes"] is not None
        and row["idle_days"] is not None
        and row["idle_days"] >= idle_days
    ]
