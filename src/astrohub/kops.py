"""Whether kops must create, replace or leave the cluster: the kops_cluster role's idempotence.

The role reads the state store (``kops get cluster`` and ``kops get instancegroups``, ``-o
yaml``) and renders the desired manifest; :func:`decide` compares the two. Fields kops fills in
itself (subnet CIDRs, etcd requests, kubeDNS, ...) are not in our manifest and must not make
every run a "replace", so only what the manifest says is compared.

Deliberately free of the chart and validation libraries: it runs at deploy time, in a filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

API_VERSION = "kops.k8s.io/v1alpha2"
KINDS = ("Cluster", "InstanceGroup")

# kops' wordings for an absent cluster: `cluster not found "x"` (kops get cluster), the
# apimachinery NotFound `Cluster.kops.k8s.io "x" not found` (commands that load the cluster
# first, e.g. kops get instancegroups), and "No cluster found" / "no clusters found".
_NOT_FOUND = re.compile(
    r'cluster not found|cluster(?:\.kops\.k8s\.io)? "[^"]*" not found|no clusters? found',
    re.IGNORECASE,
)
# Written by the state store, never by us.
_SERVER_METADATA = ("creationTimestamp", "generation", "uid", "resourceVersion", "managedFields")
_MAX_VALUE = 120

Action = Literal["create", "replace", "none"]


class KopsError(Exception):
    """kops failed in a way that does not tell whether the cluster exists, or bad input."""


@dataclass(frozen=True)
class Decision:
    """What to do with the cluster's spec, and the human-readable reasons."""

    action: Action
    diff: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for Ansible (2.19 refuses to store arbitrary objects in facts)."""
        return {"action": self.action, "diff": list(self.diff)}


class _Absent:
    """Marks a key the current spec does not have."""

    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def decide(
    desired_yaml: str, current_stdout: str, current_rc: int, current_stderr: str = ""
) -> Decision:
    """Compare the desired manifest with what ``kops get ... -o yaml`` printed.

    ``current_stdout`` may hold the cluster and its instance groups in one or several
    multi-document strings joined by ``---``; other kinds (addons of ``kops get <name> -o
    yaml``) are ignored. A non-zero ``current_rc`` means "create" only when kops said the
    cluster is not found; any other failure raises :class:`KopsError` rather than guessing.
    """
    desired = _index(_documents(desired_yaml, "the desired manifest"), "the desired manifest")
    clusters = [key for key in desired if key[0] == "Cluster"]
    if len(clusters) != 1:
        raise KopsError(f"the desired manifest must hold one Cluster, it holds {len(clusters)}")

    if current_rc != 0:
        if _NOT_FOUND.search(current_stderr):
            return Decision("create", [f"{kind}/{name}: to be created" for kind, name in desired])
        detail = current_stderr.strip() or "(nothing on stderr)"
        raise KopsError(f"kops get failed with exit code {current_rc}: {detail}")

    current = _index(
        [
            doc
            for doc in _documents(current_stdout, "kops' output")
            if doc.get("apiVersion") == API_VERSION and doc.get("kind") in KINDS
        ],
        "kops' output",
    )
    current_clusters = [key for key in current if key[0] == "Cluster"]
    if current_clusters != clusters:
        # kops said it succeeded but printed another cluster, or none: do not guess.
        found = ", ".join(name for _, name in current_clusters) or "none"
        raise KopsError(
            f"kops get succeeded but printed cluster(s) {found}, expected {clusters[0][1]}"
        )

    diff: list[str] = []
    for key, doc in desired.items():
        label = f"{key[0]}/{key[1]}"
        if key not in current:
            diff.append(f"{label}: not in the state store (to be added)")
            continue
        for path, now, wanted in _differences(_normalize(doc), _normalize(current[key]), ""):
            diff.append(f"{label}: {path}: {_show(now)} -> {_show(wanted)}")
    # `kops replace -f` does not delete what the manifest leaves out; the role must act on
    # these lines itself (kops delete instancegroup), but they still make the state differ.
    diff.extend(
        f"{kind}/{name}: in the state store but not in the manifest"
        for kind, name in current
        if (kind, name) not in desired
    )
    return Decision("replace" if diff else "none", diff)


def _documents(text: str, what: str) -> list[dict[str, Any]]:
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise KopsError(f"{what} is not valid YAML: {exc}") from exc
    for doc in docs:
        if not isinstance(doc, dict):
            raise KopsError(f"{what} holds a {type(doc).__name__} where an object belongs")
    return docs


def _index(docs: list[dict[str, Any]], what: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Documents by (kind, metadata.name); only kops Clusters and InstanceGroups belong."""
    indexed: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        kind, metadata = doc.get("kind"), doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if doc.get("apiVersion") != API_VERSION or kind not in KINDS or not name:
            raise KopsError(
                f"{what} holds {doc.get('apiVersion')} {kind}/{name}; only named "
                f"{API_VERSION} {' and '.join(KINDS)} objects belong there"
            )
        if (kind, name) in indexed:
            raise KopsError(f"{what} holds {kind}/{name} twice")
        indexed[(kind, str(name))] = doc
    return indexed


def _normalize(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without what the state store writes: status and server metadata."""
    clean = {key: value for key, value in doc.items() if key != "status"}
    metadata = clean.get("metadata")
    if isinstance(metadata, Mapping):
        clean["metadata"] = {k: v for k, v in metadata.items() if k not in _SERVER_METADATA}
    return clean


def _differences(wanted: Any, now: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, current, desired) wherever the desired value is not contained in the current one.

    Mappings: only the desired keys are compared (kops' extra defaults are fine). Lists:
    element by element with the same rule when the lengths match, else the whole list
    differs. A desired null, empty string or empty list matches an absent key, since kops
    omits empty values from its output (e.g. ``sshKeyName: ""``).
    """
    if isinstance(wanted, Mapping):
        if not isinstance(now, Mapping):
            yield path or "(root)", now, wanted
            return
        for key, value in wanted.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in now:
                yield from _differences(value, now[key], sub)
            elif value not in (None, "", []):
                yield sub, _ABSENT, value
    elif isinstance(wanted, list):
        if not isinstance(now, list) or len(now) != len(wanted):
            yield path, now, wanted
            return
        for index, (item, current_item) in enumerate(zip(wanted, now, strict=True)):
            yield from _differences(item, current_item, f"{path}[{index}]")
    elif not _same_scalar(wanted, now):
        yield path, now, wanted


def _same_scalar(a: Any, b: Any) -> bool:
    """Equal and of the same kind: True is not 1, "20" is not 20."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
