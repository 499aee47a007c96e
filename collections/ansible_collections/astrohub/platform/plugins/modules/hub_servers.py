#!/usr/bin/python
"""List a JupyterHub's running servers through its REST API, or stop them all."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

DOCUMENTATION = r"""
module: hub_servers
short_description: List a JupyterHub's running servers, or stop them all
description:
  - Reads the hub's users with an active server (C(GET /users?state=active), following the
    API's pagination) and reports every running or starting server, with its owner, name,
    start time and last activity.
  - With O(state=stopped), stops each of them (C(DELETE /users/<name>/server), or
    C(/users/<name>/servers/<server>) for a named server) and waits until the hub reports them
    stopped. Users' files are untouched; users start their servers again at their next visit.
  - Authenticates with a service's API token, never a user's cookie. The token needs the
    scopes C(list:users), C(read:servers) and C(read:users:activity); stopping needs
    C(delete:servers) as well.
  - Check mode reports what would be stopped, and stops nothing.
version_added: 0.4.0
author: astrohub maintainers
options:
  api_url:
    description: The hub's API, for example C(https://hub.example.org/hub/api).
    type: str
    required: true
  api_token:
    description: The service's API token.
    type: str
    required: true
    no_log: true
  state:
    description: C(listed) only reads; C(stopped) stops every running server.
    type: str
    choices: [listed, stopped]
    default: listed
  list_users:
    description:
      - Also list every user of the hub (C(GET /users), paginated) with their last activity,
        as RV(users) (the storage report pairs them with their homes).
    type: bool
    default: false
    version_added: 0.6.0
  wait_timeout:
    description: Seconds to wait for the servers to stop.
    type: int
    default: 300
  validate_certs:
    description: Verify the hub's TLS certificate.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Stop every server before maintenance
  astrohub.platform.hub_servers:
    api_url: https://hub.example.org/hub/api
    api_token: "{{ operator_token }}"
    state: stopped
"""

RETURN = r"""
servers:
  description: The servers that were running (or starting) when the module started, by user.
  returned: always
  type: list
  elements: dict
  sample:
    - {user: astronomer@example.org, server: "", ready: true, started: "2026-12-01T09:00:00Z",
       last_activity: "2026-12-01T09:30:00Z"}
users:
  description: With O(list_users), every user (C(name), C(admin), C(created), C(last_activity)).
  returned: when list_users
  type: list
  elements: dict
  sample: [{name: astronomer@example.org, admin: false, created: "2026-11-01T09:00:00Z",
            last_activity: "2026-12-01T09:30:00Z"}]
stopped:
  description: The servers this run stopped (would stop, in check mode), as C(<user>/<server>).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

# The hub answers list calls with {"items": [...], "_pagination": {...}} when asked for this.
PAGINATED = "application/jupyterhub-pagination+json"
POLL_SECONDS = 1.0


class HubAPI:
    """The few calls this module makes, with the token and the module's TLS settings."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.base = module.params["api_url"].rstrip("/")

    def call(self, method: str, path: str, accept: str = "application/json") -> Any:
        url = f"{self.base}{path}"
        headers = {"Authorization": f"token {self.module.params['api_token']}", "Accept": accept}
        response, info = fetch_url(self.module, url, headers=headers, method=method, timeout=30)
        if info["status"] not in (200, 201, 202, 204):
            hint = " (the token must be a service's, with the scopes the module names)"
            self.module.fail_json(
                msg=f"{method} {url}: the hub answered {info['status']} {info.get('msg', '')}"
                + (hint if info["status"] in (401, 403) else ""),
                status=info["status"],
            )
        body = response.read() if response else b""
        return json.loads(body) if body else None

    def users(self, state: str = "") -> list[dict[str, Any]]:
        """Every user (with state=active, those with an active server), page by page as the
        hub hands them out."""
        users: list[dict[str, Any]] = []
        selection = f"state={state}&" if state else ""
        query = selection.rstrip("&")
        while True:
            page = self.call("GET", f"/users?{query}", accept=PAGINATED)
            users += page["items"]
            following = (page.get("_pagination") or {}).get("next")
            if not following:
                return users
            # Not following["url"]: that is the address the hub was reached at, which behind
            # the proxy is the hub's own, not this one.
            query = f"{selection}offset={following['offset']}&limit={following['limit']}"

    def user(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/users/{quote(name, safe='@~')}")
        return found


def running_servers(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    servers = []
    for user in users:
        for name, server in sorted((user.get("servers") or {}).items()):
            servers.append(
                {
                    "user": user["name"],
                    "server": name,
                    "ready": bool(server.get("ready")),
                    "started": server.get("started"),
                    "last_activity": server.get("last_activity"),
                }
            )
    return servers


def server_path(user: str, server: str) -> str:
    """The API path of a user's default server, or of a named one."""
    escaped = quote(user, safe="@~")
    if server:
        return f"/users/{escaped}/servers/{quote(server, safe='')}"
    return f"/users/{escaped}/server"


def stop_all(api: HubAPI, servers: list[dict[str, Any]], timeout: int) -> None:
    for server in servers:
        api.call("DELETE", server_path(server["user"], server["server"]))
    deadline = time.monotonic() + timeout
    waiting = {(s["user"], s["server"]) for s in servers}
    while waiting:
        for user, name in sorted(waiting):
            if name not in (api.user(user).get("servers") or {}):
                waiting.discard((user, name))
        if waiting and time.monotonic() > deadline:
            api.module.fail_json(
                msg=f"servers still stopping after {timeout} s: "
                + ", ".join(f"{u}/{n}" for u, n in sorted(waiting))
            )
        if waiting:
            time.sleep(POLL_SECONDS)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "api_url": {"type": "str", "required": True},
            "api_token": {"type": "str", "required": True, "no_log": True},
            "state": {"type": "str", "choices": ["listed", "stopped"], "default": "listed"},
            "list_users": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 300},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    api = HubAPI(module)
    servers = running_servers(api.users("active"))
    stopping = servers if module.params["state"] == "stopped" else []
    if stopping and not module.check_mode:
        stop_all(api, stopping, module.params["wait_timeout"])
    result: dict[str, Any] = {
        "changed": bool(stopping),
        "servers": servers,
        "stopped": [f"{s['user']}/{s['server']}" for s in stopping],
    }
    if module.params["list_users"]:
        fields = ("name", "admin", "created", "last_activity")
        result["users"] = [{k: user.get(k) for k in fields} for user in api.users()]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
