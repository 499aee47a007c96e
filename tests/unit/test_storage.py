"""The storage report: homes matched to users by KubeSpawner's own escaping, largest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubespawner.slugs import escape_slug

from astrohub.storage import archive_candidates, home_directory, parse_du, report

NAMES = ["astronomer@example.org", "Admin@Example.org", "octo-astronomer", "a.b_c+d@x.io", "ümlaut"]


@pytest.mark.parametrize("name", NAMES)
def test_home_directories_are_kubespawners_escaped_usernames(name: str) -> None:
    assert home_directory(name) == escape_slug(name)


def test_du_output_is_read_by_directory() -> None:
    out = "4096\t/homes/astronomer-40example-2eorg/\n123456789\t/homes/octo-2dastronomer\n\n"
    assert parse_du(out) == {"astronomer-40example-2eorg": 4096, "octo-2dastronomer": 123456789}
    with pytest.raises(ValueError, match="not a line of du"):
        parse_du("du: cannot read directory '/homes/x': Permission denied\n")


def _rows() -> list[dict[str, object]]:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    users = [
        {"name": "astronomer@example.org", "last_activity": "2026-12-01T09:30:00.000000Z"},
        {"name": "Admin@Example.org", "last_activity": "2026-09-01T00:00:00Z"},
        {"name": "newcomer@example.org", "last_activity": None},
    ]
    sizes = {
        home_directory("astronomer@example.org"): 5_000,
        home_directory("Admin@Example.org"): 9_000,
        "gone-40example-2eorg": 7_000,
    }
    return report(sizes, users, now)


def test_rows_pair_homes_with_users_largest_first() -> None:
    rows = _rows()
    assert [(r["user"], r["bytes"], r["idle_days"]) for r in rows] == [
        ("Admin@Example.org", 9_000, 93),
        (None, 7_000, None),
        ("astronomer@example.org", 5_000, 1),
        ("newcomer@example.org", None, None),
    ]
    assert rows[1]["directory"] == "gone-40example-2eorg"


def test_archive_candidates_are_idle_users_with_a_home_and_no_server() -> None:
    rows = _rows()
    assert [r["user"] for r in archive_candidates(rows, 90)] == ["Admin@Example.org"]
    assert [r["user"] for r in archive_candidates(rows, 1)] == [
        "Admin@Example.org",
        "astronomer@example.org",
    ]
    assert archive_candidates(rows, 94) == []
    # Never a running user's, never a directory nobody maps to, never with archiving off.
    assert archive_candidates(rows, 90, running=["Admin@Example.org"]) == []
    assert archive_candidates(rows, 0) == []
