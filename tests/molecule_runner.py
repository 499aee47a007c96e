"""`make molecule`: run each role's molecule scenario against one local AWS emulator.

Scenarios use distinct deployment names, so two run side by side on the shared emulator, which
goes with everything in it when the run ends: a scenario's cleanup step is there only to run the
role's own teardown. Their scratch directories are fixed paths under /tmp, removed here before
and after the run, so a second `make molecule` on the same machine (another checkout) waits for
the first instead of deleting its files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from astrohub_local.emulator import Emulator
from astrohub_local.runner import REPO, offline_env

BASE_CONFIG = REPO / ".config" / "molecule" / "config.yml"
# The scenarios scratch under fixed /tmp paths; this lock is what keeps two runs apart.
MACHINE_LOCK = Path("/tmp/astrohub-molecule.lock")
# What the scenarios' playbooks write outside the emulator (plans, caches, fake releases).
SCRATCH_GLOB = "astrohub-molecule-*"


def remove_scratch(tmp: Path = Path("/tmp")) -> None:
    for path in tmp.glob(SCRATCH_GLOB):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def one_run_per_machine(lock_path: Path = MACHINE_LOCK) -> Iterator[None]:
    """Hold an exclusive lock for the whole run; say who holds it while waiting."""
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another run"
            print(f"molecule: waiting for {holder} to finish", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()} in {REPO}\n")
        lock.flush()
        yield


def run_scenario(role: str, endpoint: str, log_dir: Path) -> tuple[str, int, float]:
    """`molecule test` in roles/<role>; its output goes to build/molecule/<role>.log."""
    env = offline_env(endpoint)
    env["ASTROHUB_REPO"] = str(REPO)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    # Molecule keeps its state ("prepared", "converged") there between runs: a fresh one each
    # run starts the scenario clean (what `molecule reset` would do, without a second start).
    state = log_dir / f"{role}.state"
    shutil.rmtree(state, ignore_errors=True)
    env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(state)
    log = log_dir / f"{role}.log"
    molecule = [str(Path(sys.executable).with_name("molecule")), "--base-config", str(BASE_CONFIG)]
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            [*molecule, "test"],
            cwd=REPO / "roles" / role,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
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
    with one_run_per_machine():
        remove_scratch()
        try:
            with Emulator() as emulator, ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(lambda r: run_scenario(r, emulator.url, log_dir), roles))
        finally:
            remove_scratch()
    failed = 0
    for role, code, seconds in results:
        status = "passed" if code == 0 else f"FAILED (see build/molecule/{role}.log)"
        print(f"molecule {role:12s} {status} in {seconds:.0f}s")
        failed += code != 0
    print(f"molecule: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
