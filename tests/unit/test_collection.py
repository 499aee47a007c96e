"""The astrohub.platform collection stands on its own: declared dependencies, every plugin
documented (in its README and for ansible-doc)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "astrohub" / "platform"


def filter_names() -> set[str]:
    names = set()
    for path in (COLLECTION / "plugins" / "filter").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                returned = next(n for n in ast.walk(node) if isinstance(n, ast.Dict))
                names |= {k.value for k in returned.keys if isinstance(k, ast.Constant)}
    return names


def test_every_module_and_filter_is_documented() -> None:
    readme = (COLLECTION / "README.md").read_text()
    modules = {p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py")}
    filters = filter_names()
    assert modules >= {"chart_render", "chart_fetch", "deployment_leftovers"}
    assert {"subnet_layout", "crds_sync_images"} <= filters
    for name in modules | filters:
        assert f"| `{name}` |" in readme, f"{name} is missing from the collection's README"
    for name in modules:
        source = (COLLECTION / "plugins" / "modules" / f"{name}.py").read_text()
        # ansible-doc reads the DOCUMENTATION string as YAML: it must parse and name the module.
        strings = {
            target.id: node.value.value
            for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        doc = yaml.safe_load(strings["DOCUMENTATION"])
        assert doc["module"] == name, f"{name}'s DOCUMENTATION names {doc['module']}"
        assert doc["short_description"] and doc["description"]
    for name in filters:
        doc = yaml.safe_load((COLLECTION / "plugins" / "filter" / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name


def test_the_collections_it_uses_are_declared() -> None:
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    used = set()
    for path in [*REPO.glob("roles/*/tasks/*.yml"), *REPO.glob("playbooks/*.yml")]:
        for line in path.read_text().splitlines():
            word = line.strip().rstrip(":")
            if word.count(".") == 2 and word.split(".")[0] in {"amazon", "community", "kubernetes"}:
                used.add(".".join(word.split(".")[:2]))
    assert used == {"amazon.aws", "community.aws", "kubernetes.core"}
    assert set(galaxy["dependencies"]) == used
