"""Strict, offline validation of rendered manifests: Kubernetes objects and kops specs.

Kubernetes objects are checked with kubernetes-validate's strict schemas (unknown fields are
errors), kops' Cluster and InstanceGroup against the kops CRDs' OpenAPI schemas made strict
the same way. Every problem becomes one line, ``<Kind>/<name>: ...``, so a plan can list them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions

KOPS_API_VERSION = "kops.k8s.io/v1alpha2"
KOPS_CRD_FILES = {
    "Cluster": "kops.k8s.io_clusters.yaml",
    "InstanceGroup": "kops.k8s.io_instancegroups.yaml",
}

# The C loader parses the 370 kB Cluster CRD ten times faster; same results as SafeLoader.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Schema keywords whose values are schemas (or maps/lists of them); nothing else is walked, so
# defaults and examples that happen to contain "properties" are left alone.
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_VALUES = ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not")


class ManifestError(ValueError):
    """A manifest or schema could not be read (as opposed to a manifest that is invalid).

    A ValueError, so callers that treat bad input alike (the Ansible modules) catch it too.
    """


def load_documents(text: str) -> list[dict[str, Any]]:
    """The mappings of a multi-document YAML string; empty and comment-only documents skipped."""
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ManifestError(f"manifest is not valid YAML: {exc}") from exc
    result = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ManifestError(
                f"document {index} is a {type(document).__name__}, not a mapping (an object)"
            )
        result.append(document)
    return result


def dotted_path(parts: Iterable[Any]) -> str:
    """``['spec', 'containers', 0, 'image']`` -> ``spec.containers[0].image``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def object_label(document: Mapping[str, Any]) -> str:
    """``<Kind>/<metadata.name>``, with ``?`` for whatever is missing."""
    metadata = document.get("metadata")
    name = None
    if isinstance(metadata, Mapping):
        name = metadata.get("name") or metadata.get("generateName")
    return f"{document.get('kind') or '?'}/{name or '?'}"


def schema_version(kubernetes_version: str) -> str:
    """The kubernetes-validate schema set for a cluster version: the same major.minor.

    kubernetes-validate ships one set per minor (``1.35.0``), so ``1.35.1`` maps to
    ``1.35.0``. A minor it lacks is an error: its own fallback silently takes an older minor
    (and fails with an IndexError below 1.25).
    """
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", kubernetes_version.strip())
    if match is None:
        raise ManifestError(f"{kubernetes_version!r} is not a Kubernetes version like 1.35.1")
    shipped = sorted(set(all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))
    minor = f"{match[1]}.{match[2]}."
    same_minor = [version for version in shipped if version.startswith(minor)]
    if not same_minor:
        raise ManifestError(
            f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}; "
            f"it ships {shipped[0]} to {shipped[-1]}"
        )
    return same_minor[-1]


def validate_kubernetes(docs: Iterable[Mapping[str, Any]], kubernetes_version: str) -> list[str]:
    """Strict schema errors of Kubernetes objects, one line each: ``<Kind>/<name>: <problem>``.

    A kind without a schema (a CRD's object, e.g. gateway.networking.k8s.io HTTPRoute) is
    reported, not skipped: the plan must not pass something it could not check.
    kubernetes-validate stops at an object's first error, so each object yields at most one.
    """
    version = schema_version(kubernetes_version)
    problems = []
    for doc in docs:
        label = object_label(doc)
        missing = [key for key in ("apiVersion", "kind") if not doc.get(key)]
        if missing:
            problems.append(f"{label}: missing {' and '.join(missing)}")
            continue
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = dotted_path(exc.absolute_path)
            problems.append(f"{label}: {where}: {one_line(exc.message)}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(
                f"{label}: no schema for {doc['apiVersion']} {doc['kind']} in Kubernetes "
                f"{version} (unknown kind, or a custom resource)"
            )
        except kubernetes_validate.InvalidSchemaError as exc:
            problems.append(f"{label}: {exc.message}")
    return problems


def kops_schemas(crd_dir: Path) -> dict[str, dict[str, Any]]:
    """Kind -> the CRD's v1alpha2 openAPIV3Schema, made strict (see :func:`strict_schema`)."""
    crd_dir = Path(crd_dir)
    schemas = {}
    for kind, filename in KOPS_CRD_FILES.items():
        path = crd_dir / filename
        try:
            (crd,) = load_documents(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ManifestError(f"kops CRD {path} could not be read: {exc}") from exc
        try:
            defined = crd["spec"]["names"]["kind"]
            versions = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2"]
            schema = versions[0]["schema"]["openAPIV3Schema"]
        except (KeyError, TypeError, IndexError) as exc:
            raise ManifestError(f"{path} has no v1alpha2 openAPIV3Schema") from exc
        if defined != kind:
            raise ManifestError(f"{path} defines {defined}, not {kind}")
        schemas[kind] = strict_schema(schema)
    return schemas


def strict_schema(schema: Any) -> Any:
    """A copy of an OpenAPI schema in which objects with declared properties allow no others.

    Objects that already say what extra keys may hold (``additionalProperties``: maps such as
    nodeLabels) or that keep unknown fields (``x-kubernetes-preserve-unknown-fields``) are left
    as they are, and so are free-form objects without ``properties`` (kops' ``metadata``).
    """
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            strict[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            strict[key] = strict_schema(value)
        else:
            strict[key] = value
    if (
        "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


def validate_kops(docs: Iterable[Mapping[str, Any]], crd_dir: Path) -> list[str]:
    """Errors of a kops manifest, one line each: ``<Kind>/<name>: <path>: <message>``.

    Every document must be a kops.k8s.io/v1alpha2 Cluster or InstanceGroup with a name.
    """
    schemas = kops_schemas(crd_dir)
    validators = {kind: jsonschema.Draft7Validator(schema) for kind, schema in schemas.items()}
    problems = []
    for doc in docs:
        label = object_label(doc)
        if doc.get("apiVersion") != KOPS_API_VERSION:
            problems.append(
                f"{label}: apiVersion: must be {KOPS_API_VERSION}, not {doc.get('apiVersion')!r}"
            )
            continue
        validator = validators.get(str(doc.get("kind")))
        if validator is None:
            problems.append(
                f"{label}: kind: must be one of {', '.join(sorted(schemas))}, "
                f"not {doc.get('kind')!r}"
            )
            continue
        metadata = doc.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            problems.append(f"{label}: metadata.name: is required")
        errors = sorted(
            (dotted_path(error.absolute_path), one_line(error.message))
            for error in validator.iter_errors(doc)
        )
        problems.extend(f"{label}: {where}: {message}" for where, message in errors)
    return problems


def one_line(message: str, limit: int = 300) -> str:
    """Keep a message on one short line (oneOf errors repeat the whole offending value)."""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"
