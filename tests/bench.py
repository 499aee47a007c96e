"""`make bench`: how long the foundation takes against the emulator, and how many AWS calls.

Measures a fresh deploy, a no-op re-run (which must report changed=0) and a full teardown,
counting API calls at the emulator. Prints a table and writes build/bench.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from astrohub_local.emulator import Emulator
from astrohub_local.runner import REPO, run_playbook

NAMESPACE = "astrohub-demo"


@dataclass
class Step:
    name: str
    seconds: float
    api_calls: int
    changed: int
    returncode: int


def measure(emulator: Emulator, name: str, playbook: str, **kwargs: object) -> Step:
    emulator.reset_calls()
    start = time.monotonic()
    result = run_playbook(playbook, emulator.url, **kwargs)  # type: ignore[arg-type]
    seconds = time.monotonic() - start
    calls = sum(emulator.calls().values())
    return Step(name, round(seconds, 1), calls, result.changed, result.returncode)


def main() -> int:
    with Emulator() as emulator:
        steps = [
            measure(emulator, "fresh deploy", "deploy.yml"),
            measure(emulator, "no-op re-run", "deploy.yml"),
            measure(
                emulator,
                "teardown -t all-fixtures",
                "teardown.yml",
                tags=["all-fixtures"],
                extra_vars={"confirm_destroy": NAMESPACE},
            ),
        ]
    print(f"{'step':28s} {'wall time':>10s} {'API calls':>10s} {'changed':>8s}")
    for step in steps:
        print(f"{step.name:28s} {step.seconds:>9.1f}s {step.api_calls:>10d} {step.changed:>8d}")
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps([asdict(s) for s in steps], indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")
    failed = [s.name for s in steps if s.returncode != 0]
    if failed or steps[1].changed:
        print(f"problems: failed={failed} no-op changed={steps[1].changed}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
