"""The environment the tests and the demo run Ansible in (astrohub_local.runner.offline_env)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from astrohub_local import runner
from astrohub_local.runner import (
    MITOGEN_SITE,
    declared_collections,
    declared_collections_path,
    offline_env,
)

# Two boto3 sessions in one Python, as two amazon.aws module calls under Mitogen make them:
# do they parse botocore's models once (one loader) or twice?
TWO_SESSIONS = """
import boto3
a, b = boto3.session.Session(), boto3.session.Session()
print(a._session.get_component("data_loader") is b._session.get_component("data_loader"))
"""


def shares_loader(env: dict[str, str]) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", TWO_SESSIONS], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


def test_botocore_sessions_in_one_python_share_one_data_loader() -> None:
    env = offline_env("http://127.0.0.1:9")
    assert shares_loader(env)
    env.pop("PYTHONPATH")
    assert not shares_loader(env)  # botocore's own behaviour: a loader per session


def test_the_site_folder_comes_first_once_and_keeps_the_callers_path() -> None:
    env = offline_env("http://127.0.0.1:9", {"PYTHONPATH": "/somewhere"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(MITOGEN_SITE), "/somewhere"]
    again = offline_env("http://127.0.0.1:9", env)
    assert again["PYTHONPATH"] == env["PYTHONPATH"]


def test_deprecation_warnings_are_found_but_the_unavoidable_ones() -> None:
    from astrohub_local.runner import PlaybookResult

    stderr = (
        "[DEPRECATION WARNING]: Use of strategy plugins not included in ansible.builtin are "
        "deprecated and do not carry any backwards compatibility guarantees.\n"
        "[DEPRECATION WARNING]: The network parameter has been deprecated, please use "
        "network_interfaces and/or network_interfaces_ids instead.\n"
        "[WARNING]: something else\n"
        "[DEPRECATION WARNING]: In a release after 2026-05-01 iam_role.assume_role_policy_"
        "document_raw will no longer be returned.\n"
    )
    result = PlaybookResult(returncode=0, stdout="", stderr=stderr)
    assert [d[:60] for d in result.deprecations] == [
        "[DEPRECATION WARNING]: The network parameter has been deprec"
    ]


def installed_collection(root: Path, name: str, depends_on: dict[str, str]) -> None:
    path = root / name.replace(".", "/")
    path.mkdir(parents=True)
    info = {"collection_info": {"namespace": name.split(".")[0], "dependencies": depends_on}}
    (path / "MANIFEST.json").write_text(json.dumps(info))


def test_declared_collections_follow_requirements_and_their_dependencies(tmp_path: Path) -> None:
    installed = tmp_path / "ansible_collections"
    installed_collection(installed, "community.aws", {"amazon.aws": ">=10.0.0"})
    installed_collection(installed, "amazon.aws", {})
    installed_collection(installed, "ansible.posix", {})
    installed_collection(installed, "community.docker", {})  # installed, not declared
    requirements = tmp_path / "requirements.yml"
    requirements.write_text("collections:\n  - name: community.aws\n  - name: ansible.posix\n")
    names = declared_collections(requirements, installed)
    assert names == ["amazon.aws", "ansible.posix", "community.aws"]


def test_the_runs_see_this_repository_and_the_declared_collections_only() -> None:
    env = offline_env("http://127.0.0.1:9")
    listing = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-galaxy")), "collection", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    visible = {
        line.split()[0] for line in listing.splitlines() if re.match(r"^[a-z_]+\.[a-z_]+ ", line)
    }
    # ansible._protomatter is ansible-core's own, always there.
    assert visible - {"ansible._protomatter"} == {
        "astrohub.platform",
        "amazon.aws",
        "community.aws",
        "kubernetes.core",
        "community.general",
        "ansible.posix",
    }


def test_runs_starting_side_by_side_make_the_links_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "REPO", tmp_path)
    installed = tmp_path / "installed"
    installed_collection(installed, "a.b", {})
    monkeypatch.setattr(runner, "declared_collections", lambda installed: ["a.b"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        roots = set(pool.map(lambda _: declared_collections_path(installed), range(32)))
    (root,) = roots
    link = root / "ansible_collections" / "a" / "b"
    assert link.resolve() == (installed / "a" / "b").resolve()
    assert [p.name for p in link.parent.iterdir()] == ["b"]  # no temporary link left behind
