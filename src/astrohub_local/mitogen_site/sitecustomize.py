"""Loaded by every Python the tests and the demo start (runner.offline_env puts this folder
on PYTHONPATH): botocore sessions in one process share one data loader.

Each amazon.aws module call makes a new boto3 Session, and each new Session re-parses
botocore's JSON service models: about a third of a playbook's CPU here. Under the Mitogen
strategy the modules of a run share one long-lived Python, so one loader per process (what
boto3's default session already gives all its clients) parses each model once. Nothing
else changes; the operator's runs, without this folder, just parse more.

The hook waits for botocore.session to be imported, so Pythons that never use botocore pay
nothing.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _ShareBotocoreLoader(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "botocore.session":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_share(module: ModuleType) -> None:
            exec_module(module)
            module.create_loader = functools.cache(module.create_loader)  # type: ignore[attr-defined]

        spec.loader.exec_module = exec_and_share  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _ShareBotocoreLoader())
