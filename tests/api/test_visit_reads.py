"""GET /api/v1/visits/{id}: the state, its ETag, and the state as of a version or a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import API, Headers, events_of, iso, visit_body

CONTRACT_FIELDS = {
    "id", "version", "status", "patientRef", "visitClass", "serviceUnit", "scheduledStart",
    "scheduledEnd", "arrivalAt", "triageAt", "acuityScale", "acuityLevel", "providerSeenAt",
    "admittedAt", "dischargedAt", "disposition", "currentLocation", "decisionToAdmitAt",
    "leftAt", "closedAt", "lateCancellation", "walkIn", "fhirStatus",
}  # fmt: skip


@pytest.fixture
def arrived_visit(client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]) -> str:
    visit_id = schedule(reasonCode="R-1")
    assert client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk).status_code == 200
    return visit_id


def test_a_visit_reads_in_camel_case_with_every_contract_field_and_an_etag(
    client: TestClient[Any], clerk: Headers, arrived_visit: str
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", headers=clerk)

    assert reply.status_code == 200
    assert reply.headers["ETag"] == '"2"'
    state = reply.json()
    assert CONTRACT_FIELDS <= set(state)
    assert state["id"] == arrived_visit
    assert state["version"] == 2
    assert (state["status"], state["fhirStatus"]) == ("arrived", "in-progress")
    assert state["patientRef"] == "P-1001"
    assert state["currentLocation"] == {"unit": "OPD-1", "bed": None}
    assert state["arrivalAt"].endswith("Z")
    assert state["dischargedAt"] is None
    assert state["lateCancellation"] is False


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', '"1", "2"', "*"])
def test_if_none_match_with_the_current_etag_is_304_without_a_body(
    client: TestClient[Any], clerk: Headers, arrived_visit: str, tag: str
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", headers={**clerk, "If-None-Match": tag})

    assert reply.status_code == 304
    assert reply.content == b""
    assert reply.headers["ETag"] == '"2"'


def test_if_none_match_with_an_old_etag_gets_the_state(
    client: TestClient[Any], clerk: Headers, arrived_visit: str
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", headers={**clerk, "If-None-Match": '"1"'})

    assert reply.status_code == 200
    assert reply.json()["version"] == 2


def test_as_of_version_gives_the_visit_as_it_was_then(
    client: TestClient[Any], clerk: Headers, arrived_visit: str
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", params={"asOfVersion": 1}, headers=clerk)

    assert reply.status_code == 200
    assert reply.headers["ETag"] == '"1"'
    assert (reply.json()["version"], reply.json()["status"]) == (1, "scheduled")
    assert reply.json()["currentLocation"] is None


def test_as_of_a_time_gives_what_the_record_said_then(
    client: TestClient[Any], clerk: Headers, arrived_visit: str, memory_services: PatientServices
) -> None:
    scheduled_at = events_of(memory_services, arrived_visit)[0].timestamp

    then = client.get(f"{API}/{arrived_visit}", params={"asOf": iso(scheduled_at)}, headers=clerk)
    offset = scheduled_at.astimezone().isoformat()  # the same instant, written with an offset
    same = client.get(f"{API}/{arrived_visit}", params={"asOf": offset}, headers=clerk)

    assert then.status_code == 200, then.text
    assert (then.json()["version"], then.json()["status"]) == (1, "scheduled")
    assert same.json()["version"] == 1


def test_before_the_visit_existed_or_past_its_last_version_it_is_not_found(
    client: TestClient[Any], clerk: Headers, arrived_visit: str, memory_services: PatientServices
) -> None:
    before = events_of(memory_services, arrived_visit)[0].timestamp - timedelta(seconds=1)

    early = client.get(f"{API}/{arrived_visit}", params={"asOf": iso(before)}, headers=clerk)
    future_version = client.get(f"{API}/{arrived_visit}", params={"asOfVersion": 9}, headers=clerk)

    assert early.status_code == future_version.status_code == 404
    assert early.json()["code"] == future_version.json()["code"] == "NOT_FOUND"
    # Past the last version, the answer says so, and which version is the latest.
    assert future_version.json()["detail"] == (
        f"visit {arrived_visit} has no version 9: the latest is 2"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"asOfVersion": 1, "asOf": "2026-01-01T00:00:00Z"}, "asOf"),
        ({"asOfVersion": 0}, "asOfVersion"),
        ({"asOfVersion": "two"}, "asOfVersion"),
        ({"asOfVersion": 2**63}, "asOfVersion"),  # past a 64-bit column: was a 500 on SQLite
        ({"asOf": "2026-01-01T00:00:00"}, "asOf"),
        ({"asOf": "yesterday"}, "asOf"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(
    client: TestClient[Any], clerk: Headers, arrived_visit: str, params: dict[str, Any], field: str
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", params=params, headers=clerk)

    assert reply.status_code == 400
    assert reply.headers["Content-Type"] == "application/problem+json"
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    assert [e["field"] for e in problem["errors"]] == [field]


def test_an_unknown_visit_is_404(client: TestClient[Any], clerk: Headers) -> None:
    visit_id = uuid4()

    reply = client.get(f"{API}/{visit_id}", headers=clerk)

    assert reply.status_code == 404
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "NOT_FOUND"
    assert str(visit_id) in reply.json()["detail"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_id_that_is_not_a_uuid_is_400_naming_the_id(
    client: TestClient[Any], staff: Headers, method: str
) -> None:
    path = f"{API}/not-a-uuid" if method == "get" else f"{API}/not-a-uuid/arrive"

    reply = client.request(
        method.upper(), path, headers=staff, json={} if method == "post" else None
    )

    assert reply.status_code == 400
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"] == [{"field": "id", "message": "must be a UUID"}]


@pytest.mark.parametrize("role", ["clerk", "nurse", "clinician", "manager", "auditor"])
def test_every_visit_reader_may_read(
    client: TestClient[Any], auth: Callable[..., Headers], arrived_visit: str, role: str
) -> None:
    assert client.get(f"{API}/{arrived_visit}", headers=auth(role)).status_code == 200


@pytest.mark.parametrize("roles", [("finance",), ("integration",), ("admin", "board")])
def test_roles_without_visit_access_may_not_read(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    arrived_visit: str,
    roles: tuple[str, ...],
) -> None:
    reply = client.get(f"{API}/{arrived_visit}", headers=auth(*roles))

    assert reply.status_code == 403
    assert reply.json()["code"] == "NOT_AUTHORISED"
    assert "patientRef" not in reply.text


@pytest.fixture
def sqlite_client(settings: Settings, sqlite_env: dict[str, str]) -> Iterator[TestClient[Any]]:
    services = PatientServices(env=sqlite_env)
    with TestClient(create_app(settings, services)) as test_client:
        yield test_client
    services.close()


def test_as_of_version_at_the_64_bit_limit_is_404_and_past_it_400_on_sqlite(
    sqlite_client: TestClient[Any], clerk: Headers
) -> None:
    created = sqlite_client.post(API, json=visit_body(), headers=clerk)
    visit_id = created.json()["id"]

    at_limit = sqlite_client.get(
        f"{API}/{visit_id}", params={"asOfVersion": 2**63 - 1}, headers=clerk
    )
    past_limit = sqlite_client.get(
        f"{API}/{visit_id}", params={"asOfVersion": 2**63}, headers=clerk
    )

    assert at_limit.status_code == 404, at_limit.text
    assert past_limit.status_code == 400, past_limit.text
    assert past_limit.json()["code"] == "VALIDATION"
    assert [e["field"] for e in past_limit.json()["errors"]] == ["asOfVersion"]
