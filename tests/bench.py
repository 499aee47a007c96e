"""`make bench`: how long the foundation takes against the emulator, and how many AWS calls.

Measures a fresh deploy, a no-op re-run (which must report changed=0) and a full teardown,
counting API calls at the emulator, the upgrade's login gap (tests/hub/test_upgrade_switch.py:
the old local hub stops, the new one answers on the same database) and fifty users signing in to
JupyterLab at once (tests/hub/test_many_users.py). Prints a table and writes build/bench.json;
fails when the no-op re-run misses its targets (share of the fresh wall time, AWS calls), the
login gap is a minute or more, or any of the fifty logins fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from astrohub_local.emulator import Emulator
from astrohub_local.runner import REPO, run_playbook

NAMESPACE = "astrohub-demo"
# Issue 9's targets for a no-op re-run: at most 40 % of a fresh deploy's wall time, and at most
# half of the 175 AWS calls it made when the issue was filed.
NO_OP_WALL_SHARE = 0.40
NO_OP_MAX_CALLS = 175 // 2
# Issue 10's target for the upgrade's switch: users cannot log in for less than a minute.
LOGIN_GAP_MAX = 60.0
SWITCH_TEST = REPO / "tests" / "hub" / "test_upgrade_switch.py"
SWITCH_REPORT = REPO / "build" / "upgrade-switch.json"
# Issue 12's load test: fifty users sign in and reach JupyterLab at once, none may fail.
MANY_USERS_TEST = REPO / "tests" / "hub" / "test_many_users.py"
MANY_USERS_REPORT = REPO / "build" / "many-users.json"


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


def hub_measurement(test: Path, report: Path) -> dict[str, Any] | None:
    """Run a hub test that writes its measurement to ``report``; None when the test failed."""
    report.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=REPO,
        env=os.environ,
        check=False,
    )
    if done.returncode != 0 or not report.is_file():
        return None
    measured: dict[str, Any] = json.loads(report.read_text())
    return measured


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
    switch = hub_measurement(SWITCH_TEST, SWITCH_REPORT)
    gap: float | None = switch["login_gap_seconds"] if switch else None
    many = hub_measurement(MANY_USERS_TEST, MANY_USERS_REPORT)
    print(f"{'step':28s} {'wall time':>10s} {'API calls':>10s} {'changed':>8s}")
    for step in steps:
        print(f"{step.name:28s} {step.seconds:>9.1f}s {step.api_calls:>10d} {step.changed:>8d}")
    print(f"{'upgrade login gap':28s} {gap:>9.1f}s" if gap is not None else "upgrade switch failed")
    if many and "p50_seconds" in many:
        print(
            f"{many['users']} concurrent logins to JupyterLab: {many['failures']} failed, "
            f"p50 {many['p50_seconds']:.1f}s, p95 {many['p95_seconds']:.1f}s"
        )
    else:
        print(f"concurrent logins: the test failed ({MANY_USERS_TEST.name})")
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"steps": [asdict(s) for s in steps], "login_gap_seconds": gap, "many_users": many},
            indent=2,
        )
        + "\n"
    )
    print(f"written to {out.relative_to(REPO)}")
    failed = [s.name for s in steps if s.returncode != 0]
    fresh, no_op = steps[0], steps[1]
    missed = []
    if no_op.seconds > NO_OP_WALL_SHARE * fresh.seconds:
        share = no_op.seconds / fresh.seconds
        missed.append(f"no-op re-run took {share:.0%} of a fresh deploy's time")
    if no_op.api_calls > NO_OP_MAX_CALLS:
        missed.append(f"no-op re-run made {no_op.api_calls} AWS calls (at most {NO_OP_MAX_CALLS})")
    if gap is None or gap >= LOGIN_GAP_MAX:
        missed.append(f"upgrade login gap {gap} s (under {LOGIN_GAP_MAX:.0f} s)")
    if not many or many["failures"]:
        missed.append(f"concurrent logins: {many}")
    if failed or no_op.changed or missed:
        print(f"problems: failed={failed} no-op changed={no_op.changed} {'; '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
