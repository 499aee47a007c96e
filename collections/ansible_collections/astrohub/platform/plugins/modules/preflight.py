#!/usr/bin/python
"""Documentation stub of the preflight action plugin (the logic runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Validate an astrohub deployment's settings before any AWS call
description:
  - Collects the host's variables except Ansible's own (group_vars, inventory and extra vars)
    and validates them against the astrohub configuration schema (src/astrohub/config_schema.yaml).
  - Fails with one line per problem, naming the setting and what is expected. Secret values are
    never shown. Runs on the controller only and makes no network calls.
version_added: 0.1.0
author: astrohub maintainers
options:
  settings:
    description: Extra settings to validate on top of the host's variables (used by tests).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Validate the configuration
  astrohub.platform.preflight:
"""

RETURN = r"""
errors:
  description: One message per invalid setting.
  returned: failure
  type: list
  elements: str
checked_settings:
  description: The names of the settings that were validated.
  returned: always
  type: list
  elements: str
"""
