"""Bad configurations stop the real playbook in preflight, before any AWS call.

Runs that stop at their first task use Ansible's own strategy, which starts faster."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from astrohub_local.emulator import Emulator
from astrohub_local.runner import PlaybookResult
from bad_configs import BAD_CONFIGS, PRIVATE_KEY_MARKER, BadConfig

PLAYBOOKS = ("deploy.yml", "teardown.yml")


@pytest.fixture(scope="module")
def preflight_runs(
    aws_emulator: Emulator, playbook, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, PlaybookResult]:
    """Run deploy.yml once per bad configuration (a few at a time), counting AWS calls."""
    private_key = tmp_path_factory.mktemp("keys") / "id_ed25519"
    private_key.write_text(PRIVATE_KEY_MARKER + "\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    aws_emulator.reset()

    def run(bad: BadConfig) -> PlaybookResult:
        extra = {
            k: (str(private_key) if v == "{private_key}" else v) for k, v in bad.settings.items()
        }
        return playbook("deploy.yml", extra_vars=extra, strategy="linear")

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip([b.id for b in BAD_CONFIGS], pool.map(run, BAD_CONFIGS), strict=True))
    results["_calls"] = aws_emulator.calls()  # type: ignore[assignment]
    return results


def test_at_least_twenty_bad_configurations_are_covered() -> None:
    assert len({b.id for b in BAD_CONFIGS}) >= 20


@pytest.mark.parametrize("bad", BAD_CONFIGS, ids=lambda b: b.id)
def test_bad_configuration_stops_in_preflight(
    bad: BadConfig, preflight_runs: dict[str, PlaybookResult]
) -> None:
    result = preflight_runs[bad.id]
    assert result.returncode != 0
    assert len(result.failures) == 1, result.failures
    failure = result.failures[0]
    assert "Validate every setting against the astrohub configuration schema" in failure
    assert "nothing was changed" in failure
    assert bad.message in failure, failure


def test_no_aws_call_was_made_by_any_bad_run(preflight_runs: dict[str, PlaybookResult]) -> None:
    assert preflight_runs["_calls"] == {}


def test_secret_of_wrong_type_is_hidden(preflight_runs: dict[str, PlaybookResult]) -> None:
    assert "987654321" not in preflight_runs["secret-wrong-type-hidden"].output


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
