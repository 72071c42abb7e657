"""The as-of flow routes over HTTP on both stores, the app built from Settings as ``serve``
builds it (its own workers): a board asked for as of a past time reads the events table
through the read-model connection, on PostgreSQL (same schema) as on SQLite (attached)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.settings import Settings

FLOW, API = "/api/v1/flow", "/api/v1/visits"


@pytest.fixture
def store_staff(store_settings: Settings) -> dict[str, str]:
    token = mint_token(store_settings, "alice", ["clerk", "nurse", "clinician", "manager"])
    return {"Authorization": f"Bearer {token}"}


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_the_board_census_and_metrics_as_known_before_a_late_entry_leave_it_out(
    served_client: TestClient[Any], store_staff: dict[str, str]
) -> None:
    now = datetime.now(timezone.utc)
    ids, positions = [], []
    for n, hours_ago in enumerate((3, 2)):
        if n == 1:
            time.sleep(0.002)
            known = datetime.now(timezone.utc)
            time.sleep(0.002)
        body = {"patientRef": f"P-{n}", "visitClass": "EMER", "serviceUnit": "ED",
                "arrivalAt": iso(now - timedelta(hours=hours_ago))}  # fmt: skip
        reply = served_client.post(f"{API}/walk-ins", json=body, headers=store_staff)
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
        positions.append(reply.json()["position"])
    wait = {"minPosition": positions[-1], "unit": "ED"}

    def get(path: str, **params: Any) -> dict[str, Any]:
        reply = served_client.get(f"{FLOW}/{path}", params={**wait, **params}, headers=store_staff)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    boards = [get("board", asOf=iso(known)), get("board")]
    assert [[v["visitId"] for u in b["units"] for v in u["arrived"]] for b in boards] == [
        ids[:1], ids,
    ]  # fmt: skip
    at = iso(now - timedelta(minutes=30))
    census = [get("census", at=at, knownAt=iso(known)), get("census", at=at)]
    assert [c["count"] for c in census] == [1, 2]
    period = {"from": iso(now - timedelta(hours=4)), "to": iso(known)}
    metrics = [get("metrics", **period, knownAt=iso(known)), get("metrics", **period)]
    assert [m["arrivals"] for m in metrics] == [1, 2]
