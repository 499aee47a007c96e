"""Filters telling a re-run which resources an amazon.aws module would leave as they are
(logic in astrohub.in_place)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astrohub.in_place import (
    bucket_in_place,
    file_system_in_place,
    gateway_endpoint_in_place,
    gateway_endpoints_to_replace,
    internet_gateway_in_place,
    key_pair_in_place,
    route_table_ids,
    route_table_in_place,
    security_group_in_place,
    subnet_in_place,
    vpc_in_place,
)


class FilterModule:
    """astrohub.platform in-place filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "vpc_in_place": vpc_in_place,
            "subnet_in_place": subnet_in_place,
            "route_table_in_place": route_table_in_place,
            "key_pair_in_place": key_pair_in_place,
            "security_group_in_place": security_group_in_place,
            "internet_gateway_in_place": internet_gateway_in_place,
            "file_system_in_place": file_system_in_place,
            "bucket_in_place": bucket_in_place,
            "gateway_endpoint_in_place": gateway_endpoint_in_place,
            "gateway_endpoints_to_replace": gateway_endpoints_to_replace,
            "route_table_ids": route_table_ids,
        }
