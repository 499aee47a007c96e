"""`make molecule`: run each role's molecule scenario against one local AWS emulator.

Scenarios use distinct deployment names, so two run side by side on the shared emulator.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from astrohub.emulator import Emulator
from astrohub.runner import REPO, offline_env

BASE_CONFIG = REPO / ".config" / "molecule" / "config.yml"


def run_scenario(role: str, endpoint: str, log_dir: Path) -> tuple[str, int, float]:
    """`molecule test` in roles/<role>; its output goes to build/molecule/<role>.log."""
    env = offline_env(endpoint)
    env["ASTROHUB_REPO"] = str(REPO)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    log = log_dir / f"{role}.log"
    molecule = [str(Path(sys.executable).with_name("molecule")), "--base-config", str(BASE_CONFIG)]
    start = time.monotonic()
    with log.open("w") as out:
        # reset: molecule keeps "prepared" state between runs; every run must start clean.
        for step in ("reset", "test"):
            proc = subprocess.run(
                [*molecule, step],
                cwd=REPO / "roles" / role,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if proc.returncode:
                break
    return role, proc.returncode, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    roles = argv if argv is not None else sys.argv[1:]
    scenarios = REPO.glob("roles/*/molecule/default/molecule.yml")
    roles = roles or sorted(p.parent.parent.parent.name for p in scenarios)
    missing = [r for r in roles if not (REPO / "roles" / r / "molecule/default").is_dir()]
    if missing:
        print(f"roles without a molecule scenario: {', '.join(missing)}", file=sys.stderr)
        return 1
    log_dir = REPO / "build" / "molecule"
    log_dir.mkdir(parents=True, exist_ok=True)
    with Emulator() as emulator, ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda r: run_scenario(r, emulator.url, log_dir), roles))
    failed = 0
    for role, code, seconds in results:
        status = "passed" if code == 0 else f"FAILED (see build/molecule/{role}.log)"
        print(f"molecule {role:12s} {status} in {seconds:.0f}s")
        failed += code != 0
    print(f"molecule: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
