"""Strict validation of rendered Kubernetes objects and of kops manifests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import helm_python
import pytest
import yaml

from astrohub.chart import load_chart, render_chart
from astrohub.manifests import (
    ManifestError,
    kops_schemas,
    load_documents,
    schema_version,
    validate_kops,
    validate_kubernetes,
)
from layered_values import layered
from pinned import CHART as CHART_DIR
from pinned import KOPS_CRDS as CRD_DIR

DATA = Path(__file__).resolve().parents[1] / "data"
SMALL = yaml.safe_load((DATA / "values" / "small.yaml").read_text())
KOPS_DESIRED = (DATA / "kops" / "desired.yaml").read_text()
CLUSTER = "Cluster/astrohub.k8s.local"


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with load_chart(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def rendered(chart: helm_python.Chart) -> list[dict]:
    return load_documents(render_chart(chart, SMALL, release="jhub", namespace="jhub"))


@pytest.fixture
def kops_docs() -> list[dict]:
    return load_documents(KOPS_DESIRED)


def test_load_documents_skips_empty_ones() -> None:
    text = "---\n# only a comment\n---\na: 1\n---\n\n---\nb: 2\n"
    assert load_documents(text) == [{"a": 1}, {"b": 2}]


def test_load_documents_refuses_non_objects() -> None:
    with pytest.raises(ManifestError, match="document 1 is a list"):
        load_documents("a: 1\n---\n- x\n")


@pytest.mark.parametrize(
    ("asked", "shipped"), [("1.35.1", "1.35.0"), ("v1.37.2", "1.37.0"), ("1.30", "1.30.0")]
)
def test_a_patch_release_uses_its_minors_schemas(asked: str, shipped: str) -> None:
    assert schema_version(asked) == shipped


@pytest.mark.parametrize("version", ["1.20.3", "1.99.0", "latest"])
def test_versions_without_schemas_are_errors(version: str) -> None:
    with pytest.raises(ManifestError):
        schema_version(version)


def test_every_rendered_object_is_valid_for_the_cluster_version(rendered: list[dict]) -> None:
    assert len(rendered) > 20
    assert validate_kubernetes(rendered, "1.35.1") == []


def test_an_unknown_field_is_reported(rendered: list[dict]) -> None:
    hub = copy.deepcopy(next(d for d in rendered if d["kind"] == "Deployment"))
    hub["spec"]["replicass"] = 2
    assert validate_kubernetes([hub], "1.35.1") == [
        "Deployment/hub: spec: Additional properties are not allowed ('replicass' was unexpected)"
    ]


def test_a_wrong_type_deep_inside_is_reported_with_its_path(rendered: list[dict]) -> None:
    hub = copy.deepcopy(next(d for d in rendered if d["kind"] == "Deployment"))
    hub["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    (line,) = validate_kubernetes([hub], "1.35.1")
    port = "spec.template.spec.containers[0].ports[0].containerPort"
    assert line.startswith(f"Deployment/hub: {port}: 'http' is not of type 'integer'")


def test_an_unknown_kind_is_an_error() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert validate_kubernetes([widget, {"metadata": {"name": "x"}}], "1.35.1") == [
        "Widget/w: no schema for example.com/v1 Widget in Kubernetes 1.35.0 "
        "(unknown kind, or a custom resource)",
        "?/x: missing apiVersion and kind",
    ]


def test_an_enabled_httproute_is_reported_not_skipped(chart: helm_python.Chart) -> None:
    values = layered(SMALL, {"httpRoute": {"enabled": True}})
    docs = load_documents(render_chart(chart, values, release="jhub", namespace="jhub"))
    problems = validate_kubernetes(docs, "1.35.1")
    assert len(problems) == 1
    assert problems[0].startswith("HTTPRoute/")
    assert "gateway.networking.k8s.io/v1 HTTPRoute" in problems[0]


def test_the_kops_manifest_is_valid(kops_docs: list[dict]) -> None:
    assert [d["kind"] for d in kops_docs] == ["Cluster"] + ["InstanceGroup"] * 3
    assert validate_kops(kops_docs, CRD_DIR) == []


@pytest.mark.parametrize("name", ["cluster-get.yaml", "ig-get.yaml"])
def test_the_kops_shaped_outputs_are_valid_too(name: str) -> None:
    # The constructed kops outputs use only fields kops knows.
    assert validate_kops(load_documents((DATA / "kops" / name).read_text()), CRD_DIR) == []


def test_an_unknown_kops_field_is_named(kops_docs: list[dict]) -> None:
    kops_docs[0]["spec"]["netwrokID"] = kops_docs[0]["spec"].pop("networkID")
    kops_docs[3]["spec"]["instanceMetadata"]["httpTokenz"] = "required"
    assert validate_kops(kops_docs, CRD_DIR) == [
        f"{CLUSTER}: spec: Additional properties are not allowed ('netwrokID' was unexpected)",
        "InstanceGroup/users: spec.instanceMetadata: Additional properties are not allowed "
        "('httpTokenz' was unexpected)",
    ]


def test_a_wrong_kops_type_is_named(kops_docs: list[dict]) -> None:
    kops_docs[0]["spec"]["subnets"] = "x"
    kops_docs[2]["spec"]["maxSize"] = "two"
    assert validate_kops(kops_docs, CRD_DIR) == [
        f"{CLUSTER}: spec.subnets: 'x' is not of type 'array'",
        "InstanceGroup/core: spec.maxSize: 'two' is not of type 'integer'",
    ]


def test_wrong_api_version_kind_or_name(kops_docs: list[dict]) -> None:
    kops_docs[0]["apiVersion"] = "kops.k8s.io/v1alpha3"
    kops_docs[1]["kind"] = "Node"
    del kops_docs[2]["metadata"]["name"]
    assert validate_kops(kops_docs, CRD_DIR) == [
        f"{CLUSTER}: apiVersion: must be kops.k8s.io/v1alpha2, not 'kops.k8s.io/v1alpha3'",
        "Node/control-plane-us-east-1a: kind: must be one of Cluster, InstanceGroup, not 'Node'",
        "InstanceGroup/?: metadata.name: is required",
    ]


def test_strict_schemas_leave_maps_and_metadata_open() -> None:
    ig = kops_schemas(CRD_DIR)["InstanceGroup"]
    spec = ig["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["nodeLabels"]["additionalProperties"] == {"type": "string"}
    assert ig["properties"]["metadata"] == {"type": "object"}


def test_missing_crds_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"kops\.k8s\.io_clusters\.yaml"):
        kops_schemas(tmp_path)
