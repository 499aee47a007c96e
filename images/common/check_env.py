"""Check a Python environment against its image lock.

    python check_env.py <requirements.in> <requirements.txt>

Run by the image smoke tests (inside the built image) and by tests/images (inside
the locally installed copy of the environment), with the environment's own Python.

Checks:
- every package pinned in requirements.txt is installed at exactly the pinned version,
  and nothing else is installed (apart from the venv's own pip/setuptools/wheel);
- every package requested in requirements.in imports, and its installed version,
  and its module ``__version__`` where it has one, equal the pin.

Prints one line ``RESULT {json}`` and exits 0 if everything holds, 1 otherwise.
Standard library only (plus ``packaging`` when present, for version normalisation).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import re
import sys
import time
from pathlib import Path

# Installed by `python -m venv` / `uv venv --seed` without being in the lock.
VENV_TOOLS = {"pip", "setuptools", "wheel"}
# Top-level names that are not a package's API.
NOT_MODULES = {"test", "tests", "testing", "docs", "doc", "benchmarks", "examples", "scripts"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import Version

        return Version(a) == Version(b)
    except Exception:
        return a == b


def requested(path: Path) -> list[str]:
    names = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _NAME.match(line)
        if match:
            names.append(canonical(match.group(1)))
    return names


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def modules_of(dist: str, provided: dict[str, list[str]]) -> list[str]:
    mods = sorted(
        mod
        for mod, dists in provided.items()
        if dist in {canonical(d) for d in dists}
        and not mod.startswith("_")
        and mod not in NOT_MODULES
        and mod.isidentifier()
    )
    primary = dist.replace("-", "_")
    if primary in mods:
        return [primary]
    return mods or [primary]


def main() -> int:
    req_in, req_txt = Path(sys.argv[1]), Path(sys.argv[2])
    wanted = requested(req_in)
    locked = pins(req_txt)
    installed = {canonical(d.metadata["Name"]): d.version for d in md.distributions()}
    problems: list[str] = []

    for name, version in sorted(locked.items()):
        have = installed.get(name)
        if have is None:
            problems.append(f"{name}=={version} is locked but not installed")
        elif not same_version(have, version):
            problems.append(f"{name} is {have}, the lock pins {version}")
    for name in sorted(set(installed) - set(locked) - VENV_TOOLS):
        problems.append(f"{name}=={installed[name]} is installed but not in the lock")

    provided = md.packages_distributions()
    imported: dict[str, dict[str, object]] = {}
    for name in wanted:
        pin = locked.get(name)
        if pin is None:
            problems.append(f"{name} is requested in {req_in.name} but not pinned in the lock")
            continue
        entry: dict[str, object] = {"pin": pin, "installed": installed.get(name)}
        for mod in modules_of(name, provided):
            start = time.monotonic()
            try:
                module = importlib.import_module(mod)
            except BaseException as exc:  # a SystemExit on import is a failure too
                problems.append(f"import {mod} (for {name}) failed: {exc!r}")
                continue
            entry[f"import {mod}"] = round(time.monotonic() - start, 2)
            module_version = getattr(module, "__version__", None)
            if isinstance(module_version, str):
                entry[f"{mod}.__version__"] = module_version
                if not same_version(module_version, pin):
                    problems.append(f"{mod}.__version__ is {module_version}, the lock pins {pin}")
        imported[name] = entry

    result = {
        "python": sys.version.split()[0],
        "locked": len(locked),
        "installed": len(installed),
        "requested": imported,
        "problems": problems,
    }
    print("RESULT " + json.dumps(result, sort_keys=True))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
