"""Bad configurations stop the real playbook in preflight, before any AWS call.

Runs that stop at their first task use Ansible's own strategy, which starts faster."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from astrohub_local.emulator import Emulator
from astrohub_local.runner import LOCAL_INVENTORY
from bad_configs import BAD_CONFIGS, PRIVATE_KEY_MARKER, BadConfig

PLAYBOOKS = ("deploy.yml", "teardown.yml")


@pytest.fixture(scope="module")
def preflight_runs(
    aws_emulator: Emulator, playbook, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One deploy.yml run whose inventory holds a host per bad configuration (the local
    inventory's groups and group_vars, the bad settings as that host's variables): the
    preflight checks every host's settings, so each configuration gets its own verdict from
    the real playbook in one Ansible process. Each host's failures, and the AWS calls made."""
    private_key = tmp_path_factory.mktemp("keys") / "id_ed25519"
    private_key.write_text(PRIVATE_KEY_MARKER + "\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    inventory = tmp_path_factory.mktemp("bad-inventory")
    (inventory / "group_vars").symlink_to(LOCAL_INVENTORY / "group_vars")
    hosts = {
        f"bad-{bad.id}": {
            "ansible_connection": "local",
            **{
                k: (str(private_key) if v == "{private_key}" else v)
                for k, v in bad.settings.items()
            },
        }
        for bad in BAD_CONFIGS
    }
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {"emulator": {"hosts": hosts}}}})
    )
    aws_emulator.reset()
    result = playbook("deploy.yml", inventory=inventory / "hosts.yml", strategy="linear")
    failures: dict[str, list[str]] = {bad.id: [] for bad in BAD_CONFIGS}
    for failure in result.failures:
        host, _, message = failure.partition(": ")
        failures[host.removeprefix("bad-")].append(message)
    return {"result": result, "failures": failures, "calls": aws_emulator.calls()}


def test_at_least_forty_five_bad_configurations_are_covered() -> None:
    assert len({b.id for b in BAD_CONFIGS}) >= 45


@pytest.mark.parametrize("bad", BAD_CONFIGS, ids=lambda b: b.id)
def test_bad_configuration_stops_in_preflight(
    bad: BadConfig, preflight_runs: dict[str, Any]
) -> None:
    assert preflight_runs["result"].returncode != 0
    failures = preflight_runs["failures"][bad.id]
    assert len(failures) == 1, failures
    failure = failures[0]
    assert "Validate every setting against the astrohub configuration schema" in failure
    assert "nothing was changed" in failure
    assert bad.message in failure, failure


def test_no_aws_call_was_made_by_any_bad_run(preflight_runs: dict[str, Any]) -> None:
    assert preflight_runs["calls"] == {}


def test_secret_of_wrong_type_is_hidden(preflight_runs: dict[str, Any]) -> None:
    assert "987654321" not in preflight_runs["result"].output


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_every_playbook_starts_with_the_preflight(name: str, playbook, clean_emulator) -> None:
    result = playbook(
        name,
        extra_vars={"deployment_namespace": "Nope"},
        tags=["all-fixtures"],
        strategy="linear",
    )
    assert result.returncode != 0
    assert "deployment_namespace: expected a DNS label" in "\n".join(result.failures)
    assert clean_emulator.calls() == {}


def test_local_inventory_refuses_a_missing_emulator(playbook, clean_emulator) -> None:
    """With no emulator endpoint the demo inventory must never fall through to real AWS."""
    result = playbook("deploy.yml", extra_vars={"aws_endpoint_url": ""}, strategy="linear")
    assert result.returncode != 0
    assert "must be a loopback URL" in "\n".join(result.failures)
    assert clean_emulator.calls() == {}
