"""The operators' kit on the hub's REST API: `playbooks/servers.yml` lists the running servers
and, with `-t stop`, stops them all, with the astrohub-operator service's token (kept in
Parameter Store), not an admin's cookie; `jupyterhub_announcement` shows on the hub's pages.

Runs the real playbook against a local hub started from the values the deploy rendered, and
reads the outcome from the hub's API as the users see it.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests
from hub_support import (
    MAST_ADMIN,
    MAST_GUEST,
    MAST_SETTINGS,
    MAST_USER,
    NAMESPACE,
    REPO,
    create_token,
    hub_api,
    hub_env,
    render_deployment,
    sign_in,
    start_server,
)
from kubespawner.slugs import escape_slug

from astrohub_local.emulator import Emulator
from astrohub_local.localhub import LocalHub, free_port
from astrohub_local.oidc_provider import OIDCProvider
from astrohub_local.runner import PlaybookResult, run_playbook

NOTICE = "Maintenance on Friday 18:00 UTC: <b>servers stop</b>, homes stay."


@dataclass
class Kit:
    hub: LocalHub
    emulator: Emulator
    provider: OIDCProvider
    tokens: dict[str, str]

    def run(self, *, tags: tuple[str, ...] = (), check: bool = False) -> PlaybookResult:
        return run_playbook(
            "servers.yml",
            self.emulator.url,
            tags=tags,
            check=check,
            env=hub_env(self.provider, self.hub.port),
            extra_vars={"deployment_namespace": NAMESPACE, **MAST_SETTINGS},
            strategy="linear",  # a few local tasks: Ansible's own strategy starts faster
        )

    def running(self) -> set[str]:
        """Whose default server runs, as each user's own token sees it."""
        return {
            user
            for user, token in self.tokens.items()
            if ""
            in hub_api(self.hub, token, "GET", f"/users/{quote(user, safe='@~')}").json()["servers"]
        }


@pytest.fixture(scope="module")
def kit(mast_render: Any, aws_emulator: Emulator, provider: OIDCProvider) -> Iterator[Kit]:
    """A hub rendered with an announcement, and two users with running servers."""
    port = free_port()
    rendered = render_deployment(
        "operator-kit",
        aws_emulator,
        provider,
        port,
        {**MAST_SETTINGS, "jupyterhub_announcement": NOTICE},
        tags=["jupyterhub"],
    )
    with LocalHub(
        rendered.values_files,
        rendered.homes,
        port,
        namespace=NAMESPACE,
        state_dir=rendered.state_dir,
    ) as hub:
        tokens = {}
        for account in (MAST_USER, MAST_GUEST):
            session, answer = sign_in(hub.url, account.email, account.password)
            assert answer.status_code == 302, answer.text[:500]
            tokens[account.email] = create_token(hub, session, account.email)
            start_server(hub, tokens[account.email], account.email)
        yield Kit(hub, aws_emulator, provider, tokens)


def _shown_servers(result: PlaybookResult) -> list[dict[str, Any]]:
    """What the listing task reported (the JSON callback's result of that task)."""
    report = json.loads(result.output[result.output.index("{") :])
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == "List the running servers":
                servers: list[dict[str, Any]] = task["hosts"]["localhost"]["servers"]
                return servers
    raise AssertionError("the playbook did not list the servers")


def test_the_announcement_shows_on_the_hub_pages(kit: Kit) -> None:
    page = kit.hub.url + "/hub/login"
    assert NOTICE in requests.get(page, timeout=30).text


def test_the_operator_token_may_list_and_stop_but_nothing_more(kit: Kit) -> None:
    operator = boto3.client(
        "ssm", endpoint_url=kit.emulator.url, region_name="us-east-1"
    ).get_parameter(Name=f"/astrohub/{NAMESPACE}/hub/operator-token", WithDecryption=True)[
        "Parameter"
    ]["Value"]
    user = quote(MAST_USER.email, safe="@~")
    assert hub_api(kit.hub, operator, "GET", "/users?state=active").status_code == 200
    # Start servers, read tokens, make users admins: refused.
    assert hub_api(kit.hub, operator, "POST", f"/users/{user}/server").status_code == 403
    assert hub_api(kit.hub, operator, "GET", f"/users/{user}/tokens").status_code == 403
    patched = hub_api(kit.hub, operator, "PATCH", f"/users/{user}", json={"admin": True})
    assert patched.status_code == 403


def test_list_then_check_then_stop_then_nothing_left(kit: Kit) -> None:
    users = set(kit.tokens)
    assert kit.running() == users

    listed = kit.run()
    assert listed.returncode == 0, listed.failures or listed.output[-3000:]
    assert listed.changed == 0
    assert {(s["user"], s["server"], s["ready"]) for s in _shown_servers(listed)} == {
        (u, "", True) for u in users
    }

    # --check says it would stop them, and stops nothing.
    checked = kit.run(tags=("stop",), check=True)
    assert checked.returncode == 0, checked.failures or checked.output[-3000:]
    assert checked.changed == 1
    assert kit.running() == users

    stopped = kit.run(tags=("stop",))
    assert stopped.returncode == 0, stopped.failures or stopped.output[-3000:]
    assert stopped.changed == 1
    assert kit.running() == set()

    again = kit.run(tags=("stop",))
    assert again.returncode == 0, again.failures or again.output[-3000:]
    assert again.changed == 0


def _storage(kit: Kit, **settings: object) -> PlaybookResult:
    """playbooks/storage.yml over the local hub's homes."""
    return run_playbook(
        "storage.yml",
        kit.emulator.url,
        env=hub_env(kit.provider, kit.hub.port),
        extra_vars={
            "deployment_namespace": NAMESPACE,
            **MAST_SETTINGS,
            "storage_local_homes": str(kit.hub.homes),
            **settings,
        },
        strategy="linear",
    )


def test_the_storage_report_pairs_homes_with_users_largest_first(kit: Kit) -> None:
    """playbooks/storage.yml over the local hub's homes: du's sizes beside the hub's users."""
    megabytes = {MAST_GUEST.email: 3, MAST_USER.email: 1}
    for user, size in megabytes.items():
        (kit.hub.homes / escape_slug(user) / "data.fits").write_bytes(b"\0" * size * 2**20)
    gone = kit.hub.homes / escape_slug("gone@example.org")
    gone.mkdir()
    (gone / "left-behind.fits").write_bytes(b"\0" * 2 * 2**20)
    result = _storage(kit)
    assert result.returncode == 0, result.failures or result.output[-3000:]
    rows = json.loads((REPO / "build" / NAMESPACE / "storage-report.json").read_text())
    assert [(r["user"], r["directory"]) for r in rows][:3] == [
        (MAST_GUEST.email, escape_slug(MAST_GUEST.email)),
        (None, "gone-40example-2eorg"),
        (MAST_USER.email, escape_slug(MAST_USER.email)),
    ]
    assert [r["bytes"] // 2**20 for r in rows[:3]] == [3, 2, 1]
    # Both were active minutes ago, as the hub records it.
    assert [rows[0]["idle_days"], rows[2]["idle_days"]] == [0, 0]


def test_homes_of_long_idle_users_are_archived_only_once_their_count_is_confirmed(
    kit: Kit,
) -> None:
    """A user last active 200 days ago (as the hub records it) loses their home to the
    archive; the users active today keep theirs, and nothing moves until the count is given."""
    session, answer = sign_in(kit.hub.url, MAST_ADMIN.email, MAST_ADMIN.password)
    assert answer.status_code == 302, answer.text[:500]
    admin = create_token(kit.hub, session, MAST_ADMIN.email.lower())  # as the hub names them
    retired = "retired@example.org"
    assert hub_api(kit.hub, admin, "POST", f"/users/{retired}").status_code == 201
    long_ago = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    posted = hub_api(
        kit.hub, admin, "POST", f"/users/{retired}/activity", json={"last_activity": long_ago}
    )
    assert posted.status_code == 200, posted.text
    home = kit.hub.homes / escape_slug(retired)
    home.mkdir()
    (home / "thesis.fits").write_bytes(b"\1" * 2**20)
    others = {p.name for p in kit.hub.homes.iterdir() if p != home}

    unconfirmed = _storage(kit, storage_archive_idle_days=90)
    assert unconfirmed.returncode != 0
    [message] = unconfirmed.failures
    assert "storage_archive_confirm: 1 home(s) of users idle for 90 days or more" in message
    assert f"{retired} (1.00 MB)" in message and "storage_archive_confirm=1 " in message
    assert (home / "thesis.fits").exists()

    archived = _storage(kit, storage_archive_idle_days=90, storage_archive_confirm=1)
    assert archived.returncode == 0, archived.failures or archived.output[-3000:]
    assert not home.exists()
    assert {p.name for p in kit.hub.homes.iterdir()} == others | {".archived-homes"}
    [archive] = (kit.hub.homes / ".archived-homes").iterdir()
    with tarfile.open(archive) as tar:
        assert tar.getmember(f"{home.name}/thesis.fits").size == 2**20

    again = _storage(kit, storage_archive_idle_days=90, storage_archive_confirm=1)
    assert again.returncode == 0, again.failures or again.output[-3000:]
    assert again.changes == ["localhost: Write the report"]  # the home is gone from it
    assert list((kit.hub.homes / ".archived-homes").iterdir()) == [archive]
