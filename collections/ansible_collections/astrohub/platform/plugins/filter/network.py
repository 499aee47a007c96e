"""Filters for the network role; the arithmetic lives in astrohub.network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub.network import subnet_layout


class FilterModule:
    """astrohub.platform network filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"subnet_layout": subnet_layout}
