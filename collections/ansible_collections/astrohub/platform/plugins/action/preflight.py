"""Action plugin: validate the deployment's settings on the controller, before any AWS call.

The operator's settings are every variable of the host except Ansible's own; each is templated
on its own so that one broken value is reported by name instead of aborting the whole check.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.ansible_release import __version__ as ansible_core_version
from ansible.plugins.action import ActionBase

from astrohub import config


class ActionModule(ActionBase):
    """astrohub.platform.preflight"""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        extra = self._task.args.get("settings") or {}

        settings: dict[str, Any] = {}
        errors: list[str] = []
        for key, raw in config.operator_settings(task_vars).items():
            try:
                settings[key] = self._templar.template(raw)
            except Exception as exc:
                errors.append(f"{key}: its value cannot be templated ({type(exc).__name__})")
        settings.update(extra)

        report = config.check(settings, ansible_core=config.parse_version(ansible_core_version))
        errors += report.errors
        result["changed"] = False
        result["warnings"] = report.warnings
        result["checked_settings"] = sorted(settings)
        if errors:
            result["failed"] = True
            result["errors"] = errors
            result["msg"] = (
                f"astrohub preflight: {len(errors)} setting(s) need attention, nothing was "
                "changed:\n- " + "\n- ".join(errors)
            )
        else:
            result["msg"] = f"astrohub preflight: {len(settings)} settings valid"
        return result
