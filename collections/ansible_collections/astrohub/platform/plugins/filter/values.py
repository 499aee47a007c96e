"""Filters for Helm values (logic and tests in astrohub.chart)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub.chart import drop_nulls


class FilterModule:
    """astrohub.platform values filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"drop_nulls": drop_nulls}
