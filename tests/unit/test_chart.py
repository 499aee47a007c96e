"""The z2jh chart offline: loading (dir and .tgz), values composition and schema, rendering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import helm_python
import pytest
import yaml

from astrohub.chart import (
    ChartError,
    app_version,
    chart_values_schema,
    chart_version,
    effective_values,
    load_chart,
    read_values_files,
    render_chart,
    unpinned_secrets,
    validate_values,
)
from astrohub.manifests import load_documents
from layered_values import layered
from pinned import CHART as CHART_DIR
from pinned import OLD_CHART_TGZ as CHART_TGZ

VALUES = Path(__file__).resolve().parents[1] / "data" / "values"
SMALL = yaml.safe_load((VALUES / "small.yaml").read_text())
PINNED = yaml.safe_load((VALUES / "pinned-secrets.yaml").read_text())


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with load_chart(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def schema() -> dict:
    return chart_values_schema(CHART_DIR)


def _render(chart: helm_python.Chart, *layers: dict) -> str:
    return render_chart(chart, layered(*layers), release="jhub", namespace="jhub")


def test_missing_chart_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ChartError, match=r"chart not found at .*nowhere"):
        load_chart(tmp_path / "nowhere")


def test_unloadable_chart_is_a_chart_error(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\n")
    with pytest.raises(ChartError, match=str(tmp_path)):
        load_chart(tmp_path)


def test_versions_of_the_source_tree(chart: helm_python.Chart) -> None:
    assert chart_version(chart) == "0.0.1-set.by.chartpress"
    assert app_version(chart) == "5.5.0"


def test_schema_of_a_source_tree_is_the_yaml_one(schema: dict) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "hub" in schema["properties"]


def test_schema_of_a_package_is_read_from_the_archive() -> None:
    schema = chart_values_schema(CHART_TGZ)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "singleuser" in schema["properties"]


def test_values_files_follow_helm_for_several_files() -> None:
    # pkg/cli/values/options.go: maps merge key by key, anything else (lists, null) replaces.
    base = {"hub": {"a": 1, "b": {"c": 2}}, "list": [1, 2], "gone": 1}
    over = {"hub": {"b": {"d": 3}}, "list": [3], "gone": None}
    merged = layered(base, over, {"hub": {"a": 9}})
    assert merged == {"hub": {"a": 9, "b": {"c": 2, "d": 3}}, "list": [3], "gone": None}


def test_a_values_file_that_is_no_mapping_is_named(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "bad.yaml").write_text("a: [\n")
    with pytest.raises(ChartError, match=r"list\.yaml holds a list, not a values mapping"):
        read_values_files([tmp_path / "list.yaml"])
    with pytest.raises(ChartError, match=r"bad\.yaml is not YAML"):
        read_values_files([tmp_path / "bad.yaml"])


def test_effective_values_are_the_defaults_coalesced_with_ours(chart: helm_python.Chart) -> None:
    values = effective_values(chart, layered(SMALL, {"singleuser": {"image": None}}))
    assert values["singleuser"]["defaultUrl"] == "/lab"
    assert values["proxy"]["service"]["type"] == chart.values["proxy"]["service"]["type"]
    assert "image" not in values["singleuser"]  # a null removes a default, as in Helm


def test_our_values_pass_the_chart_schema(chart: helm_python.Chart, schema: dict) -> None:
    assert validate_values(effective_values(chart, layered(SMALL, PINNED)), schema) == []


@pytest.mark.parametrize(
    ("layer", "line"),
    [
        (
            {"singleuser": {"storage": {"tyep": "static"}}},
            "singleuser.storage: Additional properties are not allowed ('tyep' was unexpected)",
        ),
        ({"hub": {"confg": {}}}, "hub: Additional properties are not allowed ('confg' was"),
        ({"singleuser": {"defaultUrl": 5}}, "singleuser.defaultUrl: 5 is not of type 'string'"),
        ({"cull": {"timeout": "soon"}}, "cull.timeout: 'soon' is not of type 'integer'"),
    ],
)
def test_schema_errors_name_the_path(
    chart: helm_python.Chart, schema: dict, layer: dict, line: str
) -> None:
    errors = validate_values(effective_values(chart, layered(SMALL, layer)), schema)
    assert len(errors) == 1
    assert errors[0].startswith(line)


def test_render_is_multi_document_yaml_with_sources(chart: helm_python.Chart) -> None:
    text = _render(chart, SMALL, PINNED)
    assert text.startswith("---\n# Source: jupyterhub/templates/")
    assert "NOTES.txt" not in text
    assert "\r" not in text
    docs = load_documents(text)
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert {"hub", "proxy"} <= deployments
    assert text.count("# Source: ") == len(docs)


def test_render_with_pinned_secrets_is_byte_identical(chart: helm_python.Chart) -> None:
    assert unpinned_secrets(layered(SMALL, PINNED)) == []
    assert _render(chart, SMALL, PINNED) == _render(chart, SMALL, PINNED)


def test_unpinned_secrets_make_renders_differ(chart: helm_python.Chart) -> None:
    # Without a cluster to look the old Secret up in, z2jh draws new secrets every render.
    assert unpinned_secrets(SMALL) == [
        "hub.config.ConfigurableHTTPProxy.auth_token",
        "hub.config.JupyterHub.cookie_secret",
        "hub.config.CryptKeeper.keys",
    ]
    assert _render(chart, SMALL) != _render(chart, SMALL)


def test_services_need_their_tokens_pinned_too() -> None:
    values = layered(PINNED, {"hub": {"services": {"a": {"api_token": "x"}, "b": {}}}})
    assert unpinned_secrets(values) == ["hub.services.b.api_token"]


def test_render_applies_the_chart_defaults_itself(chart: helm_python.Chart) -> None:
    ours = _render(chart, SMALL, PINNED)
    assert ours == render_chart(
        chart, effective_values(chart, layered(SMALL, PINNED)), release="jhub", namespace="jhub"
    )


def test_packaged_chart_loads_and_renders() -> None:
    with load_chart(CHART_TGZ) as old:
        assert (chart_version(old), app_version(old)) == ("3.3.8", "4.1.6")
        docs = load_documents(_render(old, SMALL, PINNED))
        assert "hub" in {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
        # A package carries values.schema.json, which Helm enforces while rendering.
        with pytest.raises(ChartError, match="confg"):
            _render(old, {"hub": {"confg": {}}})
