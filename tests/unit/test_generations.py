"""Cluster generations: names, and the record's steps through an upgrade and its re-runs."""

from __future__ import annotations

import pytest

from astrohub.generations import Record, cluster_name


def test_generation_zero_keeps_the_name_clusters_had_before_upgrades() -> None:
    assert cluster_name("astrohub", 0) == "astrohub.k8s.local"
    assert cluster_name("astrohub", 3) == "astrohub-g3.k8s.local"
    with pytest.raises(ValueError, match="0 or more"):
        cluster_name("astrohub", -1)


def test_no_record_is_generation_zero_with_no_upgrade_under_way() -> None:
    record = Record.parse(None)
    assert record == Record(live=0)
    assert record.generations() == [0]
    assert record.upgrade() == {"phase": "build", "new": 1, "old": 0}


def test_a_whole_upgrade_and_the_next_one() -> None:
    record = Record.parse("")
    building = record.upgrade_started()
    assert building == Record(live=0, building=1)
    assert building.generations() == [0, 1]
    switched = building.switched(1)
    assert switched == Record(live=1, retiring=0)
    assert switched.upgrade() == {"phase": "retire", "new": 1, "old": 0}
    done = switched.retired()
    assert done == Record(live=1)
    assert done.generations() == [1]
    assert done.upgrade_started() == Record(live=1, building=2)


def test_a_rerun_resumes_the_generation_under_way() -> None:
    building = Record(live=4, building=5)
    assert building.upgrade_started() == building
    assert building.upgrade() == {"phase": "build", "new": 5, "old": 4}
    retiring = Record(live=5, retiring=4)
    assert retiring.upgrade_started() == retiring
    assert retiring.switched(5) == retiring


def test_a_switch_out_of_order_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot switch to generation 2"):
        Record(live=0, building=1).switched(2)
    with pytest.raises(ValueError, match="cannot switch to generation 1"):
        Record(live=0).switched(1)


def test_the_record_round_trips() -> None:
    record = Record(live=2, building=3)
    assert Record.parse(record.dump()) == record


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "is not JSON"),
        ('{"live": 1, "extra": 2}', "must hold live, building and retiring"),
        ('{"live": -1}', "live must be a generation number"),
        ('{"live": null}', "live must be a generation number"),
        ('{"live": true}', "live must be a generation number"),
        ('{"live": 1, "building": "2"}', "building must be a generation number"),
        ("[1]", "must hold live"),
    ],
)
def test_a_damaged_record_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Record.parse(text)
