"""The scanner gate (tests/scan/scan.py): a new finding fails, the baseline holds only what is
true today, every accepted check has its reason. Real checkov on a manifest written here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scan import scan

PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "miner", "namespace": "astrohub"},
    "spec": {
        "containers": [
            {
                "name": "miner",
                "image": "example.org/miner:1.0",
                "securityContext": {"privileged": True},
            }
        ]
    },
}


def test_a_new_finding_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "added.yaml"
    manifest.write_text(yaml.safe_dump(PRIVILEGED_POD))
    assert scan.main(["kubernetes", str(manifest)]) == 1
    out = capsys.readouterr().out
    # CKV_K8S_16: "Container should not be privileged".
    assert "new finding: checkov CKV_K8S_16 in added.yaml (Pod.miner)" in out


def test_stale_entries_and_entries_without_a_reason_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(
        yaml.safe_dump(
            {
                "reasons": {"CKV_K8S_43": "tags"},
                "accepted": [
                    {"scanner": "checkov", "check": "CKV_K8S_43", "file": "a.yaml",
                     "resources": ["Pod.one", "Pod.gone"]},
                    {"scanner": "checkov", "check": "CKV_K8S_8", "file": "b.yaml",
                     "resources": ["Pod.two"]},
                ],
            }
        )
    )  # fmt: skip
    monkeypatch.setattr(scan, "BASELINE", baseline)
    found = {
        scan.Finding("checkov", "CKV_K8S_43", "a.yaml", "Pod.one"),
        scan.Finding("checkov", "CKV_K8S_8", "b.yaml", "Pod.two"),
    }
    assert scan.compare(found, {"a.yaml", "b.yaml"}) == [
        "baseline entry no longer found (remove it): checkov CKV_K8S_43 in a.yaml (Pod.gone)",
        "CKV_K8S_8: accepted without a reason",
    ]
    # An entry for a file this run did not scan is not stale.
    assert scan.compare(found - {scan.Finding("checkov", "CKV_K8S_43", "a.yaml", "Pod.one")},
                        {"b.yaml"}) == ["CKV_K8S_8: accepted without a reason"]  # fmt: skip


def test_every_accepted_check_has_a_reason() -> None:
    reasons, accepted = scan.load_baseline()
    assert {f.check for f in accepted} <= set(reasons)
    assert set(reasons) <= {f.check for f in accepted}, "a reason for a check no longer accepted"
    assert all(len(reason) > 30 for reason in reasons.values())
