"""kops idempotence: create when absent, replace on a real difference, never on kops' defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from astrohub.kops import Decision, KopsError, decide

DATA = Path(__file__).resolve().parents[1] / "data" / "kops"
DESIRED = (DATA / "desired.yaml").read_text()
CLUSTER_GET = (DATA / "cluster-get.yaml").read_text()
IG_GET = (DATA / "ig-get.yaml").read_text()
# What the role passes: both `kops get` outputs joined into one multi-document string.
CURRENT = CLUSTER_GET + "\n---\n" + IG_GET


def _dump(docs: list[dict]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _edit(text: str, kind: str, name: str, edit) -> str:
    docs = [d for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            edit(doc)
    return _dump(docs)


def test_identical_manifest_needs_nothing() -> None:
    assert decide(DESIRED, DESIRED, 0) == Decision("none", [])


def test_kops_filled_defaults_alone_need_nothing() -> None:
    decision = decide(DESIRED, CURRENT, 0)
    assert decision.action == "none", decision.diff


def test_changed_max_size_is_replaced_with_a_diff_line() -> None:
    def bump(doc: dict) -> None:
        doc["spec"]["maxSize"] = 20

    decision = decide(_edit(DESIRED, "InstanceGroup", "users", bump), CURRENT, 0)
    assert decision.action == "replace"
    assert decision.diff == ["InstanceGroup/users: spec.maxSize: 10 -> 20"]


def test_changed_nested_list_element_names_its_path() -> None:
    def other_subnet(doc: dict) -> None:
        doc["spec"]["subnets"][2]["id"] = "subnet-0ffffffffffffffff"

    decision = decide(_edit(DESIRED, "Cluster", "astrohub.k8s.local", other_subnet), CURRENT, 0)
    assert decision.diff == [
        'Cluster/astrohub.k8s.local: spec.subnets[2].id: "subnet-0aa2222222222222b" '
        '-> "subnet-0ffffffffffffffff"'
    ]


def test_a_list_of_another_length_differs_as_a_whole() -> None:
    def no_taint(doc: dict) -> None:
        doc["spec"]["taints"] = ["a=b:NoSchedule", "c=d:NoExecute"]

    decision = decide(_edit(DESIRED, "InstanceGroup", "users", no_taint), CURRENT, 0)
    assert decision.action == "replace"
    assert decision.diff[0].startswith("InstanceGroup/users: spec.taints: [")


def test_a_new_desired_field_is_a_difference() -> None:
    def spot(doc: dict) -> None:
        doc["spec"]["mixedInstancesPolicy"] = {"onDemandBase": 0}

    decision = decide(_edit(DESIRED, "InstanceGroup", "users", spot), CURRENT, 0)
    assert decision.diff == [
        'InstanceGroup/users: spec.mixedInstancesPolicy: (absent) -> {"onDemandBase": 0}'
    ]


def test_bool_is_not_an_int() -> None:
    def flip(doc: dict) -> None:
        doc["spec"]["minSize"] = True

    decision = decide(_edit(DESIRED, "InstanceGroup", "core", flip), CURRENT, 0)
    assert decision.diff == ["InstanceGroup/core: spec.minSize: 1 -> true"]


def test_missing_cluster_is_created() -> None:
    decision = decide(DESIRED, "", 1, 'Error: cluster not found "astrohub.k8s.local"\n')
    assert decision.action == "create"
    assert decision.diff[0] == "Cluster/astrohub.k8s.local: to be created"
    assert len(decision.diff) == 4


@pytest.mark.parametrize(
    "stderr",
    ["cluster not found", 'Error: Cluster.kops.k8s.io "astrohub.k8s.local" not found'],
)
def test_kops_wordings_of_an_absent_cluster(stderr: str) -> None:
    assert decide(DESIRED, "", 1, stderr).action == "create"


@pytest.mark.parametrize(
    "stderr",
    [
        "Error: error reading state store: AccessDenied: Access Denied\n\tstatus code: 403",
        "",
        'Error: instancegroup "users" not found',
    ],
)
def test_any_other_failure_raises(stderr: str) -> None:
    with pytest.raises(KopsError, match="exit code 1"):
        decide(DESIRED, "", 1, stderr)


def test_an_instance_group_only_in_the_state_store_is_replaced_and_listed() -> None:
    docs = [d for d in yaml.safe_load_all(IG_GET) if d]
    gpu = {**docs[-1], "metadata": {**docs[-1]["metadata"], "name": "gpu"}}
    decision = decide(DESIRED, CLUSTER_GET + "\n---\n" + _dump([*docs, gpu]), 0)
    assert decision == Decision(
        "replace", ["InstanceGroup/gpu: in the state store but not in the manifest"]
    )


def test_an_instance_group_only_in_the_manifest_is_replaced() -> None:
    docs = [d for d in yaml.safe_load_all(IG_GET) if d and d["metadata"]["name"] != "core"]
    decision = decide(DESIRED, CLUSTER_GET + "\n---\n" + _dump(docs), 0)
    assert decision == Decision(
        "replace", ["InstanceGroup/core: not in the state store (to be added)"]
    )


def test_server_fields_and_addons_are_ignored() -> None:
    addon = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra-addon"}}

    def stamp(doc: dict) -> None:
        doc["metadata"].update(generation=3, uid="a-b-c", resourceVersion="7")
        doc["status"] = {"phase": "Ready"}

    desired = _edit(DESIRED, "InstanceGroup", "core", stamp)
    assert decide(desired, CURRENT + "\n---\n" + _dump([addon]), 0).action == "none"


def test_success_without_the_cluster_is_not_guessed() -> None:
    with pytest.raises(KopsError, match=r"expected astrohub\.k8s\.local"):
        decide(DESIRED, IG_GET, 0)


def test_desired_needs_exactly_one_cluster() -> None:
    with pytest.raises(KopsError, match="one Cluster"):
        decide(IG_GET, CURRENT, 0)


def test_as_dict_is_plain_data() -> None:
    assert decide(DESIRED, CURRENT, 0).as_dict() == {"action": "none", "diff": []}


def test_empty_string_matches_a_key_kops_omits() -> None:
    head = "apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata: {name: a.k8s.local}\n"
    desired = head + "spec: {sshKeyName: '', x: 1}\n"
    current = head + "spec: {x: 1}\n"
    assert decide(desired, current, 0).action == "none"
