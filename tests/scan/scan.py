"""The security scanners against a reasoned baseline (tests/scan/baseline.yaml).

    python tests/scan/scan.py dockerfiles              # hadolint + checkov on images/*/Dockerfile
    python tests/scan/scan.py kubernetes <manifest>... # checkov on rendered Kubernetes output

`make lint` runs the first; the integration tests run the second on what the playbooks rendered.
A finding that is not in the baseline fails, and so does a baseline entry for a scanned file
that no scanner reports any more (the baseline only ever lists what is true today). Every
baseline entry's check has a reason. The scanners run from their own virtualenv
(`make scan-venv`), offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from astrohub.unprivileged import REPO, lock_digest, runtime_dir

BASELINE = Path(__file__).with_name("baseline.yaml")
DOCKERFILES = sorted((REPO / "images").glob("*/Dockerfile"))
# checkov would otherwise fetch its guidelines and check for a newer version.
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}


class Finding(NamedTuple):
    scanner: str  # hadolint | checkov
    check: str  # DL3008, CKV_K8S_43, ...
    file: str  # the scanned file's name
    resource: str  # checkov's resource (Kind.namespace.name); hadolint: the file


def scan_venv() -> Path:
    return runtime_dir() / f"scan-venv-{lock_digest(REPO / 'requirements-scan.lock')}"


def _run(argv: list[str]) -> str:
    env = {**os.environ, **OFFLINE}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def hadolint(dockerfiles: list[Path]) -> set[Finding]:
    out = _run([str(scan_venv() / "bin" / "hadolint"), "-f", "json", *map(str, dockerfiles)])
    return {
        Finding("hadolint", item["code"], Path(item["file"]).parent.name + "/Dockerfile", "-")
        for item in json.loads(out)
    }


def checkov(files: list[Path], framework: str) -> set[Finding]:
    """checkov's failed checks on copies of ``files`` (named as given: resources keep names)."""
    with tempfile.TemporaryDirectory() as scratch:
        names = {}
        for path in files:
            name = f"{path.parent.name}/{path.name}" if framework == "dockerfile" else path.name
            names[name] = path
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(scratch) / name)
        argv = [str(scan_venv() / "bin" / "checkov"), "-d", scratch, "--framework", framework]
        out = _run([*argv, "-o", "json", "--quiet", "--skip-download", "--compact"])
    reports: Any = json.loads(out)
    findings = set()
    for report in reports if isinstance(reports, list) else [reports]:
        if not isinstance(report, dict):
            continue  # an empty run reports nothing
        for check in report["results"]["failed_checks"]:
            file = check["file_path"].lstrip("/")
            resource = "-" if framework == "dockerfile" else _resource(check)  # one per file
            findings.add(Finding("checkov", check["check_id"], file, resource))
    return findings


def _resource(check: dict[str, Any]) -> str:
    """checkov's Kubernetes resource, the same in every deployment namespace: ``Kind.name``."""
    kind, _namespace, name = check["resource"].split(".", 2)
    if check["check_id"] == "CKV2_K8S_6":
        name = name.split(".", 1)[0]  # Pod.<namespace>.<name>.<its labels>
    return f"{kind}.{name}"


def load_baseline() -> tuple[dict[str, str], set[Finding]]:
    """The reasons by check, and the accepted findings."""
    data = yaml.safe_load(BASELINE.read_text())
    reasons: dict[str, str] = data["reasons"]
    accepted = set()
    for entry in data["accepted"]:
        for resource in entry.get("resources", ["-"]):
            accepted.add(Finding(entry["scanner"], entry["check"], entry["file"], resource))
    return reasons, accepted


def compare(found: set[Finding], scanned: set[str]) -> list[str]:
    """Problems: findings not in the baseline, and baseline entries for scanned files that no
    scanner reports any more, and accepted checks without a reason."""
    reasons, accepted = load_baseline()
    problems = [
        f"new finding: {f.scanner} {f.check} in {f.file} ({f.resource})"
        for f in sorted(found - accepted)
    ]
    problems += [
        f"baseline entry no longer found (remove it): {f.scanner} {f.check} in {f.file} "
        f"({f.resource})"
        for f in sorted(accepted - found)
        if f.file in scanned
    ]
    problems += [
        f"{check}: accepted without a reason"
        for check in sorted({f.check for f in accepted} - set(reasons))
    ]
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["dockerfiles"]:
        found = hadolint(DOCKERFILES) | checkov(DOCKERFILES, "dockerfile")
        scanned = {f"{p.parent.name}/Dockerfile" for p in DOCKERFILES}
    elif argv[:1] == ["kubernetes"] and argv[1:]:
        files = [Path(p) for p in argv[1:]]
        found = checkov(files, "kubernetes")
        scanned = {p.name for p in files}
    else:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(found, scanned)
    for problem in problems:
        print(problem)
    accepted = len(found) - len([p for p in problems if p.startswith("new finding")])
    print(
        f"scan {argv[0]}: {len(found)} finding(s), {accepted} accepted, {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
