"""The audit endpoints over HTTP, on a real SQLite store with the audit worker running:
only auditors read them (every other role's denial is itself in the trail), the trail pages
and filters, verify reports the chain, and exports stream and are themselves recorded.

Queries pass ``minPosition`` (the newest log position) so they wait for the worker: no sleeps.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.readmodels.audit.store import AuditReadModel
from adapters.readmodels.database import EVENTS_FILE
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import API, Headers, iso, now, position, visit_body

AUDIT = "/api/v1/audit"


pytestmark = pytest.mark.read_models([AuditReadModel])


@pytest.fixture
def auditor(auth: Callable[..., Headers]) -> Headers:
    return auth("auditor", sub="audrey")


@pytest.fixture
def trail(
    read_client: TestClient[Any], auditor: Headers, stored_services: PatientServices
) -> Callable[..., dict[str, Any]]:
    """``trail(patientRef="P-1")`` → the first page, once the worker has read the whole log."""

    def read(**params: Any) -> dict[str, Any]:
        params.setdefault("minPosition", position(stored_services))
        reply = read_client.get(f"{AUDIT}/events", params=params, headers=auditor)
        assert reply.status_code == 200, reply.text
        assert int(reply.headers["X-Projection-Position"]) >= params["minPosition"]
        return reply.json()

    return read


def all_pages(trail: Callable[..., dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = trail(**params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


# ---- who may read -------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["clerk", "nurse", "clinician", "manager", "finance", "admin"])
@pytest.mark.parametrize(
    ("path", "what"),
    [("/events", "audit trail"), ("/verify", "audit verification"),
     ("/export?format=csv", "audit export")],
)  # fmt: skip
def test_only_the_auditor_may_read_and_the_denial_is_itself_in_the_trail(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    trail: Callable[..., dict[str, Any]],
    role: str,
    path: str,
    what: str,
) -> None:
    reply = read_client.get(
        f"{AUDIT}{path}", headers={**auth(role, sub="mallory"), "X-Correlation-Id": "peek-1"}
    )

    assert reply.status_code == 403
    assert reply.json()["code"] == "NOT_AUTHORISED"
    [denial] = trail(outcome="denied")["items"]
    assert denial["action"] == f"read {what}"
    assert (denial["actorId"], denial["actorRole"]) == ("mallory", role)
    assert (denial["code"], denial["correlationId"]) == ("NOT_AUTHORISED", "peek-1")
    assert denial["aggregateType"] == "CommandAttempt"


@pytest.mark.parametrize(
    ("path", "what", "target_type"),
    [("/api/v1/visits", "visits", "PatientVisit"),
     ("/api/v1/complaints", "complaints", "ComplaintCase"),
     ("/api/v1/budget-lines", "budget lines", "BudgetLine"),
     (None, "visit timelines", "PatientVisit")],
)  # fmt: skip
def test_a_denied_read_of_one_record_names_its_type_and_id(
    read_client: TestClient[Any], auth: Callable[..., Headers],
    trail: Callable[..., dict[str, Any]], path: str | None, what: str, target_type: str,
) -> None:  # fmt: skip
    record = "00000000-0000-4000-8000-0000000000bb"
    url = f"{path}/{record}" if path else f"{API}/{record}/timeline"
    reply = read_client.get(url, headers=auth("finance" if path != "/api/v1/budget-lines" else
                                         "clerk", sub="mallory"))  # fmt: skip
    assert reply.status_code == 403, reply.text
    [denial] = trail(outcome="denied")["items"]
    assert denial["action"] == f"read {what}"
    assert (denial["targetType"], denial["targetId"]) == (target_type, record)


def test_an_auditor_reads_an_empty_trail_and_a_read_changes_nothing_else(
    read_client: TestClient[Any],
    trail: Callable[..., dict[str, Any]],
    stored_services: PatientServices,
) -> None:
    # This app has no access recorder: with one, the read leaves an access record
    # (tests/integration/test_audit_queries.py), but never a change or an attempt.
    assert trail() == {"items": [], "nextCursor": None}
    assert position(stored_services) == 0


# ---- the trail ----------------------------------------------------------------------------
def test_the_trail_says_who_did_what_when_to_which_record(
    read_client: TestClient[Any],
    staff: Headers,
    trail: Callable[..., dict[str, Any]],
) -> None:
    created = read_client.post(
        API, json=visit_body(patientRef="P-77"), headers={**staff, "X-Correlation-Id": "book-1"}
    ).json()
    arrival = now() - timedelta(minutes=5)
    arrived = read_client.post(
        f"{API}/{created['id']}/arrive",
        json={"occurredAt": iso(arrival)},
        headers={**staff, "X-On-Behalf-Of": "dr-who"},
    ).json()

    scheduled, arrive = trail()["items"]

    assert scheduled["position"] == created["position"]
    assert (scheduled["action"], scheduled["outcome"]) == ("VisitScheduled", "recorded")
    assert (scheduled["aggregateType"], scheduled["aggregateId"]) == ("PatientVisit", created["id"])
    assert (scheduled["patientRef"], scheduled["actorId"]) == ("P-77", "alice")
    assert scheduled["correlationId"] == "book-1"
    assert arrive["position"] == arrived["position"]
    assert (arrive["action"], arrive["version"]) == ("PatientArrived", 2)
    assert arrive["patientRef"] == "P-77"  # inherited from the visit's creation
    assert arrive["onBehalfOf"] == "dr-who"
    assert arrive["occurredAt"] == iso(arrival)
    assert arrive["recordedAt"] >= scheduled["recordedAt"]


def test_refused_and_denied_commands_appear_with_their_outcome(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    read_schedule: Callable[..., str],
    trail: Callable[..., dict[str, Any]],
) -> None:
    visit_id = read_schedule(patientRef="P-9")
    triage = {"acuityScale": "ESI", "acuityLevel": 2}
    refused = read_client.post(f"{API}/{visit_id}/triage", json=triage, headers=auth("nurse"))
    denied = read_client.post(
        f"{API}/{visit_id}/triage", json=triage, headers=auth("clerk", sub="bo")
    )
    assert (refused.status_code, denied.status_code) == (409, 403)

    entries = trail(patientRef="P-9")["items"]

    assert [(e["action"], e["outcome"], e["code"]) for e in entries] == [
        ("VisitScheduled", "recorded", None),
        ("RecordTriage", "refused", "INVALID_TRANSITION"),
        ("RecordTriage", "denied", "NOT_AUTHORISED"),
    ]
    assert {(e["targetType"], e["targetId"]) for e in entries[1:]} == {("PatientVisit", visit_id)}
    assert entries[2]["actorId"] == "bo"


def test_the_trail_pages_oldest_first_until_the_cursor_runs_out(
    read_schedule: Callable[..., str], trail: Callable[..., dict[str, Any]]
) -> None:
    for n in range(7):
        read_schedule(patientRef=f"P-{n}")

    first = trail(limit=3)
    everything = all_pages(trail, limit=3)

    assert len(first["items"]) == 3 and first["nextCursor"]
    assert [e["patientRef"] for e in everything] == [f"P-{n}" for n in range(7)]
    positions = [e["position"] for e in everything]
    assert positions == sorted(positions)
    assert trail(limit=7)["nextCursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 501}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "abc"}, "cursor"),
     ({"aggregateId": "nope"}, "aggregateId"), ({"outcome": "maybe"}, "outcome"),
     ({"from": "2026-01-01T00:00:00"}, "from"), ({"kind": "reads"}, "kind"),
     ({"order": "newest"}, "order"), ({"order": "desc", "cursor": "7"}, "cursor"),
     ({"purposeOfUse": "T" * 65}, "purposeOfUse"), ({"sourceSystem": "a\u0007"}, "sourceSystem")],
)  # fmt: skip
def test_bad_query_parameters_are_400(
    read_client: TestClient[Any], auditor: Headers, params: dict[str, Any], field: str
) -> None:
    reply = read_client.get(f"{AUDIT}/events", params=params, headers=auditor)

    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "VALIDATION"


def test_the_filters_combine(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    trail: Callable[..., dict[str, Any]],
    stored_services: PatientServices,
) -> None:
    ann, bob = auth("clerk", sub="ann"), auth("clerk", "nurse", sub="bob")
    one = read_client.post(API, json=visit_body(patientRef="P-1"), headers=ann).json()["id"]
    read_client.post(API, json=visit_body(patientRef="P-2"), headers=bob)
    read_client.post(f"{API}/{one}/arrive", json={}, headers=bob)
    middle = trail()["items"][1]["recordedAt"]

    def actions(**params: Any) -> list[str]:
        return [e["action"] for e in all_pages(trail, **params)]

    assert actions(patientRef="P-1") == ["VisitScheduled", "PatientArrived"]
    assert actions(actor="bob") == ["VisitScheduled", "PatientArrived"]
    assert actions(actor="bob", patientRef="P-1") == ["PatientArrived"]
    assert actions(aggregateId=one.upper()) == ["VisitScheduled", "PatientArrived"]
    assert actions(action="PatientArrived") == ["PatientArrived"]
    assert actions(outcome="refused") == []
    assert len(actions(**{"from": middle})) == 2
    assert len(actions(to=middle)) == 1


def test_idempotency_bookkeeping_is_listed_only_when_asked(
    read_client: TestClient[Any], clerk: Headers, trail: Callable[..., dict[str, Any]]
) -> None:
    read_client.post(API, json=visit_body(), headers={**clerk, "Idempotency-Key": "k-1"})

    assert [e["aggregateType"] for e in trail()["items"]] == ["PatientVisit"]
    listed = trail(includeBookkeeping="true")["items"]
    # The patient's bookings, written beside the visit, are bookkeeping too.
    assert [(e["aggregateType"], e["action"]) for e in listed] == [
        ("PatientBookings", "BookingsOpened"),
        ("PatientVisit", "VisitScheduled"),
        ("CommandRecord", "Accepted"),
    ]


def test_a_query_waits_for_the_position_and_gives_up_with_503(
    idle_read_client: TestClient[Any], auditor: Headers, clerk: Headers
) -> None:
    # No worker runs: the position is in the log but never reaches the read model.
    written = idle_read_client.post(API, json=visit_body(), headers=clerk)
    reply = idle_read_client.get(
        f"{AUDIT}/events",
        params={"minPosition": written.json()["position"], "waitMs": 0},
        headers=auditor,
    )

    assert reply.status_code == 503
    assert reply.json()["code"] == "PROJECTION_LAGGING"
    assert "Retry-After" in reply.headers


# ---- verify -------------------------------------------------------------------------------
def test_verify_reports_an_intact_chain_and_then_the_altered_entry(
    read_client: TestClient[Any],
    auditor: Headers,
    read_schedule: Callable[..., str],
    trail: Callable[..., dict[str, Any]],
    settings: Settings,
) -> None:
    for n in range(3):
        read_schedule(patientRef=f"P-{n}")
    entries = trail()["items"]

    intact = read_client.get(f"{AUDIT}/verify", headers=auditor).json()
    with sqlite3.connect(settings.var_dir / EVENTS_FILE) as conn:
        conn.execute(
            "UPDATE stored_events SET state = replace(state, 'P-1', 'P-X') WHERE rowid = ?",
            (entries[1]["position"],),
        )
    tampered = read_client.get(f"{AUDIT}/verify", headers=auditor).json()

    # Each booking is two records: the patient's bookings, then the visit.
    assert intact["ok"] is True and intact["checked"] == 6
    assert intact["firstBadPosition"] is None and len(intact["headHash"]) == 64
    assert tampered["ok"] is False
    assert tampered["firstBadPosition"] == entries[1]["position"]
    # Checked up to the altered record: the records before it.
    assert (tampered["problem"], tampered["checked"]) == ("altered", entries[1]["position"] - 1)
    assert tampered["headHash"] == intact["headHash"]


# ---- export -------------------------------------------------------------------------------
def test_a_csv_export_streams_the_filtered_trail_and_is_itself_recorded(
    read_client: TestClient[Any],
    auditor: Headers,
    read_schedule: Callable[..., str],
    trail: Callable[..., dict[str, Any]],
    stored_services: PatientServices,
) -> None:
    read_schedule(patientRef="P-1")
    read_schedule(patientRef="P-2")
    trail()  # the worker has read both

    reply = read_client.get(f"{AUDIT}/export", params={"format": "csv", "patientRef": "P-1"},
                       headers={**auditor, "X-Correlation-Id": "export-1"})  # fmt: skip

    assert reply.status_code == 200
    # The charset once: it was "text/csv; charset=utf-8; charset=utf-8".
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [(r["action"], r["patientRef"]) for r in rows] == [("VisitScheduled", "P-1")]
    [export] = trail(action="Exported")["items"]
    assert (export["aggregateType"], export["actorId"]) == ("TrailExport", "audrey")
    assert (export["patientRef"], export["correlationId"]) == ("P-1", "export-1")


def test_a_fhir_export_gives_one_audit_event_per_line(
    read_client: TestClient[Any],
    auditor: Headers,
    auth: Callable[..., Headers],
    read_schedule: Callable[..., str],
    trail: Callable[..., dict[str, Any]],
) -> None:
    visit_id = read_schedule(patientRef="P-5")
    read_client.post(f"{API}/{visit_id}/close", json={}, headers=auth("clerk"))  # denied
    trail()

    reply = read_client.get(f"{AUDIT}/export", params={"format": "fhir-ndjson"}, headers=auditor)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/fhir+ndjson"), reply.headers
    created, denied = (json.loads(line) for line in reply.text.splitlines())
    assert created["resourceType"] == denied["resourceType"] == "AuditEvent"
    assert (created["action"], created["outcome"]["code"]["code"]) == ("C", "0")
    assert created["encounter"] == {"reference": f"Encounter/{visit_id}"}
    assert created["patient"]["identifier"]["value"] == "P-5"
    # The attempted action (closing is an update), the failure in the outcome.
    assert (denied["action"], denied["outcome"]["code"]["code"]) == ("U", "8")
    assert denied["outcome"]["detail"][0]["text"] == "NOT_AUTHORISED"
    assert [c["code"] for c in denied["code"]["coding"]] == ["update", "CloseVisit"]


def test_an_export_needs_a_known_format(read_client: TestClient[Any], auditor: Headers) -> None:
    reply = read_client.get(f"{AUDIT}/export", params={"format": "xml"}, headers=auditor)

    assert reply.status_code == 400


def test_an_export_entry_shows_its_format_and_filters(
    read_client: TestClient[Any],
    auditor: Headers,
    trail: Callable[..., dict[str, Any]],
) -> None:
    reply = read_client.get(
        f"{AUDIT}/export", params={"format": "csv", "actor": "bob"}, headers=auditor
    )
    assert reply.status_code == 200

    [export] = trail(action="Exported")["items"]

    assert (export["kind"], export["format"]) == ("access", "csv")
    assert export["query"]["actor"] == "bob"


# ---- newest first and one entry -----------------------------------------------------------
def test_the_trail_pages_newest_first_when_asked(
    read_schedule: Callable[..., str], trail: Callable[..., dict[str, Any]]
) -> None:
    for n in range(5):
        read_schedule(patientRef=f"P-{n}")

    newest = all_pages(trail, order="desc", limit=2)

    assert [e["patientRef"] for e in newest] == [f"P-{n}" for n in reversed(range(5))]


def test_one_entry_by_position_waits_for_it_and_carries_its_hashes(
    read_client: TestClient[Any], auditor: Headers, read_schedule: Callable[..., str],
    trail: Callable[..., dict[str, Any]], stored_services: PatientServices,
) -> None:  # fmt: skip
    read_schedule(patientRef="P-1")
    read_schedule(patientRef="P-2")
    at = position(stored_services)

    reply = read_client.get(f"{AUDIT}/events/{at}", params={"minPosition": at}, headers=auditor)
    first = read_client.get(f"{AUDIT}/events/{at - 1}", headers=auditor).json()

    assert reply.status_code == 200, reply.text
    entry = reply.json()
    assert (entry["position"], entry["patientRef"], entry["kind"]) == (at, "P-2", "change")
    assert entry["prevHash"] == first["hash"] and len(entry["hash"]) == 64
    assert read_client.get(f"{AUDIT}/verify", headers=auditor).json()["headHash"] == entry["hash"]
