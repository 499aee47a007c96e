"""Cluster generations: an upgrade builds cluster N+1 beside the live cluster N, moves the hub
to it, then deletes N. A record in the kops state bucket says which generation is live and
what an unfinished upgrade was doing, so a re-run picks up where it stopped.

Generation 0 is ``<namespace>.k8s.local``, the name a deployment has before its first upgrade:
an existing cluster is adopted as it is. Generation N > 0 is ``<namespace>-g<N>.k8s.local``
(the preflight keeps namespaces from ending in ``-g<digits>``, so names never collide).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

# Beside kops' own keys in the state bucket; kops lists clusters by keys ending in /config.
RECORD_KEY = "astrohub/cluster-generation.json"


def cluster_name(namespace: str, generation: int) -> str:
    """The kops cluster name of a generation."""
    if generation < 0:
        raise ValueError(f"a cluster generation is 0 or more, not {generation}")
    return f"{namespace}.k8s.local" if generation == 0 else f"{namespace}-g{generation}.k8s.local"


@dataclass(frozen=True)
class Record:
    """live: the generation users are on. building: an upgrade's new generation, not switched
    to yet. retiring: the generation an upgrade switched away from, not deleted yet."""

    live: int = 0
    building: int | None = None
    retiring: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> Record:
        """The record in the bucket; none means generation 0 and no upgrade under way."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ValueError(f"{RECORD_KEY} is not JSON: {error}") from error
        if not isinstance(data, dict) or set(data) - {"live", "building", "retiring"}:
            raise ValueError(f"{RECORD_KEY} must hold live, building and retiring: {text!r}")
        record = cls(**data)
        for name, value in asdict(record).items():
            if not (value is None and name != "live") and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 0
            ):
                raise ValueError(f"{RECORD_KEY}: {name} must be a generation number, not {value!r}")
        return record

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    def generations(self) -> list[int]:
        """Every generation that may have a cluster: the CI node's permissions cover these."""
        return sorted({g for g in (self.live, self.building, self.retiring) if g is not None})

    def upgrade(self) -> dict[str, Any]:
        """What upgrade.yml does next: build (or resume building) a new generation and switch
        to it, or, after an interrupted switch, only retire the old one."""
        if self.retiring is not None:
            return {"phase": "retire", "new": self.live, "old": self.retiring}
        new = self.building if self.building is not None else self.live + 1
        return {"phase": "build", "new": new, "old": self.live}

    def upgrade_started(self) -> Record:
        """The record once an upgrade is under way: a new generation being built, unless one
        already is, or the switch is done and only the old one is left to delete."""
        if self.building is not None or self.retiring is not None:
            return self
        return replace(self, building=self.live + 1)

    def switched(self, generation: int) -> Record:
        """The record once the hub answers on ``generation``: the old one is left to delete."""
        if self.retiring is not None and self.live == generation:
            return self  # an interrupted run already switched
        if self.building != generation:
            raise ValueError(
                f"cannot switch to generation {generation}: the record says {asdict(self)}"
            )
        return Record(live=generation, retiring=self.live)

    def retired(self) -> Record:
        """The record once the old generation's cluster is deleted."""
        return Record(live=self.live)
