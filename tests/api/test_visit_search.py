"""Visit numbers over HTTP: ``visitNumber``/``visitNumberAuthority`` on the two creations and in
``GET /api/v1/visits/{id}``, a duplicate refused 409, and the search
``GET /api/v1/visits?visitNumber=&patientRef=…`` from the flow read model (roles, 400 without a
key, read-your-writes, pages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import pytest
from litestar.testing import TestClient

from adapters.http.visit_search import VisitStatus
from adapters.readmodels.visits.store import FlowReadModel
from domain.visits.identity import visit_id_for
from domain.visits.vocabulary import STATES
from tests.support.api import API, Headers, visit_body

POSITION_HEADER = "X-Projection-Position"
READERS = {"clerk", "nurse", "clinician", "manager", "auditor"}
ROLES = (*sorted(READERS), "finance", "integration", "admin", "executive")

pytestmark = pytest.mark.read_models([FlowReadModel])


def create(client: TestClient[Any], headers: Headers, path: str = "", **body: Any) -> Any:
    if path == "/walk-ins":
        body = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED", **body}
    else:
        body = visit_body(**body)
    return client.post(f"{API}{path}", json=body, headers=headers)


def created(client: TestClient[Any], headers: Headers, path: str = "", **body: Any) -> Any:
    reply = create(client, headers, path, **body)
    assert reply.status_code == 201, reply.text
    return reply.json()


# ---- on the commands and the visit ----------------------------------------------------------
@pytest.mark.parametrize("path", ["", "/walk-ins"], ids=["schedule", "walk_in"])
def test_a_visit_created_with_a_number_shows_it_and_has_the_derived_id(
    client: TestClient[Any], clerk: Headers, path: str
) -> None:
    reply = created(client, clerk, path, visitNumber="V-100", visitNumberAuthority="HOSP-A")
    assert reply["id"] == str(visit_id_for("V-100", "HOSP-A"))

    visit = client.get(f"{API}/{reply['id']}", headers=clerk).json()
    assert (visit["visitNumber"], visit["visitNumberAuthority"]) == ("V-100", "HOSP-A")

    again = create(client, clerk, path, visitNumber="V-100", visitNumberAuthority="HOSP-A")
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_EXISTS")


def test_a_visit_without_a_number_shows_nulls(client: TestClient[Any], clerk: Headers) -> None:
    reply = created(client, clerk)
    visit = client.get(f"{API}/{reply['id']}", headers=clerk).json()
    assert visit["visitNumber"] is None and visit["visitNumberAuthority"] is None


def test_an_authority_without_a_number_is_refused(client: TestClient[Any], clerk: Headers) -> None:
    reply = create(client, clerk, visitNumberAuthority="HOSP-A")
    assert (reply.status_code, reply.json()["code"]) == (400, "VALIDATION")
    assert [e["field"] for e in reply.json()["errors"]] == ["visitNumberAuthority"]


def test_a_repeated_numbered_booking_with_its_key_replays_rather_than_conflicts(
    client: TestClient[Any], clerk: Headers
) -> None:
    headers = {**clerk, "Idempotency-Key": "book-v-200"}
    body = visit_body(visitNumber="V-200")
    first = client.post(API, json=body, headers=headers)
    second = client.post(API, json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


def test_the_status_filter_lists_every_visit_state() -> None:
    assert set(get_args(VisitStatus)) == set(STATES)


# ---- the search -------------------------------------------------------------------------------
def test_a_visit_is_found_by_its_number_right_after_it_is_booked(
    read_client: TestClient[Any], clerk: Headers
) -> None:
    booked = created(read_client, clerk, visitNumber="V-1", visitNumberAuthority="HOSP-A")
    created(read_client, clerk, visitNumber="V-1", visitNumberAuthority="HOSP-B")

    reply = read_client.get(
        API, headers=clerk,
        params={"visitNumber": "V-1", "visitNumberAuthority": "HOSP-A",
                "minPosition": booked["position"]},
    )  # fmt: skip

    assert reply.status_code == 200, reply.text
    assert int(reply.headers[POSITION_HEADER]) >= booked["position"]
    body = reply.json()
    assert body["nextCursor"] is None
    [item] = body["items"]
    assert item["id"] == booked["id"]
    assert (item["visitNumber"], item["visitNumberAuthority"]) == ("V-1", "HOSP-A")
    assert (item["patientRef"], item["status"], item["visitClass"]) == ("P-1001", "scheduled",
                                                                        "AMB")  # fmt: skip
    assert (item["serviceUnit"], item["version"], item["currentLocation"]) == ("OPD-1", 1, None)
    assert {"arrivalAt", "departureAt", "scheduledStart", "fhirStatus"} <= set(item)


def test_a_patients_visits_are_found_and_paged(
    read_client: TestClient[Any], clerk: Headers
) -> None:
    replies = [created(read_client, clerk, patientRef="P-77") for _ in range(3)]
    created(read_client, clerk, patientRef="P-78")
    newest = max(reply["position"] for reply in replies)

    def page(**params: Any) -> Any:
        reply = read_client.get(
            API, headers=clerk, params={"patientRef": "P-77", "limit": 2, **params}
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    first = page(minPosition=newest)
    assert len(first["items"]) == 2 and first["nextCursor"] == first["items"][-1]["id"]
    second = page(cursor=first["nextCursor"])
    assert len(second["items"]) == 1 and second["nextCursor"] is None
    found = [item["id"] for item in first["items"] + second["items"]]
    assert found == sorted(reply["id"] for reply in replies)
    assert all(item["patientRef"] == "P-77" for item in first["items"] + second["items"])

    cancelled = page(status="cancelled")
    assert cancelled == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    "params",
    [{}, {"visitNumberAuthority": "HOSP-A"}, {"status": "arrived"}],
    ids=["nothing", "authority-only", "status-only"],
)
def test_a_search_without_a_number_or_a_patient_is_400(
    read_client: TestClient[Any], clerk: Headers, params: dict[str, str]
) -> None:
    reply = read_client.get(API, headers=clerk, params=params)
    assert reply.status_code == 400
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    assert problem["errors"] == [
        {"field": "visitNumber", "message": "give visitNumber or patientRef (or both)"}
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"patientRef": "P-1", "cursor": "not-a-cursor"}, "cursor"),
        ({"patientRef": "P-1", "status": "asleep"}, "status"),
        ({"patientRef": "P-1", "limit": "0"}, "limit"),
        ({"visitNumber": "V\u0007"}, "visitNumber"),
    ],
    ids=["cursor", "status", "limit", "control-character"],
)
def test_bad_search_parameters_are_400(
    read_client: TestClient[Any], clerk: Headers, params: dict[str, str], field: str
) -> None:
    reply = read_client.get(API, headers=clerk, params=params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "VALIDATION"
    assert field in {e["field"] for e in reply.json()["errors"]}


def test_the_search_is_for_the_visit_readers_only(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    for role in ROLES:
        reply = read_client.get(API, headers=auth(role), params={"patientRef": "P-1"})
        if role in READERS:
            assert reply.status_code == 200, (role, reply.text)
        else:
            assert reply.status_code == 403, (role, reply.text)
            assert reply.json()["code"] == "NOT_AUTHORISED"


def test_the_search_without_a_token_is_401(read_client: TestClient[Any]) -> None:
    assert read_client.get(API, params={"patientRef": "P-1"}).status_code == 401
