"""Validate an astrohub deployment's settings before anything touches AWS.

The preflight action plugin (astrohub.platform.preflight) collects the operator's settings
(group_vars, inventory and extra vars, minus Ansible's own) and calls :func:`check`. Every
problem becomes one line that names the setting and says what is expected. Secret values are
never echoed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from packaging.version import Version

# The public HST/TESS/Kepler buckets are free to read only from this region.
ARCHIVE_REGION = "us-east-1"

MIN_PYTHON = (3, 11)
MIN_ANSIBLE_CORE = (2, 19)


SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
)

LOOPBACK_URL = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/?$")
BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# Settings that were renamed, with why; the preflight names the new key instead of "unknown".
RENAMED = {
    "namespace": (
        "deployment_namespace",
        "'namespace' is a Jinja2 built-in that Ansible reserves; defining it hides namespace() "
        "from every template",
    ),
}

# Variables Ansible itself defines for every host; they are not the operator's settings.
ANSIBLE_MAGIC_VARS = frozenset(
    {
        "environment",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "omit",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
        "vars",
    }
)


@dataclass
class Report:
    """What the preflight found: errors stop the run, warnings are printed."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@cache
def schema() -> dict[str, Any]:
    """The configuration schema, loaded once."""
    text = resources.files("astrohub").joinpath("config_schema.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def defaults() -> dict[str, Any]:
    """Every setting's default, as the schema states it."""
    return {k: v["default"] for k, v in schema()["properties"].items() if "default" in v}


def operator_settings(host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the variables an operator sets; drop the ones Ansible defines for every host."""
    return {
        k: v
        for k, v in host_vars.items()
        if not k.startswith(("ansible_", "molecule_")) and k not in ANSIBLE_MAGIC_VARS
    }


def _property_schema(path: Iterable[Any]) -> dict[str, Any]:
    """The schema of the top-level setting an error is about."""
    path = list(path)
    props = schema()["properties"]
    if path and path[0] in props:
        return props[path[0]]
    if path and isinstance(path[0], str) and path[0].startswith("vault_"):
        return schema()["patternProperties"]["^vault_[a-z0-9_]+$"]
    return {}


def _show(value: Any, secret: bool) -> str:
    if secret:
        return "<hidden>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _name(path: Iterable[Any]) -> str:
    parts = list(path)
    name = str(parts[0]) if parts else "(settings)"
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def _schema_errors(settings: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema())
    known = list(schema()["properties"])
    messages: list[str] = []
    for error in sorted(validator.iter_errors(dict(settings)), key=lambda e: list(e.path)):
        if error.validator == "additionalProperties" and not error.path:
            for key in sorted(set(settings) - set(known)):
                if key.startswith("vault_"):
                    continue
                if key in RENAMED:
                    new, why = RENAMED[key]
                    messages.append(f"{key}: renamed to {new} ({why}); set {new} instead")
                    continue
                hint = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                messages.append(
                    f"{key}: unknown setting{suggestion}; the settings are listed, with their "
                    "defaults, in group_vars/all/main.yml"
                )
            continue
        prop = _property_schema(error.path)
        expected = " ".join(str(prop.get("x-expected", error.message)).split())
        value = _show(error.instance, bool(prop.get("x-secret")))
        messages.append(f"{_name(error.path)}: expected {expected}; got {value}")
    return messages


def _cidr(value: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return None


@cache
def aws_regions() -> frozenset[str]:
    """The commercial AWS regions: botocore's endpoint data, current with each botocore release.

    botocore is imported on first use: imported with this module it cost about 9 CPU-seconds
    per playbook run (measured; Ansible loads the preflight plugin, and so this module, in
    many of its processes), where the check itself takes a third of a second once.
    """
    import botocore.session

    return frozenset(botocore.session.Session().get_available_regions("ec2"))


def _format_errors(settings: Mapping[str, Any]) -> list[str]:
    """Checks of our own formats (x-format), which JSON Schema does not know."""
    messages: list[str] = []
    for key, prop in schema()["properties"].items():
        if key not in settings:
            continue
        value = settings[key]
        values: list[tuple[str, Any, dict[str, Any]]] = []
        if "x-format" in prop:
            values.append((key, value, prop))
        if isinstance(value, list) and "x-format" in prop.get("items", {}):
            values += [(f"{key}[{i}]", v, prop["items"]) for i, v in enumerate(value)]
        for name, item, spec in values:
            if not isinstance(item, str):
                continue  # the type error is already reported
            problem = _format_problem(spec, item)
            if problem:
                expected = " ".join(str(prop.get("x-expected", "")).split())
                messages.append(f"{name}: {problem}; expected {expected}")
    return messages


def _format_problem(spec: dict[str, Any], value: str) -> str | None:
    kind = spec["x-format"]
    if kind == "ipv4-cidr":
        net = _cidr(value)
        if net is None:
            return f"{value!r} is not an IPv4 CIDR block with its host bits zero"
        low, high = spec.get("x-min-prefix", 0), spec.get("x-max-prefix", 32)
        if net.prefixlen == 0:
            return None  # reported with its own message by _rule_errors
        if not low <= net.prefixlen <= high:
            return f"{value!r} has prefix /{net.prefixlen}, outside /{low} to /{high}"
    elif kind == "aws-region" and value not in aws_regions():
        close = difflib.get_close_matches(value, sorted(aws_regions()), n=1)
        return f"{value!r} is not a known AWS region" + (
            f" (did you mean '{close[0]}'?)" if close else ""
        )
    elif kind == "endpoint-url" and value and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        return f"{value!r} is not an http(s) URL"
    elif kind == "s3-bucket-name" and not BUCKET_NAME.match(value):
        return f"{value!r} is not a valid S3 bucket name"
    elif kind == "ssh-public-key-file":
        return _ssh_key_problem(value)
    return None


def _ssh_key_problem(value: str) -> str | None:
    path = Path(value).expanduser()
    if not path.is_file():
        return f"no file at {str(path)!r}"
    first = path.read_text("utf-8", errors="replace").strip().split()
    if len(first) < 2 or first[0] not in SSH_KEY_TYPES:
        return f"{str(path)!r} is not an OpenSSH public key (is it the private key?)"
    return None


def _rule_errors(settings: Mapping[str, Any]) -> list[str]:
    """Rules that tie settings together; each names the setting to change."""
    merged = {**defaults(), **settings}
    messages: list[str] = []

    local = merged.get("aws_endpoint_must_be_loopback") is True
    messages += _auth_errors(merged, local)

    provider = merged.get("auth_provider")
    if provider in ("github", "mast"):
        for part in ("client_id", "client_secret"):
            key = f"{provider}_{part}"
            if not merged.get(key):
                messages.append(
                    f"{key}: required when auth_provider is '{provider}'; put "
                    f"vault_{key} in group_vars/all/vault.yml (ansible-vault encrypted, see "
                    "vault.yml.example)"
                )

    for i, cidr in enumerate(merged.get("ci_node_ssh_allowed_cidrs") or []):
        net = _cidr(cidr) if isinstance(cidr, str) else None
        if net is not None and net.prefixlen == 0:
            messages.append(
                f"ci_node_ssh_allowed_cidrs[{i}]: 0.0.0.0/0 would open SSH to the whole "
                "internet; list your own networks instead"
            )

    endpoint = merged.get("aws_endpoint_url") or ""
    if merged.get("aws_endpoint_must_be_loopback") is True and not LOOPBACK_URL.match(endpoint):
        messages.append(
            "aws_endpoint_url: this inventory runs only against the local AWS emulator, so it "
            "must be a loopback URL (http://127.0.0.1:PORT); export AWS_ENDPOINT_URL, or use "
            "'make demo', which starts the emulator and sets it"
        )

    limit = merged.get("budget_monthly_usd")
    if isinstance(limit, (int, float)) and limit > 0 and not merged.get("budget_alert_emails"):
        messages.append(
            "budget_alert_emails: required when budget_monthly_usd is set; list who gets the "
            "budget's alerts (e-mail addresses)"
        )

    vpc = _cidr(merged.get("network_vpc_cidr") or "")
    count = merged.get("network_az_count")
    if vpc is not None and isinstance(count, int) and 1 <= count <= 6 and vpc.prefixlen > 20:
        messages.append(
            "network_vpc_cidr: too small for the subnets of network_az_count zones; "
            "use a /16 to /20 block"
        )
    return messages


def _auth_errors(merged: Mapping[str, Any], local: bool) -> list[str]:
    """No open doors: someone must be allowed, nobody by accident, never plain HTTP by accident."""
    messages: list[str] = []
    provider = merged.get("auth_provider")
    if provider in ("dummy", "pam") and not local:
        messages.append(
            f"auth_provider: '{provider}' lets anyone with a password in and is for the local "
            "inventory only; use 'github' or 'mast'"
        )
    allow_all = merged.get("allow_all") is True
    rules = {
        "github": ("github_allowed_organizations", "github_allowed_users"),
        "mast": ("mast_allowed_users", "mast_allowed_email_domains"),
    }.get(str(provider), ())
    if rules and not allow_all and not any(merged.get(key) for key in rules):
        messages.append(
            f"{rules[0]}: nobody could log in: with auth_provider '{provider}' set "
            f"{' or '.join(rules)} (or allow_all: true to let every account in)"
        )
    if allow_all and not local and merged.get("allow_public_signup") is not True:
        messages.append(
            "allow_all: lets every GitHub or MAST account use this public hub; set "
            "allow_public_signup: true as well if that is intended"
        )
    mode = merged.get("https_mode")
    if mode == "none" and merged.get("allow_insecure_http") is not True:
        messages.append(
            "https_mode: 'none' serves logins and tokens over plain HTTP; choose letsencrypt, "
            "acm or secret, or set allow_insecure_http: true if that is intended"
        )
    needs = {
        "letsencrypt": "https_letsencrypt_contact_email",
        "acm": "https_acm_certificate_arn",
        "secret": "https_tls_secret_name",
    }
    if mode in needs and not merged.get(needs[str(mode)]):
        messages.append(f"{needs[str(mode)]}: required when https_mode is '{mode}'")
    if provider in ("github", "mast") and not merged.get("hub_host"):
        messages.append(
            "hub_host: required: the host name users open, e.g. jupyter.example.org (the "
            "OAuth callback is https://<hub_host>/hub/oauth_callback)"
        )
    if merged.get("mast_token_in_notebooks") is True and provider != "mast":
        messages.append("mast_token_in_notebooks: only applies with auth_provider 'mast'")
    return messages


def _warnings(settings: Mapping[str, Any]) -> list[str]:
    merged = {**defaults(), **settings}
    warnings: list[str] = []
    region = merged.get("aws_region")
    if isinstance(region, str) and region != ARCHIVE_REGION and region in aws_regions():
        warnings.append(
            f"aws_region is {region}: the public HST, TESS and Kepler data (s3://stpubdata) "
            f"are free to read only from {ARCHIVE_REGION}; reading them from {region} is "
            "slower and costs data-transfer fees"
        )
    return warnings


def _runtime_errors(python: tuple[int, ...], ansible_core: tuple[int, ...] | None) -> list[str]:
    messages = []
    if python[:2] < MIN_PYTHON:
        messages.append(
            "python: the controller runs Python {}.{}; astrohub needs {}.{} or newer".format(
                *python[:2], *MIN_PYTHON
            )
        )
    if ansible_core is not None and ansible_core[:2] < MIN_ANSIBLE_CORE:
        messages.append(
            "ansible: ansible-core {}.{} is too old; astrohub needs {}.{} or newer (the "
            "'ansible' package pinned in pyproject.toml)".format(
                *ansible_core[:2], *MIN_ANSIBLE_CORE
            )
        )
    return messages


def check(
    settings: Mapping[str, Any],
    *,
    python: tuple[int, ...] | None = None,
    ansible_core: tuple[int, ...] | None = None,
) -> Report:
    """Validate a deployment's settings. Nothing here calls AWS."""
    report = Report()
    report.errors += _runtime_errors(python or tuple(sys.version_info), ansible_core)
    report.errors += _schema_errors(settings)
    report.errors += _format_errors(settings)
    report.errors += _rule_errors(settings)
    report.warnings += _warnings(settings)
    return report


def parse_version(text: str) -> tuple[int, ...]:
    """'2.19.14' -> (2, 19, 14): the release numbers of a PEP 440 version (packaging)."""
    return Version(text).release
