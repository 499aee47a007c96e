"""The command teardown runs in the hub pod to copy the hub's database (roles/jupyterhub,
`jupyterhub_db_backup_command`), run here as kubernetes.core.k8s_exec runs it (shlex-split)
on a database JupyterHub's own ORM made, with a write under way in another connection."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
from pathlib import Path

import jinja2
import yaml
from jupyterhub import orm

from astrohub_local.runner import REPO

ROLE_VARS = REPO / "roles" / "jupyterhub" / "vars" / "main.yml"


def backup_argv(database: Path, copy: Path) -> list[str]:
    command = yaml.safe_load(ROLE_VARS.read_text())["jupyterhub_db_backup_command"]
    line = jinja2.Template(command).render(
        jupyterhub_db_path=str(database), jupyterhub_db_backup_path=str(copy)
    )
    return shlex.split(line)


def test_the_pod_command_copies_the_committed_state_of_a_hub_database(tmp_path: Path) -> None:
    database = tmp_path / "jupyterhub.sqlite"
    session = orm.new_session_factory(f"sqlite:///{database}")()
    session.add(orm.User(name="astronomer@example.org"))
    session.commit()
    session.close()
    # Another writer mid-transaction, as the hub may be: the copy has only committed rows.
    writer = sqlite3.connect(database)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO users (name, admin, cookie_id) VALUES ('half-written', 0, 'x')")
    copy = tmp_path / "jupyterhub-backup.sqlite"
    try:
        argv = backup_argv(database, copy)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        writer.rollback()
        writer.close()
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(copy) as copied:
        assert copied.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {row[0] for row in copied.execute("SELECT name FROM users")}
        revision = copied.execute("SELECT version_num FROM alembic_version").fetchone()
    assert names == {"astronomer@example.org"}
    # JupyterHub's schema revision comes along: `jupyterhub upgrade-db` reads it on restore.
    assert revision is not None
