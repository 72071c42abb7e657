"""``GET /api/v1/audit/export`` in FHIR R4 and R5 and CSV, over a SQLite store with a history
holding every kind of trail entry: every event of visits, complaints and budget lines,
refused and denied commands, denied reads, reads of patient data (accesses), exports, an HL7
feed message with its source system and message id, and requests on someone's behalf.

Every FHIR line is validated with ``fhir.resources`` (R4B models for R4, R5 models); the
vocabulary endpoint names every action the export holds."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.http.audit_export import CSV_COLUMNS, FILTER_PARAMETERS
from adapters.readmodels.audit.store import AuditReadModel
from application.service import PatientServices
from tests.support.api import API, Headers, position, visit_body
from tests.support.audit_export import (
    DCM,
    agent_type_codes,
    our_action,
    record_reads,
    validated_lines,
    walk_every_aggregate,
)
from tests.support.histories import EXPECTED_EVENTS
from tests.support.hl7 import HL7_MEDIA_TYPE, adt

AUDIT = "/api/v1/audit"
#: The columns of the export before accesses were recorded, in their order.
FIRST_COLUMNS = [
    "position", "eventId", "aggregateType", "aggregateId", "version", "action", "outcome",
    "patientRef", "actorId", "actorRole", "onBehalfOf", "occurredAt", "recordedAt", "reason",
    "sourceSystem", "sourceMessageId", "commandId", "correlationId", "correctsEventId", "code",
    "targetType", "targetId",
]  # fmt: skip
ACCESS_COLUMNS = ["kind", "purposeOfUse", "patientRefs", "recordIds", "resultCount", "route",
                  "query", "format"]  # fmt: skip

pytestmark = pytest.mark.read_models([AuditReadModel])


@pytest.fixture
def auditor(auth: Callable[..., Headers]) -> Headers:
    return auth("auditor", sub="audrey")


@pytest.fixture
def caught_up(
    read_client: TestClient[Any], auditor: Headers, stored_services: PatientServices
) -> Callable[[], list[dict[str, Any]]]:
    """``caught_up()`` → the whole trail (every page), once the worker has read the log."""

    def read() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"minPosition": position(stored_services), "limit": 500}
        while True:
            page = read_client.get(f"{AUDIT}/events", params=params, headers=auditor).json()
            items += page["items"]
            if page["nextCursor"] is None:
                return items
            params["cursor"] = page["nextCursor"]

    return read


@pytest.fixture
def history(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    auditor: Headers,
    stored_services: PatientServices,
    caught_up: Callable[[], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Every kind of entry; returns the trail as it then stands."""
    walk_every_aggregate(stored_services)
    record_reads(stored_services)
    clerk = {**auth("clerk", sub="=HYPERLINK(1)"), "X-On-Behalf-Of": "dr-b"}
    booked = read_client.post(API, json=visit_body(patientRef="P-77"), headers=clerk)
    assert booked.status_code == 201, booked.text
    feed = {**auth("integration"), "Content-Type": HL7_MEDIA_TYPE}
    fed = read_client.post("/api/v1/hl7", content=adt("A04", "MSG-1"), headers=feed)
    assert fed.status_code == 200 and b"|AA|" in fed.content, fed.content
    denied = read_client.get(f"{API}/{booked.json()['id']}", headers=auth("finance"))
    assert denied.status_code == 403
    assert read_client.get("/api/v1/flow/board", headers=auth("finance")).status_code == 403
    caught_up()
    exported = read_client.get(f"{AUDIT}/export", headers=auditor,
                               params={"format": "csv", "patientRef": "P-77"})  # fmt: skip
    assert exported.status_code == 200
    return caught_up()


def export(client: TestClient[Any], headers: Headers, export_format: str, **params: Any) -> Any:
    reply = client.get(f"{AUDIT}/export", params={"format": export_format, **params},
                       headers=headers)  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/fhir+ndjson")
    return reply


def test_the_history_holds_every_kind_of_entry(history: list[dict[str, Any]]) -> None:
    kinds = {(e["aggregateType"], e["outcome"], e["action"].startswith("read ")) for e in history}
    assert {
        ("PatientVisit", "recorded", False), ("ComplaintCase", "recorded", False),
        ("BudgetLine", "recorded", False), ("CommandAttempt", "refused", False),
        ("CommandAttempt", "denied", False), ("CommandAttempt", "denied", True),
        ("AccessRecord", "success", True), ("TrailExport", "recorded", False),
    } <= kinds  # fmt: skip
    assert any(e["sourceSystem"] and e["sourceMessageId"] == "MSG-1" for e in history)
    assert any(e["onBehalfOf"] for e in history)


@pytest.mark.parametrize("export_format", ["fhir-r4-ndjson", "fhir-r5-ndjson"])
def test_every_line_validates_and_is_shaped_after_balp(
    read_client: TestClient[Any], auditor: Headers, history: list[dict[str, Any]],
    export_format: str,
) -> None:  # fmt: skip
    version = export_format[5:7]
    events = validated_lines(export(read_client, auditor, export_format).text, export_format)

    assert [e["id"] for e in events] == [str(entry["position"]) for entry in history]
    for entry, event in zip(history, events, strict=True):
        assert our_action(event, version) == entry["action"]
        types = agent_type_codes(event)
        assert types[-1] == "110152" and all(types)  # the server; every agent typed
        assert ("DELEGATOR" in types) == bool(entry["onBehalfOf"])
        assert ("110153" in types) == bool(entry["sourceSystem"])  # a feed's client
        outcome = event["outcome"] if version == "r4" else event["outcome"]["code"]["code"]
        assert outcome == {"refused": "4", "denied": "8"}.get(entry["outcome"], "0")
        if entry["outcome"] == "denied":
            kind = event["type"] if version == "r4" else event["category"][0]["coding"][0]
            assert (kind["system"], kind["code"]) == (DCM, "110113")
    assert "urn:patient-services:None" not in str(events)


def test_every_event_class_of_each_aggregate_is_exported(
    read_client: TestClient[Any], auditor: Headers, history: list[dict[str, Any]]
) -> None:
    events = validated_lines(export(read_client, auditor, "fhir-r4-ndjson").text,
                             "fhir-r4-ndjson")  # fmt: skip
    exported = {our_action(event, "r4") for event in events}
    for aggregate in ("PatientVisit", "ComplaintCase", "BudgetLine"):
        assert EXPECTED_EVENTS[aggregate] <= exported, aggregate


def test_fhir_ndjson_is_r5_and_the_export_records_its_format_and_filters(
    read_client: TestClient[Any], auditor: Headers, history: list[dict[str, Any]],
    caught_up: Callable[[], list[dict[str, Any]]],
) -> None:  # fmt: skip
    params = {"actor": "duty manager", "from": "2000-01-01T00:00:00+01:00", "kind": "change"}
    alias = export(read_client, auditor, "fhir-ndjson", **params)
    r5 = export(read_client, auditor, "fhir-r5-ndjson", **params)

    assert alias.text == r5.text and alias.text
    validated_lines(alias.text, "fhir-ndjson")
    *_, first, second = [e for e in caught_up() if e["action"] == "Exported"]
    assert first["format"] == second["format"] == "fhir-r5-ndjson"
    assert first["query"] == params  # as given
    assert (first["kind"], first["actorId"]) == ("access", "audrey")


def test_the_csv_keeps_its_columns_appends_the_access_ones_and_defuses_formulas(
    read_client: TestClient[Any], auditor: Headers, history: list[dict[str, Any]]
) -> None:
    reply = read_client.get(f"{AUDIT}/export", params={"format": "csv"}, headers=auditor)

    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0][: len(FIRST_COLUMNS) + len(ACCESS_COLUMNS)] == FIRST_COLUMNS + ACCESS_COLUMNS
    assert rows[0] == CSV_COLUMNS
    entries = list(csv.DictReader(io.StringIO(reply.text)))
    [search] = [e for e in entries if e["action"] == "search visits"]
    assert (search["kind"], search["purposeOfUse"]) == ("access", "TREAT")
    assert search["patientRefs"] == "P-1 P-2"
    assert search["query"] == '{"patientRef":"P-1"}'
    [board] = [e for e in entries if e["action"] == "read board"]
    assert (board["patientRefs"], board["resultCount"]) == ("", "740")
    [exported] = [e for e in entries if e["action"] == "Exported"]
    assert (exported["format"], exported["patientRefs"]) == ("csv", "P-77")
    # A value a spreadsheet would run as a formula is sent as text.
    booked = [e for e in entries if e["patientRef"] == "P-77" and e["action"] == "VisitScheduled"]
    assert [e["actorId"] for e in booked] == ["'=HYPERLINK(1)"]


def test_the_vocabulary_names_every_action_the_trail_holds(
    read_client: TestClient[Any], auditor: Headers, auth: Callable[..., Headers],
    history: list[dict[str, Any]], caught_up: Callable[[], list[dict[str, Any]]],
) -> None:  # fmt: skip
    reply = read_client.get(f"{AUDIT}/actions", headers=auditor)
    refused = read_client.get(f"{AUDIT}/actions", headers=auth("clerk", sub="mallory"))

    assert reply.status_code == 200, reply.text
    known = {item["action"] for item in reply.json()["items"]}
    assert {entry["action"] for entry in history} <= known
    assert refused.status_code == 403
    [denial] = [e for e in caught_up() if e["actorId"] == "mallory"]
    assert denial["action"] == "read audit vocabulary" and denial["action"] in known


def test_the_export_takes_the_trails_filters_and_records_each_of_them(
    read_client: TestClient[Any],
) -> None:
    document = read_client.get("/schema/openapi.json").json()

    def query_parameters(path: str) -> set[str]:
        parameters = document["paths"][path]["get"]["parameters"]
        return {p["name"] for p in parameters if p["in"] == "query"}

    filters = query_parameters(f"{AUDIT}/export") - {"format"}
    paging = {"order", "cursor", "limit", "minPosition", "waitMs"}
    assert filters == query_parameters(f"{AUDIT}/events") - paging
    assert filters - {"patientRef"} == set(FILTER_PARAMETERS)
    [export_format] = [p for p in document["paths"][f"{AUDIT}/export"]["get"]["parameters"]
                       if p["name"] == "format"]  # fmt: skip
    assert set(export_format["schema"]["enum"]) == {
        "csv", "fhir-r4-ndjson", "fhir-r5-ndjson", "fhir-ndjson"}  # fmt: skip


def test_an_export_records_its_purpose_of_use_and_on_whose_behalf_it_was_asked(
    read_client: TestClient[Any], auditor: Headers, stored_services: PatientServices,
    caught_up: Callable[[], list[dict[str, Any]]],
) -> None:  # fmt: skip
    asked = {**auditor, "X-Purpose-Of-Use": "HOPERAT", "X-On-Behalf-Of": "privacy-desk"}
    export(read_client, asked, "fhir-r4-ndjson", patientRef="P-9")
    plain = read_client.get(f"{AUDIT}/export", params={"format": "csv"}, headers=auditor)
    assert plain.status_code == 200, plain.text
    before = position(stored_services)
    malformed = read_client.get(f"{AUDIT}/export", params={"format": "csv"},
                                headers={**auditor, "X-Purpose-Of-Use": "treat; drop"})  # fmt: skip

    assert malformed.status_code == 400
    assert malformed.headers["Content-Type"].startswith("application/problem+json")
    assert position(stored_services) == before  # nothing recorded for it
    first, second = [e for e in caught_up() if e["action"] == "Exported"]
    assert (first["purposeOfUse"], first["onBehalfOf"], first["patientRef"]) == (
        "HOPERAT", "privacy-desk", "P-9")  # fmt: skip
    assert (second["purposeOfUse"], second["onBehalfOf"]) == ("TREAT", None)  # the default
    # The trail's own filter finds the export by its purpose, like any access.
    by_purpose = {"purposeOfUse": "HOPERAT", "kind": "access"}
    found = read_client.get(f"{AUDIT}/events", headers=auditor, params=by_purpose).json()
    assert [e["action"] for e in found["items"]] == ["Exported"]
