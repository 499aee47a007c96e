"""The configuration contract: schema, group_vars and role defaults agree; bad input is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from astrohub import config
from bad_configs import BAD_CONFIGS, PRIVATE_KEY_MARKER, BadConfig

REPO = Path(__file__).resolve().parents[2]
GROUP_VARS = {
    key: value
    for path in sorted((REPO / "group_vars/all").glob("*.yml"))
    for key, value in (yaml.safe_load(path.read_text()) or {}).items()
}


@pytest.fixture
def site_settings(tmp_path: Path) -> dict[str, Any]:
    """What an operator must add to the defaults: SSH networks, a key, the OAuth secrets."""
    key = tmp_path / "id_ed25519.pub"
    key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPJVxl9gLksw2jxnFNet2dq8PxzbG6CN6OplCk1qfMem x\n"
    )
    return {
        **GROUP_VARS,
        "state_store_bucket": "astrohub-kops-state",  # templated by Ansible in real runs
        "ci_node_ssh_allowed_cidrs": ["203.0.113.0/24"],
        "ci_node_ssh_public_key_file": str(key),
        "github_client_id": "Iv1.abc",
        "github_client_secret": "not-a-real-secret",
        "kops_sha256": "0" * 64,
        "hub_host": "jupyter.example.org",
        "https_letsencrypt_contact_email": "ops@example.org",
        "github_allowed_organizations": ["spacetelescope"],
    }


def with_private_key(settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    private = tmp_path / "id_ed25519"
    private.write_text(PRIVATE_KEY_MARKER + "\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    return {k: (str(private) if v == "{private_key}" else v) for k, v in settings.items()}


def test_group_vars_list_every_setting_with_the_schema_default() -> None:
    defaults = config.defaults()
    assert set(GROUP_VARS) == set(defaults), "group_vars/all/*.yml and the schema differ"
    for key, value in defaults.items():
        assert GROUP_VARS[key] == value or "{{" in str(GROUP_VARS[key]), key


def test_role_defaults_agree_with_the_schema() -> None:
    defaults = config.defaults()
    checked = 0
    for path in REPO.glob("roles/*/defaults/main.yml"):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key in defaults and "{{" not in str(value):
                assert value == defaults[key], f"{path}: {key}"
                checked += 1
    assert checked >= 8


def test_site_settings_pass(site_settings: dict[str, Any]) -> None:
    report = config.check(site_settings)
    assert report.errors == []
    assert report.warnings == []


def test_other_region_warns_about_archive_egress(site_settings: dict[str, Any]) -> None:
    report = config.check({**site_settings, "aws_region": "eu-west-1"})
    assert report.ok
    assert "free to read only from us-east-1" in report.warnings[0]


@pytest.mark.parametrize("bad", BAD_CONFIGS, ids=lambda b: b.id)
def test_bad_setting_is_named_with_what_is_expected(
    bad: BadConfig, site_settings: dict[str, Any], tmp_path: Path
) -> None:
    settings = {**site_settings, **with_private_key(bad.settings, tmp_path)}
    if bad.id == "endpoint-not-loopback":
        settings["aws_endpoint_must_be_loopback"] = True
    if bad.id == "mast-secret-empty":
        settings["auth_provider"] = "mast"
    report = config.check(settings)
    assert any(bad.message in error for error in report.errors), report.errors


def test_secret_values_are_never_echoed(site_settings: dict[str, Any]) -> None:
    report = config.check({**site_settings, "github_client_secret": ["sup3r-s3cret"]})
    assert report.errors
    assert "sup3r-s3cret" not in "\n".join(report.errors)


def test_every_problem_is_reported_at_once(site_settings: dict[str, Any]) -> None:
    report = config.check(
        {**site_settings, "deployment_namespace": "X", "network_az_count": 9, "typo": 1}
    )
    assert len(report.errors) == 3


def test_old_runtimes_are_refused(site_settings: dict[str, Any]) -> None:
    report = config.check(site_settings, python=(3, 9, 1), ansible_core=(2, 15, 0))
    assert any(e.startswith("python: the controller runs Python 3.9") for e in report.errors)
    assert any(e.startswith("ansible: ansible-core 2.15 is too old") for e in report.errors)


def test_ansible_magic_variables_are_not_settings() -> None:
    host_vars = {
        "inventory_hostname": "x",
        "ansible_connection": "local",
        "deployment_namespace": "a",
    }
    assert config.operator_settings(host_vars) == {"deployment_namespace": "a"}


@pytest.mark.parametrize(("text", "version"), [("2.19.14", (2, 19, 14)), ("2.20.0rc1", (2, 20, 0))])
def test_parse_version(text: str, version: tuple[int, ...]) -> None:
    assert config.parse_version(text) == version


def test_a_real_deploy_without_a_recorded_kops_digest_is_accepted(
    site_settings: dict[str, Any],
) -> None:
    """cluster_tools then verifies kops against the checksum file of its release."""
    assert config.check({**site_settings, "kops_sha256": "", "plan_only": False}).ok
    report = config.check({**site_settings, "kops_sha256": "not-a-digest"})
    assert any(e.startswith("kops_sha256:") for e in report.errors)
