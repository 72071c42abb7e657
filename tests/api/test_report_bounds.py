"""Report queries with values no stored record can hold are 400s naming the parameter, never
500s from overflowing date arithmetic or 64-bit columns (found in review)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.support.api import Headers


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/complaints/sla", {"from": "0001-01-01T00:00:00Z"}, "from"),
        ("/api/v1/complaints/sla", {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:00:00Z"},
         "to"),
        ("/api/v1/complaints/themes", {"to": "0001-02-01T00:00:00Z"}, "to"),
        ("/api/v1/complaints/worklist",
         {"cursor": "9223372036854775808~00000000-0000-0000-0000-000000000000"}, "cursor"),
        ("/api/v1/complaints/worklist",
         {"cursor": "-99999999999999999999~00000000-0000-0000-0000-000000000000"}, "cursor"),
        ("/api/v1/flow/metrics", {"from": "0001-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
         "from"),
        ("/api/v1/audit/events", {"to": "9999-01-01T00:00:00Z"}, "to"),
    ],
)  # fmt: skip
def test_an_out_of_range_query_is_400_naming_the_parameter(
    read_client: TestClient[Any], auth: Callable[..., Headers], path: str, params: Any, field: str
) -> None:
    headers = auth("manager", "auditor", sub="mo")
    reply = read_client.get(path, params=params, headers=headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["field"] == field
