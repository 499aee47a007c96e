"""Each setting is declared once: src/astrohub/config_schema.yaml holds its default and type.

group_vars/all/ lists every setting with the schema's default (test_config.py); here every other
place that mentions a setting is checked against the schema: a role's defaults and argument
specs (directly, or through a role variable that only passes the setting on), and the molecule
inputs, which may set a setting only to something other than its default (a test input, not a
second declaration). A role default that only refers to itself is an error: it declares nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from astrohub import config

REPO = Path(__file__).resolve().parents[2]
# The argument-spec types a schema type may be declared as.
SPEC_TYPES = {
    "string": {"str", "path", "raw"},
    "integer": {"int"},
    "number": {"float", "int"},
    "boolean": {"bool"},
    "array": {"list"},
    "object": {"dict"},
}
PASS_ON = re.compile(r"^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$")


def _load(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def roles(root: Path = REPO) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each role's name, defaults and argument specs (all entry points)."""
    for role in sorted((root / "roles").iterdir()):
        specs = _load(role / "meta" / "argument_specs.yml").get("argument_specs") or {}
        yield role.name, _load(role / "defaults" / "main.yml"), specs


def drift(
    schema: Mapping[str, Any],
    roles: Iterator[tuple[str, dict[str, Any], dict[str, Any]]],
    inputs: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Every place that disagrees with the schema, one line each."""
    settings = schema["properties"]
    problems = []
    for role, defaults, specs in roles:
        # A role variable stands for a setting when it is one, or only passes one on.
        stands_for = {
            name: match.group(1) if (match := PASS_ON.match(str(value))) else name
            for name, value in defaults.items()
        }
        for name, value in defaults.items():
            if stands_for[name] == name and PASS_ON.match(str(value)):
                problems.append(f"roles/{role}/defaults: {name} only refers to itself")
            elif (
                name in settings
                and "{{" not in str(value)
                and value != settings[name].get("default")
            ):
                problems.append(
                    f"roles/{role}/defaults: {name} is {value!r}, the schema's default is "
                    f"{settings[name].get('default')!r}"
                )
        for entry, spec in specs.items():
            for name, option in (spec.get("options") or {}).items():
                setting = settings.get(stands_for.get(name, name))
                if setting is None:
                    continue
                types = setting.get("type")
                allowed = set().union(
                    *(SPEC_TYPES[t] for t in (types if isinstance(types, list) else [types]))
                )
                if option.get("type", "str") not in allowed:
                    problems.append(
                        f"roles/{role} {entry}: {name} is type {option.get('type', 'str')}, "
                        f"the schema's {stands_for.get(name, name)} is {types}"
                    )
                if "default" in option and option["default"] != setting.get("default"):
                    problems.append(
                        f"roles/{role} {entry}: {name} defaults to {option['default']!r}, the "
                        f"schema's {stands_for.get(name, name)} to {setting.get('default')!r}"
                    )
    for where, values in inputs.items():
        for name, value in values.items():
            if name in settings and value == settings[name].get("default"):
                problems.append(f"{where}: {name} restates the schema's default {value!r}")
    return problems


def repository_inputs() -> dict[str, dict[str, Any]]:
    """What the molecule scenarios set: the shared plan inputs, each scenario's inventory, and
    the variables of its converge playbook's plays and roles."""
    inputs = {".config/molecule/plan-vars.yml": _load(REPO / ".config/molecule/plan-vars.yml")}
    for scenario in sorted(REPO.glob("roles/*/molecule/*")):
        where = str(scenario.relative_to(REPO))
        inventory = _load(scenario / "molecule.yml").get("provisioner", {}).get("inventory", {})
        inputs[f"{where}/molecule.yml"] = inventory.get("group_vars", {}).get("all", {})
        converge = yaml.safe_load((scenario / "converge.yml").read_text()) or []
        for index, play in enumerate(converge):
            values = dict(play.get("vars") or {})
            for role in play.get("roles") or []:
                values.update(role.get("vars") or {} if isinstance(role, dict) else {})
            inputs[f"{where}/converge.yml play {index + 1}"] = values
    return inputs


def test_every_place_agrees_with_the_schema() -> None:
    assert drift(config.schema(), roles(), repository_inputs()) == []


SCHEMA = {
    "properties": {
        "ci_node_instance_type": {"type": "string", "default": "t3.small"},
        "network_vpc_cidr": {"type": "string", "default": "10.42.0.0/16"},
        "jupyterhub_cull_timeout": {"type": "integer", "default": 3600},
    }
}


@pytest.mark.parametrize(
    ("defaults", "options", "inputs", "problem"),
    [
        (
            {"ci_node_instance_type": "t3.micro"},
            {},
            {},
            "roles/r/defaults: ci_node_instance_type is 't3.micro', the schema's default is "
            "'t3.small'",
        ),
        (
            {},
            {"ci_node_instance_type": {"type": "str", "default": "t3.large"}},
            {},
            "roles/r main: ci_node_instance_type defaults to 't3.large', the schema's "
            "ci_node_instance_type to 't3.small'",
        ),
        (
            {"r_cull": "{{ jupyterhub_cull_timeout }}"},
            {"r_cull": {"type": "str"}},
            {},
            "roles/r main: r_cull is type str, the schema's jupyterhub_cull_timeout is integer",
        ),
        (
            {"r_cull": "{{ jupyterhub_cull_timeout }}"},
            {"r_cull": {"type": "int", "default": 600}},
            {},
            "roles/r main: r_cull defaults to 600, the schema's jupyterhub_cull_timeout to 3600",
        ),
        (
            {"r_version": "{{ r_version }}"},
            {},
            {},
            "roles/r/defaults: r_version only refers to itself",
        ),
        (
            {},
            {},
            {"plan-vars.yml": {"network_vpc_cidr": "10.42.0.0/16"}},
            "plan-vars.yml: network_vpc_cidr restates the schema's default '10.42.0.0/16'",
        ),
    ],
)
def test_each_kind_of_drift_is_found(
    defaults: dict, options: dict, inputs: dict, problem: str
) -> None:
    found = drift(SCHEMA, iter([("r", defaults, {"main": {"options": options}})]), inputs)
    assert found == [problem]
