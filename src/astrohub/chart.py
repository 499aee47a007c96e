"""The JupyterHub Helm chart, offline: load it, compose and check values, render manifests.

Rendering uses helm-python (Helm's own Go engine through a C library), so no helm binary and
no cluster are needed. Two things Helm would not do for us:

* z2jh 4.4.0's source tree ships its values schema as ``values.schema.yaml``; Helm reads only
  ``values.schema.json``, so :func:`validate_values` checks the merged values with jsonschema.
* Rendering is not repeatable by itself: with no cluster to ``lookup`` the existing hub Secret
  in, the chart generates fresh random secrets each time. :func:`unpinned_secrets` names the
  values that must be set for a render to be byte-identical (a stable plan diff).
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import helm_python
import jsonschema
import yaml

from astrohub.manifests import dotted_path, one_line

CHART_NAME = "jupyterhub"

# Values the z2jh chart fills with random strings when they are unset (and no cluster is there
# to look the previous ones up in); see templates/hub/_helpers-passwords.tpl.
GENERATED_SECRETS = (
    "hub.config.ConfigurableHTTPProxy.auth_token",
    "hub.config.JupyterHub.cookie_secret",
    "hub.config.CryptKeeper.keys",
)

_SCHEMA_FILES = ("values.schema.json", "values.schema.yaml")
# Helm splits a template's output into documents at lines starting with ---.
_DOC_SEPARATOR = re.compile(r"^---[^\n]*$", re.MULTILINE)
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


class ChartError(Exception):
    """The chart could not be found, read or rendered."""


def load_chart(path: Path) -> helm_python.Chart:
    """Load a chart directory or packaged ``.tgz``."""
    path = Path(path)
    if not path.exists():
        raise ChartError(f"chart not found at {path}: the deploy fetches the pinned chart")
    try:
        return helm_python.Chart.load(path)
    except helm_python.HelmError as exc:
        raise ChartError(f"chart at {path} could not be loaded: {exc}") from exc


def chart_version(chart: helm_python.Chart) -> str:
    """The chart's own version (a source tree says ``0.0.1-set.by.chartpress``)."""
    return chart.version


def app_version(chart: helm_python.Chart) -> str | None:
    """The application (JupyterHub) version the chart declares, if any."""
    value = chart.metadata.get("appVersion")
    return None if value is None else str(value)


def chart_values_schema(path: Path) -> dict[str, Any]:
    """The chart's values schema: values.schema.json if present, else values.schema.yaml."""
    path = Path(path)
    if path.is_dir():
        for name in _SCHEMA_FILES:
            if (path / name).is_file():
                return _parse_schema(name, (path / name).read_text(encoding="utf-8"), path)
    elif path.is_file():
        found = _schemas_in_archive(path)
        for name in _SCHEMA_FILES:
            if name in found:
                return _parse_schema(name, found[name], path)
    else:
        raise ChartError(f"chart not found at {path}: the deploy fetches the pinned chart")
    raise ChartError(f"chart at {path} has no {' or '.join(_SCHEMA_FILES)}")


def _schemas_in_archive(archive: Path) -> dict[str, str]:
    """Schema files at the top of the chart in a .tgz (``<chart>/values.schema.*``).

    Members are read, never extracted, so a hostile archive cannot write anywhere.
    """
    found: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if member.isfile() and len(parts) == 2 and parts[1] in _SCHEMA_FILES:
                    data = tar.extractfile(member)
                    if data is not None:
                        found[parts[1]] = data.read().decode("utf-8")
    except (OSError, tarfile.TarError) as exc:
        raise ChartError(f"chart archive {archive} could not be read: {exc}") from exc
    return found


def _parse_schema(name: str, text: str, where: Path) -> dict[str, Any]:
    try:
        schema = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ChartError(f"{name} of the chart at {where} does not parse: {exc}") from exc
    if not isinstance(schema, dict):
        raise ChartError(f"{name} of the chart at {where} is not a mapping")
    return schema


def read_values_files(paths: Iterable[Path]) -> dict[str, Any]:
    """The values of ``helm -f <path> -f <path> ...``: the files read in order, later ones win.

    helm-python renders from one values mapping and has no values-files argument, so this is
    Helm's own rule for several ``-f`` files (``mergeMaps`` in ``pkg/cli/values/options.go``):
    a mapping merges into a mapping key by key, anything else replaces. The chart's defaults
    are coalesced later by Helm itself (:func:`effective_values`, :func:`render_chart`).
    """
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ChartError(f"{path} is not YAML: {one_line(str(exc))}") from exc
        if not isinstance(values, Mapping):
            raise ChartError(f"{path} holds a {type(values).__name__}, not a values mapping")
        merged = _merge_maps(merged, values)
    return merged


def _merge_maps(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def effective_values(chart: helm_python.Chart, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a release would run with: the chart's defaults coalesced with ``values``.

    Helm's own coalescing (via helm-python), so a ``None`` deletes a default exactly as
    ``helm install`` would. This, not our values alone, is what the schema must accept.
    """
    return chart.merge_values(dict(values))


def validate_values(values: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Schema errors of ``values``, one line each: ``<dotted.path>: <message>``.

    The validator follows the schema's ``$schema`` (z2jh declares draft-07), Draft 7 if absent.
    """
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    lines = {
        f"{dotted_path(error.absolute_path)}: {one_line(error.message)}"
        for error in validator.iter_errors(values)
    }
    return sorted(lines)


def unpinned_secrets(values: Mapping[str, Any]) -> list[str]:
    """Dotted paths of chart-generated secrets ``values`` leaves unset.

    Each one makes a render differ from the last (a new random value), so a repeatable render
    needs this list empty. ``proxy.secretToken`` and ``hub.cookieSecret`` are the chart's older
    spellings and count as set.
    """
    hub = _mapping(values.get("hub"))
    config = _mapping(hub.get("config"))
    legacy = {
        "hub.config.ConfigurableHTTPProxy.auth_token": _mapping(values.get("proxy")).get(
            "secretToken"
        ),
        "hub.config.JupyterHub.cookie_secret": hub.get("cookieSecret"),
    }
    missing = []
    for path in GENERATED_SECRETS:
        _, _, section, key = path.split(".")
        if not _mapping(config.get(section)).get(key) and not legacy.get(path):
            missing.append(path)
    for name, service in sorted(_mapping(hub.get("services")).items()):
        service = _mapping(service)
        if not (service.get("api_token") or service.get("apiToken")):
            missing.append(f"hub.services.{name}.api_token")
    return missing


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def render_chart(
    chart: helm_python.Chart, values: Mapping[str, Any], *, release: str, namespace: str
) -> str:
    """Render the chart to one multi-document YAML string, like ``helm template``.

    Each document is preceded by ``# Source: <template path>``. Documents are ordered by
    template path (then position in the template), not by Helm's install order, so the text is
    a stable artifact to diff. NOTES.txt and templates that render to nothing are left out;
    line endings are normalised to LF (one z2jh template is stored with CRLF).

    Helm applies the chart's default values itself; pass only ours (or
    :func:`effective_values`, which renders the same). Byte-identical output across renders
    also needs :func:`unpinned_secrets` to be empty.
    """
    try:
        rendered = chart.render(dict(values), name=release, namespace=namespace, is_install=True)
    except helm_python.HelmError as exc:
        raise ChartError(f"chart {chart.name} {chart.version} did not render: {exc}") from exc
    documents = []
    for template in sorted(rendered):
        if PurePosixPath(template).name == "NOTES.txt":
            continue
        text = rendered[template].replace("\r\n", "\n")
        for document in _DOC_SEPARATOR.split(text):
            # Drop blank lines around the document, but keep the first line's indentation.
            document = _LEADING_BLANK_LINES.sub("", document).rstrip()
            if document:
                documents.append(f"---\n# Source: {template}\n{document}\n")
    return "".join(documents)


# ---------------------------------------------------------------------------------------------
# The pinned chart: fetched by version from its repository into a cache, or found in an
# offline cache (a directory holding charts/<name>-<version>.tgz or the unpacked chart).


def cached_chart(cache_dir: Path, version: str, name: str = CHART_NAME) -> Path:
    """Where the fetched chart lives in the cache: ``<cache_dir>/<name>-<version>.tgz``."""
    return Path(cache_dir) / f"{name}-{version}.tgz"


def find_chart(
    version: str,
    *,
    cache_dir: Path,
    offline_cache: Path | None = None,
    name: str = CHART_NAME,
) -> tuple[Path, str] | None:
    """The pinned chart and where it came from, without any network; None if absent.

    A fetched chart counts only while it still has the digest recorded when it was verified
    against the repository's index."""
    archive = cached_chart(cache_dir, version, name)
    recorded = archive.with_name(archive.name + ".sha256")
    if (
        archive.is_file()
        and recorded.is_file()
        and helm_python.digest(archive) == "sha256:" + recorded.read_text().strip()
    ):
        return archive, f"cache {archive} (sha256 verified when fetched)"
    if offline_cache:
        charts_dir = Path(offline_cache) / "charts"
        for candidate in (charts_dir / f"{name}-{version}.tgz", charts_dir / f"{name}-{version}"):
            if candidate.exists():
                return candidate, f"offline cache {candidate}"
    return None


def fetch_chart(
    repo_url: str, version: str, *, cache_dir: Path, name: str = CHART_NAME
) -> tuple[Path, str]:
    """Fetch ``name`` ``version`` from the Helm repository at ``repo_url`` with Helm's own
    client into the cache, checked against the sha256 the repository's index lists for it.

    Raises ChartError, naming the repository, when it cannot be reached, lacks the version, or
    serves an archive whose digest differs from its index."""
    try:
        index = helm_python.repo_index(repo_url)
        entries = index.get("entries", {}).get(name, [])
        entry = next((e for e in entries if str(e.get("version")) == version), None)
        if entry is None:
            raise ChartError(f"{repo_url} lists no {name} chart version {version}")
        expected = str(entry.get("digest") or "")
        if not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise ChartError(f"{repo_url} lists no sha256 digest for {name} {version}")
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
            helm_python.pull(name, repo_url=repo_url, version=version, destination=tmp)
            downloaded = Path(tmp) / f"{name}-{version}.tgz"
            got = helm_python.digest(downloaded)
            if got != f"sha256:{expected}":
                raise ChartError(
                    f"{name}-{version}.tgz from {repo_url} has {got}, but the repository's "
                    f"index lists sha256:{expected}; nothing was cached"
                )
            archive = cached_chart(cache_dir, version, name)
            shutil.move(downloaded, archive)
    except helm_python.HelmError as exc:
        raise ChartError(f"{name} {version} could not be fetched from {repo_url}: {exc}") from exc
    archive.with_name(archive.name + ".sha256").write_text(expected + "\n")
    return archive, f"{repo_url} (sha256 {expected} as the repository's index lists it)"


def missing_chart_message(
    repo_url: str, version: str, *, cache_dir: Path, reason: str, name: str = CHART_NAME
) -> str:
    """What to do when the pinned chart is neither cached nor reachable: one message."""
    return (
        f"the {name} chart {version} is not in {cache_dir} and could not be fetched ({reason}). "
        f"Nothing was changed. On a machine that can reach {repo_url}, run "
        f"`helm pull {name} --repo {repo_url} --version {version}` and put "
        f"{name}-{version}.tgz into <dir>/charts/, then set ASTROHUB_FIXTURES=<dir> "
        f"(an offline cache), or give this machine access to the repository."
    )
