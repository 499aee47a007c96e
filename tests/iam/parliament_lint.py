"""`make lint`: parliament over the CI node's IAM policies, rendered for the longest namespace
the schema accepts, against the reasoned baseline beside this file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from parliament import analyze_policy_string

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from iam_policies import LONGEST_NAMESPACE, render

BASELINE = Path(__file__).with_name("parliament-baseline.yaml")
NEVER_ACCEPTED = {"PRIVILEGE_ESCALATION"}


def matches(entry: dict[str, Any], policy: str, issue: str, detail: str) -> bool:
    return (
        entry["policy"] == policy
        and entry["issue"] == issue
        and issue not in NEVER_ACCEPTED
        and entry.get("detail", "") in detail
    )


def main() -> int:
    baseline: list[dict[str, Any]] = yaml.safe_load(BASELINE.read_text())
    used: set[int] = set()
    problems = []
    rendered = render(LONGEST_NAMESPACE)
    for policy, document in sorted(rendered.policies.items()):
        analysed = analyze_policy_string(json.dumps(document), include_community_auditors=True)
        for finding in analysed.findings:
            detail = json.dumps(finding.detail) if finding.detail else ""
            hits = [i for i, e in enumerate(baseline) if matches(e, policy, finding.issue, detail)]
            if hits:
                used.update(hits)
            else:
                problems.append(f"{policy}: {finding.issue} {detail} (not in {BASELINE.name})")
    for index, entry in enumerate(baseline):
        if index not in used:
            problems.append(f"{BASELINE.name}: no longer found: {entry['policy']} {entry['issue']}")
    for line in problems:
        print(f"parliament: {line}")
    print(f"parliament: {len(rendered.policies)} policies, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
