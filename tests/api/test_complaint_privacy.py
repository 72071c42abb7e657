"""A complaint's narrative is personal data: it may be read back from the case itself, and
nowhere else — not in a log line, an error, the worklist or the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.support.api import Headers, iso

NARRATIVE = "Mr Sample Person (born 1951) was refused pain relief on ward 9"
COMPLAINTS = "/api/v1/complaints"


def test_the_narrative_is_shown_by_the_case_and_nowhere_else(
    read_client: TestClient[Any], auth: Callable[..., Headers], capfd: pytest.CaptureFixture[str]
) -> None:
    manager, auditor = auth("manager", sub="mo"), auth("auditor", sub="audrey")
    body = {
        "channel": "written", "receivedAt": iso(datetime.now(timezone.utc) - timedelta(days=9)),
        "complainantRef": "CMP-9", "patientRef": "P-9", "categories": ["clinical-care"],
        "summary": NARRATIVE, "policy": "us-cms",
    }  # fmt: skip
    created = read_client.post(COMPLAINTS, json=body, headers=manager)
    assert created.status_code == 201, created.text
    case = created.json()["id"]
    # Refusals of every kind answer without echoing the body: 400, 409, 403.
    replies = [
        read_client.post(COMPLAINTS, json={**body, "policy": NARRATIVE}, headers=manager),
        read_client.post(COMPLAINTS, json={**body, "surprise": NARRATIVE}, headers=manager),
        read_client.post(f"{COMPLAINTS}/{case}/start-investigation", json={}, headers=manager),
        read_client.post(f"{COMPLAINTS}/{case}/withdraw", json={"reason": "x"}, headers=auditor),
        read_client.post(
            f"{COMPLAINTS}/{case}/close", json={"resolution": NARRATIVE}, headers=manager
        ),
    ]
    assert [r.status_code for r in replies] == [400, 400, 409, 403, 409]
    position = replies[-1].headers.get("X-Projection-Position") or created.json()["position"]
    reads = [
        read_client.get(
            f"{COMPLAINTS}/worklist", params={"minPosition": position}, headers=manager
        ),
        read_client.get(f"{COMPLAINTS}/themes", params={"minPosition": position}, headers=manager),
        read_client.get(f"{COMPLAINTS}/sla", params={"minPosition": position}, headers=manager),
        read_client.get("/api/v1/audit/events", params={"minPosition": position}, headers=auditor),
        read_client.get("/api/v1/audit/export", params={"format": "csv"}, headers=auditor),
    ]
    assert all(r.status_code == 200 for r in reads), [r.text for r in reads]
    assert all(case in r.text for r in (reads[0], reads[3], reads[4]))  # the case is listed

    shown = read_client.get(f"{COMPLAINTS}/{case}", headers=manager)
    assert shown.json()["summary"] == NARRATIVE

    for reply in replies + reads:
        assert "Sample Person" not in reply.text
    logged = capfd.readouterr()
    assert "command.accepted" in logged.out + logged.err  # the logs were captured
    assert "Sample Person" not in logged.out + logged.err
