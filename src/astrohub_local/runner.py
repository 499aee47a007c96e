"""Run astrohub's playbooks against an AWS endpoint and read their results.

One place builds the environment (emulator endpoint, no proxy escape, no real credentials)
and the command line, for `make demo`, `make bench` and the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_mitogen
import yaml

REPO = Path(__file__).resolve().parents[2]
LOCAL_INVENTORY = REPO / "inventories" / "local"
# A closed local port: anything that tries to leave loopback through a proxy fails at once.
DEAD_PROXY = "http://127.0.0.1:9"
# Everything but loopback goes to the dead proxy. Lower-case names win over upper-case ones in
# urllib/requests, so both spellings are set.
LOOPBACK_ONLY = {
    "HTTPS_PROXY": DEAD_PROXY,
    "HTTP_PROXY": DEAD_PROXY,
    "https_proxy": DEAD_PROXY,
    "http_proxy": DEAD_PROXY,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
# Where Mitogen's strategy plugins are (offline_env selects mitogen_linear).
MITOGEN_STRATEGIES = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
MITOGEN_SITE = Path(__file__).parent / "mitogen_site"
# What the playbooks declare they need (collections/requirements.yml), and where the `ansible`
# package installed its collections.
COLLECTION_REQUIREMENTS = REPO / "collections" / "requirements.yml"
INSTALLED_COLLECTIONS = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"
# The local OIDC provider's client secret: made once per process, so that repeated runs
# render the same values (and a second run changes nothing), never stored.
DEMO_CLIENT_SECRET = secrets.token_urlsafe(24)


def declared_collections(
    requirements: Path = COLLECTION_REQUIREMENTS, installed: Path = INSTALLED_COLLECTIONS
) -> list[str]:
    """The collections requirements.yml names, with what each depends on (galaxy.yml of a local
    collection, MANIFEST.json of an installed one), except the local ones themselves."""
    wanted: list[str] = []
    for entry in yaml.safe_load(requirements.read_text())["collections"]:
        if entry.get("type") == "dir":
            galaxy = yaml.safe_load((REPO / entry["name"] / "galaxy.yml").read_text())
            wanted += galaxy.get("dependencies") or {}
        else:
            wanted.append(entry["name"])
    found: list[str] = []
    while wanted:
        name = wanted.pop(0)
        if name in found:
            continue
        found.append(name)
        manifest = json.loads((installed / name.replace(".", "/") / "MANIFEST.json").read_text())
        wanted += manifest["collection_info"]["dependencies"] or {}
    return sorted(found)


def declared_collections_path(installed: Path = INSTALLED_COLLECTIONS) -> Path:
    """A collections directory that shows Ansible only the declared collections (links into the
    installed ones). Every module call under Mitogen lists the visible collections, and the
    `ansible` package installs about a hundred: with five, a deploy takes about a fifth less
    CPU. It also proves requirements.yml complete."""
    names = declared_collections(installed=installed)
    digest = hashlib.sha256(json.dumps([str(installed), names]).encode()).hexdigest()[:12]
    root = REPO / "build" / f"collections-{digest}"
    for name in names:
        link = root / "ansible_collections" / name.replace(".", "/")
        if link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        # Made under a name of its own, then renamed over: runs that start side by side (in
        # other processes or threads) never see a half-made link or trip over each other's.
        tmp = link.with_name(f".{link.name}.{secrets.token_hex(8)}")
        tmp.symlink_to(installed / name.replace(".", "/"), target_is_directory=True)
        tmp.replace(link)
    return root


PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy")


def index_env() -> dict[str, str]:
    """The environment for uv: the package index is reachable, as in `make test`.

    The tests point every proxy variable at a dead port so that nothing reaches AWS; uv
    talks only to the package index (and its cache), so it gets the environment without
    that dead proxy. A real proxy an operator set is kept.
    """
    env = dict(os.environ)
    for name in PROXY_VARS:
        if env.get(name) == DEAD_PROXY:
            del env[name]
    return env


def offline_env(endpoint: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for talking to the emulator at `endpoint` and nothing else."""
    env = dict(os.environ if base is None else base)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(key, None)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_URL": endpoint,  # the amazon.aws collections' name for it
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            **LOOPBACK_ONLY,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    env.setdefault("ASTROHUB_DEMO_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    # Only the declared collections (declared_collections_path), this repository's first.
    env["ANSIBLE_COLLECTIONS_PATH"] = f"{REPO / 'collections'}:{declared_collections_path()}"
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    # Mitogen's strategy keeps one Python per host instead of starting one per task: the same
    # modules, runs about twice as fast here. It cannot record a new SSH host key (it only
    # enforces or ignores known_hosts), so runs that meet a new SSH host pass
    # ANSIBLE_STRATEGY=linear, Ansible's own, which the operator's runbook uses.
    env.setdefault("ANSIBLE_STRATEGY", "mitogen_linear")
    env.setdefault("ANSIBLE_STRATEGY_PLUGINS", str(MITOGEN_STRATEGIES))
    # One botocore data loader per Python instead of one per module call (mitogen_site/).
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(MITOGEN_SITE), *paths]))
    return env


# Deprecation warnings printed whatever the playbooks do, with why they are accepted.
UNAVOIDABLE_DEPRECATIONS = (
    # ansible-core's notice for any strategy plugin outside ansible.builtin: the tests' and the
    # demo's Mitogen strategy (offline_env). The runbook runs Ansible's own linear strategy.
    "Use of strategy plugins not included in ansible.builtin are deprecated",
    # amazon.aws iam_role announces the end of a return value it still returns, on every call
    # whatever its options (plugins/modules/iam_role.py, main()); no playbook reads it.
    "iam_role.assume_role_policy_document_raw will no longer be returned",
)


@dataclass
class PlaybookResult:
    """What a playbook run did: exit code, per-host stats, and failure messages."""

    returncode: int
    stdout: str
    stderr: str
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # "<host>: <task>" of every task that reported a change (for assertion messages).
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(host.get("changed", 0) for host in self.stats.values())

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def deprecations(self) -> list[str]:
        """Ansible's deprecation warnings in this run, but the ones no playbook can avoid
        (:data:`UNAVOIDABLE_DEPRECATIONS`), one line each."""
        return [
            line
            for line in self.output.splitlines()
            if line.startswith("[DEPRECATION WARNING]")
            and not any(known in line for known in UNAVOIDABLE_DEPRECATIONS)
        ]


def _changed_tasks(report: dict[str, Any]) -> list[str]:
    return [
        f"{host}: {task.get('task', {}).get('name', '?')}"
        for play in report.get("plays", [])
        for task in play.get("tasks", [])
        for host, result in task.get("hosts", {}).items()
        if result.get("changed")
    ]


def _failure_messages(report: dict[str, Any]) -> list[str]:
    messages = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("failed") or result.get("unreachable"):
                    name = task.get("task", {}).get("name", "?")
                    messages.append(f"{host}: {name}: {result.get('msg', '')}")
    return messages


def playbook_command(
    playbook: str,
    endpoint: str,
    *,
    inventory: Path = LOCAL_INVENTORY,
    tags: Sequence[str] = (),
    extra_vars: Mapping[str, Any] | None = None,
    check: bool = False,
    verbosity: int = 0,
    env: Mapping[str, str] | None = None,
    strategy: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ansible-playbook command line and environment that run playbooks/<playbook> against
    the endpoint (what :func:`run_playbook` runs; tests that stop a run part-way start it)."""
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(inventory),
        str(REPO / "playbooks" / playbook),
    ]
    if tags:
        cmd += ["--tags", ",".join(tags)]
    if extra_vars:
        cmd += ["--extra-vars", json.dumps(dict(extra_vars))]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    run_env = offline_env(endpoint, env)
    if strategy:
        run_env["ANSIBLE_STRATEGY"] = strategy
    return cmd, run_env


def run_playbook(
    playbook: str,
    endpoint: str,
    *,
    structured: bool = True,
    timeout: float = 1800,
    **options: Any,
) -> PlaybookResult:
    """Run playbooks/<playbook> against the endpoint; ``options`` are
    :func:`playbook_command`'s (inventory, tags, extra_vars, check, verbosity, env, strategy).

    structured=True uses the JSON stdout callback so stats and failures are read as data;
    structured=False streams Ansible's normal output to the terminal (the demo).
    strategy: `linear` (Ansible's own) for a run that records a new SSH host key, or that stops
    at its first task: Mitogen's start-up costs about 2 CPU-seconds a run, repaid only by runs
    with several AWS tasks.
    """
    cmd, run_env = playbook_command(playbook, endpoint, **options)
    if structured:
        run_env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        # Timing output from profile_tasks would break the JSON document.
        run_env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = PlaybookResult(proc.returncode, proc.stdout, proc.stderr)
        try:
            report = json.loads(proc.stdout[proc.stdout.index("{") :])
        except ValueError:
            return result
        result.stats = report.get("stats", {})
        result.failures = _failure_messages(report)
        result.changes = _changed_tasks(report)
        return result
    proc = subprocess.run(cmd, cwd=REPO, env=run_env, timeout=timeout, check=False)
    return PlaybookResult(proc.returncode, "", "")
