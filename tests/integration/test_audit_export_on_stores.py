"""The audit export on real PostgreSQL and SQLite, the app built as ``serve`` builds it (its
own services, access recorder and workers): a history of changes, a refused and a denied
command, a denied read, reads of patient data, an HL7 message and a request on someone's
behalf, exported as FHIR R4 and R5 (every line validated) and as CSV."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.settings import Settings
from adapters.storage import ensure_schema
from tests.support.audit_export import agent_type_codes, our_action, validated_lines
from tests.support.hl7 import HL7_MEDIA_TYPE, adt

API = "/api/v1/visits"
AUDIT = "/api/v1/audit"


@pytest.fixture
def feed_settings(store_settings: Settings) -> Settings:
    """The store's settings with the key of the patientRef hash a feed needs (on PostgreSQL
    it is not generated)."""
    return replace(store_settings, patient_ref_secret="export-test-ref-secret-" + "x" * 40)


@pytest.fixture
def client(feed_settings: Settings) -> Iterator[TestClient[Any]]:
    """The app as ``serve`` builds it: its own services, access recorder and workers."""
    ensure_schema(feed_settings)
    with TestClient(create_app(feed_settings)) as test_client:
        yield test_client


def headers(settings: Settings, sub: str, *roles: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, sub, roles)}", **extra}


def trail(client: TestClient[Any], auditor: dict[str, str], head: int) -> list[dict[str, Any]]:
    reply = client.get(f"{AUDIT}/events", params={"minPosition": head, "limit": 500},
                       headers=auditor)  # fmt: skip
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


def test_the_export_validates_in_both_versions_on_each_store(
    client: TestClient[Any], feed_settings: Settings
) -> None:
    settings = feed_settings
    staff = headers(settings, "alice", "clerk", "nurse", "clinician")
    auditor = headers(settings, "audrey", "auditor")
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    body = {"patientRef": "P-9", "visitClass": "EMER", "serviceUnit": "ED",
            "scheduledStart": start.isoformat()}  # fmt: skip
    booked = client.post(API, json=body, headers={**staff, "X-On-Behalf-Of": "dr-b"})
    assert booked.status_code == 201, booked.text
    visit = booked.json()["id"]
    assert client.post(f"{API}/{visit}/arrive", json={}, headers=staff).status_code == 200
    refused = client.post(f"{API}/{visit}/arrive", json={}, headers=staff)
    assert refused.status_code == 409, refused.text  # arrived already
    clerk = headers(settings, "bob", "clerk")
    assert client.post(f"{API}/{visit}/close", json={}, headers=clerk).status_code == 403
    assert (
        client.get(f"{API}/{visit}", headers=headers(settings, "fin", "finance")).status_code == 403
    )
    read = client.get(f"{API}/{visit}", headers={**staff, "X-Purpose-Of-Use": "TREAT"})
    assert read.status_code == 200
    fed = client.post("/api/v1/hl7", content=adt("A04", "MSG-9"), headers={
        **headers(settings, "feed", "integration"), "Content-Type": HL7_MEDIA_TYPE})  # fmt: skip
    assert fed.status_code == 200 and b"|AA|" in fed.content, fed.content
    # The read's access record is written by the recorder within moments: wait for it.
    deadline = time.monotonic() + 15
    while not [e for e in trail(client, auditor, 0) if e["action"] == "read visit"]:
        assert time.monotonic() < deadline, "the read was never recorded"
        time.sleep(0.2)

    for export_format, version in (("fhir-r4-ndjson", "r4"), ("fhir-r5-ndjson", "r5")):
        reply = client.get(f"{AUDIT}/export", params={"format": export_format}, headers=auditor)
        assert reply.status_code == 200, reply.text
        events = validated_lines(reply.text, export_format)
        actions = {our_action(event, version) for event in events}
        assert {"VisitScheduled", "PatientArrived", "RegisterArrival", "CloseVisit",
                "read visits", "read visit"} <= actions  # fmt: skip
        by_action = {our_action(event, version): event for event in events}
        assert "DELEGATOR" in agent_type_codes(by_action["VisitScheduled"])
        assert by_action["RegisterArrival"]["action"] == "U"
        assert by_action["read visits"]["action"] == "R"
        assert any("110153" in agent_type_codes(event) for event in events)  # the feed

    exported = client.get(f"{AUDIT}/export", params={"format": "csv"}, headers=auditor)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    exports = [row for row in rows if row["action"] == "Exported"]
    assert [row["format"] for row in exports] == ["fhir-r4-ndjson", "fhir-r5-ndjson"]
    [access] = [row for row in rows if row["action"] == "read visit"]
    assert (access["kind"], access["purposeOfUse"], access["patientRefs"]) == (
        "access", "TREAT", "P-9")  # fmt: skip
