"""Access records over HTTP (issue 13, item 1): which reads leave one, what it holds
(action, route, query, purpose of use, who, the refs and ids returned or the count past the
threshold), and which requests leave none (bad headers, 304, 404, denials, budget and
report routes). On the SQLite store with the read models' workers running; the app gets its
own recorder, flushed before the log is read. The property over every route and generated
data is tests/integration/test_access_property.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from adapters.access_recording import AccessRecorder
from adapters.composition import access_recorder
from adapters.http.app import create_app
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.access import AccessRecord
from application.shared.attempts import CommandAttempt
from tests.support.api import API, Headers, iso, now, position, recorded_since

FLOW = "/api/v1/flow"


@contextmanager
def recording_app(
    settings: Settings,
    services: PatientServices,
    database: ReadDatabase,
    models: list[Callable[[], ReadModel]],
) -> Iterator[tuple[TestClient[Any], AccessRecorder]]:
    """The app over ``services`` with an access recorder and the read models' workers."""
    recorder = access_recorder(settings, services).start()
    supervisor = ProjectionSupervisor(database, models)
    supervisor.start()
    try:
        app = create_app(settings, services, read_database=database, access_recorder=recorder)
        with TestClient(app) as client:
            yield client, recorder
    finally:
        supervisor.stop()
        recorder.close()


@pytest.fixture
def world(
    settings: Settings,
    stored_services: PatientServices,
    read_database: ReadDatabase,
    read_models: list[Callable[[], ReadModel]],
) -> Iterator[tuple[TestClient[Any], AccessRecorder]]:
    small = replace(settings, access_list_threshold=2, access_default_purpose="HOPERAT")
    with recording_app(small, stored_services, read_database, read_models) as pair:
        yield pair


def head(services: PatientServices, recorder: AccessRecorder) -> int:
    """The log's position once every access noted so far is saved."""
    assert recorder.flush()
    return position(services)


def accesses(services: PatientServices, recorder: AccessRecorder, after: int) -> list[Any]:
    assert recorder.flush()
    return [e for e in recorded_since(services, after) if isinstance(e, AccessRecord.Accessed)]


def walk_in(client: TestClient[Any], headers: Headers, patient: str, unit: str = "ED") -> Any:
    body = {"patientRef": patient, "visitClass": "EMER", "serviceUnit": unit}
    reply = client.post(f"{API}/walk-ins", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_a_visit_read_records_who_why_what_and_when(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse", sub="nina")
    visit = walk_in(client, staff, "P-7")["id"]
    before = head(stored_services, recorder)
    reply = client.get(f"{API}/{visit}", headers={
        **staff, "X-Purpose-Of-Use": "TREAT", "X-On-Behalf-Of": "dr-ward-4",
        "X-Correlation-Id": "read-1",
    })  # fmt: skip
    assert reply.status_code == 200
    [access] = accesses(stored_services, recorder, before)
    assert (access.action, access.route, access.query, access.purpose_of_use) == (
        "read visit", "/api/v1/visits/{id}", {}, "TREAT",
    )  # fmt: skip
    assert (access.patient_refs, access.record_ids, access.result_count) == (["P-7"], [visit], 1)
    assert (access.truncated, access.outcome) == (False, "success")
    assert (access.actor_id, access.actor_role, access.on_behalf_of) == (
        "nina", "clerk,nurse", "dr-ward-4",
    )  # fmt: skip
    assert access.correlation_id == "read-1"
    assert access.occurred_at <= access.timestamp  # read, then saved


def test_without_the_header_the_configured_default_purpose_is_recorded(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    created = walk_in(client, staff, "P-8")
    before = head(stored_services, recorder)
    params = {"patientRef": "P-8", "minPosition": created["position"]}
    assert client.get(API, params=params, headers=staff).status_code == 200
    [access] = accesses(stored_services, recorder, before)
    assert (access.action, access.purpose_of_use) == ("search visits", "HOPERAT")
    assert access.query == {"patientRef": "P-8", "minPosition": str(created["position"])}


MALFORMED = [
    *(("X-Purpose-Of-Use", v) for v in ("treat", "TREAT OR 1", "A" * 21, "", "TREAT1")),
    *(("X-On-Behalf-Of", v) for v in ("", "Dr. Who?", "a" * 101, "-leading")),
]


@pytest.mark.parametrize(("header", "value"), MALFORMED)
def test_a_malformed_header_is_a_400_and_records_nothing(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
    header: str,
    value: str,
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    visit = walk_in(client, staff, "P-9")["id"]
    before = head(stored_services, recorder)
    api = client.get(f"{API}/{visit}", headers={**staff, header: value})
    assert api.status_code == 400, api.text
    assert api.json()["code"] == "VALIDATION"
    assert api.json()["errors"][0]["field"] == header
    fhir = client.get(f"/fhir/r4/Encounter/{visit}", headers={**staff, header: value})
    assert fhir.status_code == 400
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert accesses(stored_services, recorder, before) == []
    assert position(stored_services) == before


def test_past_the_threshold_the_query_and_the_count_are_recorded_not_the_refs(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    last = [walk_in(client, staff, "P-10", unit="ED-T") for _ in range(3)][-1]
    before = head(stored_services, recorder)
    params = {"unit": "ED-T", "minPosition": last["position"]}
    census = client.get(f"{FLOW}/census", params=params, headers=staff)
    assert census.status_code == 200 and census.json()["count"] == 3
    [access] = accesses(stored_services, recorder, before)
    assert (access.action, access.truncated, access.result_count) == ("read census", True, 3)
    assert (access.patient_refs, access.record_ids) == ([], [])
    assert access.query["unit"] == "ED-T"


def test_the_board_is_recorded_plain_and_gzipped_alike(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    created = walk_in(client, staff, "P-11", unit="ED-B")
    before = head(stored_services, recorder)
    params = {"unit": "ED-B", "minPosition": created["position"]}
    for encoding in ("gzip", "identity"):
        reply = client.get(f"{FLOW}/board", params=params,
                           headers={**staff, "Accept-Encoding": encoding})  # fmt: skip
        assert reply.status_code == 200
    as_of = {"unit": "ED-B", "asOf": iso(now())}  # a board as it stood: built per request
    assert client.get(f"{FLOW}/board", params=as_of, headers=staff).status_code == 200
    found = accesses(stored_services, recorder, before)
    assert [(a.action, a.patient_refs, a.record_ids) for a in found] == [
        ("read board", ["P-11"], [created["id"]])
    ] * 3
    assert found[2].query == as_of


def test_what_records_no_access(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    visit = walk_in(client, staff, "P-12")["id"]
    etag = client.get(f"{API}/{visit}", headers=staff).headers["ETag"]
    before = head(stored_services, recorder)
    assert client.get(f"{API}/{visit}", headers={**staff, "If-None-Match": etag}).status_code == 304
    missing = f"{API}/00000000-0000-0000-0000-000000000001"
    assert client.get(missing, headers=staff).status_code == 404
    denied = client.get(f"{FLOW}/metrics", headers=staff)  # managers only
    assert denied.status_code == 403
    finance = auth("manager", "finance", "executive")
    # Budget figures and complaint counts per month or theme carry no patient data.
    for path in ("/api/v1/budget/summary?fiscalYear=2026", "/api/v1/complaints/sla",
                 "/api/v1/complaints/themes"):  # fmt: skip
        assert client.get(path, headers=finance).status_code == 200, path
    found = accesses(stored_services, recorder, before)
    assert found == []
    [denial] = recorded_since(stored_services, before)  # the denial is an attempt, as before
    assert isinstance(denial, CommandAttempt.Refused)


def test_the_document_declares_the_headers_on_recorded_routes_only(
    client: TestClient[Any],
) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]

    def headers_of(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"].get("parameters", []) if p["in"] == "header"}

    for path in ("/api/v1/visits/{id}", "/api/v1/flow/board", "/api/v1/complaints/worklist",
                 "/fhir/r4/Encounter", "/fhir/r5/EncounterHistory"):  # fmt: skip
        assert {"X-Purpose-Of-Use", "X-On-Behalf-Of"} <= headers_of(path), path
    for path in ("/api/v1/budget/summary", "/api/v1/complaints/sla", "/health"):
        assert "X-Purpose-Of-Use" not in headers_of(path), path


def test_an_app_given_no_recorder_records_nothing_but_still_checks_the_header(
    client: TestClient[Any],
    memory_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    staff = auth("clerk", "nurse")
    visit = walk_in(client, staff, "P-13")["id"]
    before = position(memory_services)
    assert client.get(f"{API}/{visit}", headers=staff).status_code == 200
    bad = client.get(f"{API}/{visit}", headers={**staff, "X-Purpose-Of-Use": "why"})
    assert bad.status_code == 400
    assert position(memory_services) == before
    assert UUID(visit)


def test_the_recorders_figures_are_in_metrics(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    visit = walk_in(client, staff, "P-14")["id"]
    for _ in range(2):
        assert client.get(f"{API}/{visit}", headers=staff).status_code == 200
    assert recorder.flush()
    lines = client.get("/metrics").text.splitlines()
    assert "access_records_saved_total 2.0" in lines
    assert "access_records_pending 0.0" in lines
    assert not any(line.startswith("access_records_dropped_total{") for line in lines)


def test_only_the_routes_own_query_parameters_are_recorded(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    staff = auth("clerk", "nurse")
    created = walk_in(client, staff, "P-15")
    before = head(stored_services, recorder)
    # A route ignores a parameter it does not declare; it may hold any text: never recorded.
    params = {"patientRef": "P-15", "status": "arrived", "name": "Jane Doe", "note": "x"}
    reply = client.get(API, params={**params, "minPosition": created["position"]}, headers=staff)
    assert reply.status_code == 200
    [access] = accesses(stored_services, recorder, before)
    assert access.query == {"patientRef": "P-15", "status": "arrived",
                            "minPosition": str(created["position"])}  # fmt: skip


def test_the_bed_board_and_a_clinic_day_list_record_the_patients_they_show(
    world: tuple[TestClient[Any], AccessRecorder],
    stored_services: PatientServices,
    auth: Callable[..., Headers],
) -> None:
    client, recorder = world
    admin, staff = auth("admin"), auth("clerk", "nurse", "clinician", sub="nina")
    unit = {"code": "W9", "name": "Ward 9", "kind": "ward", "beds": [{"bed": "1"}]}
    assert client.post("/api/v1/units", json=unit, headers=admin).status_code == 201
    admitted = walk_in(client, staff, "P-BED")["id"]
    at = client.post(f"{API}/{admitted}/admit", json={"unit": "W9", "bed": "1"}, headers=staff)
    start = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)  # a Monday
    schedule = client.post("/api/v1/schedules", headers=admin, json={
        "serviceUnit": "OPD", "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "slotMinutes": 30,
        "capacityPerSlot": 1,
    }).json()["id"]  # fmt: skip
    booked = client.post(API, headers=staff, json={
        "patientRef": "P-CLINIC", "visitClass": "AMB", "serviceUnit": "OPD",
        "scheduledStart": start.isoformat(), "scheduleId": schedule,
    }).json()  # fmt: skip
    newest = max(at.json()["position"], booked["position"])
    before = head(stored_services, recorder)

    board = client.get(f"{FLOW}/beds", params={"unit": "W9", "minPosition": newest},
                       headers=staff)  # fmt: skip
    day = client.get(
        f"/api/v1/schedules/{schedule}/day",
        params={"date": "2030-01-07", "minPosition": newest},
        headers=staff,
    )
    assert board.status_code == day.status_code == 200, (board.text, day.text)

    bed_read, day_read = accesses(stored_services, recorder, before)
    assert (bed_read.action, bed_read.patient_refs, bed_read.record_ids) == (
        "read bed board", ["P-BED"], [admitted],
    )  # fmt: skip
    assert (day_read.action, day_read.patient_refs, day_read.record_ids) == (
        "read clinic day list", ["P-CLINIC"], [booked["id"]],
    )  # fmt: skip
