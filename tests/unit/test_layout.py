"""The product stands apart from the embedded default and the tests.

src/astrohub/ and the collection are what the playbooks run; src/astrohub_local/ is the embedded
default (emulator, local hub, login provider, demo); tests/ holds the test-only helpers. The
product's declared dependencies and its imports name nothing of the other two.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PRODUCT = [REPO / "src" / "astrohub", REPO / "collections" / "ansible_collections"]
NOT_PRODUCT = {"moto", "jupyterhub", "oauthenticator", "kubespawner", "mitogen", "astrohub_local"}
# Runs inside the chart's hub image (mounted as hub.extraFiles), where oauthenticator is.
IN_THE_HUB_IMAGE = REPO / "src" / "astrohub" / "hub" / "mast_authenticator.py"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_products_dependencies_leave_out_the_embedded_default() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    product = {Requirement(r).name for r in project["dependencies"]}
    local = {Requirement(r).name for r in project["optional-dependencies"]["local"]}
    assert not product & {"moto", "jupyterhub", "oauthenticator", "mitogen"}
    assert {"moto", "jupyterhub", "oauthenticator", "mitogen"} <= local


def test_the_product_imports_nothing_of_the_embedded_default_or_the_tests() -> None:
    offenders = {}
    for root in PRODUCT:
        for path in root.rglob("*.py"):
            if path == IN_THE_HUB_IMAGE:
                continue
            found = imported_roots(path) & (NOT_PRODUCT | {"conftest", "deployments"})
            if found:
                offenders[str(path.relative_to(REPO))] = sorted(found)
    assert offenders == {}


def test_the_embedded_default_is_its_own_package() -> None:
    local = {p.stem for p in (REPO / "src" / "astrohub_local").glob("*.py")} - {"__init__"}
    assert {"emulator", "localhub", "oidc_provider", "demo", "runner"} <= local
    product = {p.stem for p in (REPO / "src" / "astrohub").glob("*.py")}
    assert not product & local
