"""Free text with control characters is refused at the door and records nothing."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from application.service import PatientServices
from tests.support.api import API, Headers, position, visit_body


@pytest.mark.parametrize("text", ["a\u0000b", "bell\u0007", "esc\u001b[31m", "c1\u0085"])
def test_a_reason_holding_a_control_character_is_a_400_naming_the_field(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices, text: str
) -> None:
    before = position(memory_services)
    reply = client.post(API, json=visit_body(reason=text), headers=clerk)
    assert reply.status_code == 400, reply.text
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    assert problem["errors"][0]["field"] == "reason"
    assert "control characters" in problem["errors"][0]["message"]
    assert text not in reply.text
    assert position(memory_services) == before


def test_line_breaks_and_tabs_in_a_reason_are_kept(client: TestClient[Any], clerk: Headers) -> None:
    reply = client.post(API, json=visit_body(reason="first line\r\nsecond\tline"), headers=clerk)
    assert reply.status_code == 201, reply.text


def test_a_complaint_summary_holding_nul_is_refused(
    client: TestClient[Any], auth: Any, memory_services: PatientServices
) -> None:
    before = position(memory_services)
    body = {
        "channel": "email",
        "receivedAt": "2026-11-20T10:00:00Z",
        "complainantRef": "C-1",
        "categories": ["communication"],
        "summary": "nul \u0000 here",
        "policy": "us-cms",
    }
    reply = client.post("/api/v1/complaints", json=body, headers=auth("manager"))
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["field"] == "summary"
    assert position(memory_services) == before
