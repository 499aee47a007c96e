"""What plan mode writes: rendered manifests with install-time values redacted.

A chart rendered for a new install generates its own secrets (z2jh: the proxy token, the
cookie secret, the CryptKeeper keys) and annotates deployments with checksums of them, so two
renders of the same values differ. The written plan replaces those values with fixed markers:
the plan then changes only when our inputs change (a re-run reports no change), and no
credential lands in build/. Validation runs on the unredacted manifests before this.
"""

from __future__ import annotations

from typing import Any

import yaml

REDACTED = "<redacted: set at install time>"


def _redact(doc: dict[str, Any]) -> bool:
    changed = False
    if doc.get("kind") == "Secret":
        for field in ("data", "stringData"):
            values = doc.get(field) or {}
            for key in values:
                values[key] = REDACTED
                changed = True
    for meta in (
        doc.get("metadata") or {},
        (doc.get("spec") or {}).get("template", {}).get("metadata") or {},
    ):
        annotations = meta.get("annotations") or {}
        for key in annotations:
            if key.startswith("checksum/"):
                annotations[key] = REDACTED
                changed = True
    return changed


def redact_generated(rendered: str) -> str:
    """The rendered manifests with generated secrets and their checksums replaced."""
    chunks = rendered.split("\n---\n")
    out = []
    for chunk in chunks:
        doc = yaml.safe_load(chunk)
        if not isinstance(doc, dict) or not _redact(doc):
            out.append(chunk)
            continue
        comments = [line for line in chunk.splitlines() if line.startswith("#")]
        body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).rstrip("\n")
        out.append("\n".join([*comments, body]))
    return "\n---\n".join(out)
