"""The flow endpoints over HTTP, on a real SQLite store with the flow worker running: who may
read what, read-your-writes (``minPosition``), ``X-Projection-Position``, 503
``PROJECTION_LAGGING`` when the view does not catch up in time, and 400s for bad instants.

Queries pass the position a command returned as ``minPosition``: no sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.readmodels.visits.store import FlowReadModel
from tests.support.api import API, Headers, iso, now

FLOW = "/api/v1/flow"
POSITION_HEADER = "X-Projection-Position"


pytestmark = pytest.mark.read_models([FlowReadModel])


@pytest.fixture
def idle_client(idle_read_client: TestClient[Any]) -> TestClient[Any]:
    """The app with no worker: the view never moves."""
    return idle_read_client


def walk_in(client: TestClient[Any], headers: Headers, minutes_ago: int = 30) -> tuple[str, int]:
    body = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED",
            "arrivalAt": iso(now() - timedelta(minutes=minutes_ago))}  # fmt: skip
    reply = client.post(f"{API}/walk-ins", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"], reply.json()["position"]


def act(client: TestClient[Any], headers: Headers, visit: str, action: str, **body: Any) -> int:
    reply = client.post(f"{API}/{visit}/{action}", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return int(reply.json()["position"])


def minutes_ago(minutes: int) -> str:
    return iso(now() - timedelta(minutes=minutes))


# ---- roles ----------------------------------------------------------------------------------
READS = {
    f"{FLOW}/board": {"clerk", "nurse", "clinician", "manager"},
    f"{FLOW}/census": {"nurse", "clinician"},
    f"{FLOW}/metrics": {"manager"},
    f"{API}/00000000-0000-0000-0000-000000000001/timeline": {"nurse", "clinician"},
}
ROLES = ("clerk", "nurse", "clinician", "manager", "auditor", "finance", "integration", "admin")


@pytest.mark.parametrize("path", sorted(READS))
def test_each_flow_read_is_for_its_roles_only(
    read_client: TestClient[Any], auth: Callable[..., Headers], path: str
) -> None:
    for role in ROLES:
        reply = read_client.get(path, headers=auth(role))
        if role in READS[path]:
            assert reply.status_code in (200, 404), (role, reply.text)  # 404: no such visit
        else:
            assert reply.status_code == 403, (role, reply.text)
            assert reply.json()["code"] == "NOT_AUTHORISED"


def test_a_read_without_a_token_is_401(read_client: TestClient[Any]) -> None:
    assert read_client.get(f"{FLOW}/board").status_code == 401


# ---- read-your-writes -----------------------------------------------------------------------
def test_min_position_shows_your_own_write_on_the_board(
    read_client: TestClient[Any], staff: Headers
) -> None:
    visit, position = walk_in(read_client, staff)

    reply = read_client.get(f"{FLOW}/board", params={"minPosition": position}, headers=staff)

    assert reply.status_code == 200
    assert int(reply.headers[POSITION_HEADER]) >= position
    [unit] = reply.json()["units"]
    assert unit["unit"] == "ED"
    [entry] = unit["arrived"]
    assert entry["visitId"] == visit
    assert entry["location"] == {"unit": "ED", "bed": None}
    assert 29 <= entry["minutesSinceArrival"] <= 31


def test_the_board_is_sent_gzipped_to_clients_that_accept_it_and_plain_to_others(
    read_client: TestClient[Any], staff: Headers
) -> None:
    _, position = walk_in(read_client, staff)
    params = {"minPosition": position}

    zipped = read_client.get(
        f"{FLOW}/board", params=params, headers={**staff, "Accept-Encoding": "gzip"}
    )
    plain = read_client.get(
        f"{FLOW}/board", params=params, headers={**staff, "Accept-Encoding": "identity"}
    )

    assert zipped.headers["Content-Encoding"] == "gzip"  # httpx inflates it for .json()
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"

    # The same board either way (minutes may differ if the two straddle a second).
    def visits(reply: Any) -> list[tuple[str, str]]:
        return [(u["unit"], e["visitId"]) for u in reply.json()["units"] for e in u["arrived"]]

    assert visits(zipped) == visits(plain) and visits(plain)


def test_a_board_served_again_within_its_second_never_hides_a_newer_own_write(
    read_client: TestClient[Any], staff: Headers
) -> None:
    first, position = walk_in(read_client, staff)
    before = read_client.get(f"{FLOW}/board", params={"minPosition": position}, headers=staff)
    second, newer = walk_in(read_client, staff)  # very likely within the same second

    after = read_client.get(f"{FLOW}/board", params={"minPosition": newer}, headers=staff)

    assert int(after.headers[POSITION_HEADER]) >= newer > int(before.headers[POSITION_HEADER])
    [unit] = after.json()["units"]
    assert {entry["visitId"] for entry in unit["arrived"]} == {first, second}


def test_the_board_shows_boarders_and_waits_per_state(
    read_client: TestClient[Any], staff: Headers
) -> None:
    visit, _ = walk_in(read_client, staff, minutes_ago=60)
    act(read_client, staff, visit, "triage", acuityScale="ESI", acuityLevel=2,
        occurredAt=minutes_ago(50))  # fmt: skip
    act(read_client, staff, visit, "clinician-contact", clinicianRef="dr-1",
        occurredAt=minutes_ago(40))  # fmt: skip
    position = act(read_client, staff, visit, "decide-admission", targetUnit="W1",
                   occurredAt=minutes_ago(20))  # fmt: skip

    reply = read_client.get(
        f"{FLOW}/board", params={"unit": "ED", "minPosition": position}, headers=staff
    )

    [unit] = reply.json()["units"]
    [entry] = unit["withClinician"]
    assert unit["boarders"] == [entry]
    assert (entry["acuityScale"], entry["acuityLevel"], entry["targetUnit"]) == ("ESI", 2, "W1")
    assert 39 <= entry["minutesInState"] <= 41 and 19 <= entry["minutesBoarding"] <= 21
    other = read_client.get(f"{FLOW}/board", params={"unit": "W1"}, headers=staff)
    assert other.json()["units"] == []


def test_every_flow_answer_carries_the_projection_position(
    read_client: TestClient[Any], staff: Headers, auth: Callable[..., Headers]
) -> None:
    visit, position = walk_in(read_client, staff)
    nurse, manager = auth("nurse"), auth("manager")

    for path, headers in (
        (f"{FLOW}/board", nurse),
        (f"{FLOW}/census", nurse),
        (f"{FLOW}/metrics", manager),
        (f"{API}/{visit}/timeline", nurse),
    ):
        reply = read_client.get(path, params={"minPosition": position}, headers=headers)
        assert reply.status_code == 200, (path, reply.text)
        assert int(reply.headers[POSITION_HEADER]) >= position


def test_a_view_that_does_not_catch_up_in_time_is_503_lagging_with_retry_after(
    idle_client: TestClient[Any], staff: Headers
) -> None:
    _, position = walk_in(idle_client, staff)

    reply = idle_client.get(
        f"{FLOW}/board", params={"minPosition": position, "waitMs": 20}, headers=staff
    )

    assert reply.status_code == 503
    assert reply.json()["code"] == "PROJECTION_LAGGING"
    assert int(reply.headers["Retry-After"]) >= 1
    unwaited = idle_client.get(f"{FLOW}/board", headers=staff)
    assert unwaited.status_code == 200 and unwaited.headers[POSITION_HEADER] == "0"


def test_wait_ms_is_bounded(read_client: TestClient[Any], staff: Headers) -> None:
    reply = read_client.get(f"{FLOW}/board", params={"minPosition": 1, "waitMs": 10_001},
                       headers=staff)  # fmt: skip

    assert reply.status_code == 400
    assert reply.json()["errors"][0]["field"] == "waitMs"


# ---- census, timeline, metrics --------------------------------------------------------------
def test_the_census_follows_a_transfer_at_each_instant(
    read_client: TestClient[Any], staff: Headers
) -> None:
    visit, _ = walk_in(read_client, staff, minutes_ago=120)
    act(read_client, staff, visit, "admit", unit="W1", bed="B1", occurredAt=minutes_ago(90))
    position = act(read_client, staff, visit, "transfer", toUnit="W2", occurredAt=minutes_ago(60))

    def census(unit: str, minutes: int) -> list[str]:
        params = {"unit": unit, "at": minutes_ago(minutes), "minPosition": position}
        reply = read_client.get(f"{FLOW}/census", params=params, headers=staff)
        assert reply.status_code == 200, reply.text
        return [item["visitId"] for item in reply.json()["items"]]

    assert census("ED", 100) == [visit] and census("W1", 100) == []
    assert census("W1", 75) == [visit] and census("W2", 75) == []
    assert census("W1", 30) == [] and census("W2", 30) == [visit]
    now_census = read_client.get(f"{FLOW}/census", params={"unit": "W2"}, headers=staff).json()
    assert now_census["count"] == 1 and now_census["items"][0]["until"] is None


def test_the_timeline_marks_a_cancelled_transfer(
    read_client: TestClient[Any], staff: Headers
) -> None:
    visit, _ = walk_in(read_client, staff, minutes_ago=120)
    act(read_client, staff, visit, "admit", unit="W1", bed="B1", occurredAt=minutes_ago(90))
    act(read_client, staff, visit, "transfer", toUnit="W2", occurredAt=minutes_ago(60))
    position = act(read_client, staff, visit, "cancel-transfer", reason="wrong ward")

    reply = read_client.get(
        f"{API}/{visit}/timeline", params={"minPosition": position}, headers=staff
    )

    assert reply.status_code == 200
    body = reply.json()
    assert (body["visitId"], body["status"], body["version"]) == (visit, "admitted", 4)
    items = body["items"]
    assert [(i["eventType"], i["effective"]) for i in items] == [
        ("WalkInRegistered", True), ("PatientAdmitted", True),
        ("PatientTransferred", False), ("TransferCancelled", True),
    ]  # fmt: skip
    assert items[2]["correctedBy"] == items[3]["eventId"]
    assert items[3]["corrects"] == items[2]["eventId"]
    assert items[3]["reason"] == "wrong ward" and items[2]["details"]["toUnit"] == "W2"
    assert body["nextCursor"] is None
    page = read_client.get(f"{API}/{visit}/timeline", params={"limit": 3}, headers=staff).json()
    rest = read_client.get(
        f"{API}/{visit}/timeline", params={"cursor": page["nextCursor"]}, headers=staff
    ).json()
    assert page["items"] + rest["items"] == items


def test_an_unknown_visit_has_no_timeline_once_the_view_is_caught_up(
    read_client: TestClient[Any], staff: Headers
) -> None:
    _, position = walk_in(read_client, staff)
    unknown = "00000000-0000-0000-0000-000000000001"

    reply = read_client.get(
        f"{API}/{unknown}/timeline", params={"minPosition": position}, headers=staff
    )

    assert reply.status_code == 404 and reply.json()["code"] == "NOT_FOUND"
    malformed = read_client.get(f"{API}/not-a-uuid/timeline", headers=staff)
    assert malformed.status_code == 400 and malformed.json()["errors"][0]["field"] == "id"


def test_metrics_over_a_period(read_client: TestClient[Any], staff: Headers) -> None:
    visit, _ = walk_in(read_client, staff, minutes_ago=60)
    act(read_client, staff, visit, "triage", acuityScale="ESI", acuityLevel=3,
        occurredAt=minutes_ago(50))  # fmt: skip
    position = act(read_client, staff, visit, "discharge", disposition="home",
                   occurredAt=minutes_ago(10))  # fmt: skip
    params = {"from": minutes_ago(120), "to": iso(now()), "minPosition": position}

    body = read_client.get(f"{FLOW}/metrics", params=params, headers=staff).json()

    assert (body["arrivals"], body["departures"]) == (1, 1)
    assert body["doorToTriage"] == {"n": 1, "median": 10.0, "p90": 10.0}
    assert body["lengthOfStay"]["byDisposition"]["home"]["median"] == 50.0
    assert body["lwbsRate"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert body["timeZone"] == "Europe/London"
    assert sum(h["arrivals"] for h in body["perHour"]) == 1
    other_unit = read_client.get(f"{FLOW}/metrics", params={**params, "unit": "OPD"}, headers=staff)
    assert other_unit.json()["arrivals"] == 0


# ---- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("census", {"at": "yesterday"}, "at"),
        ("census", {"at": "2026-03-02T09:00:00"}, "at"),  # no offset
        ("metrics", {"from": "2026-13-01T00:00:00Z"}, "from"),
        ("metrics", {"from": "2026-03-02T09:00:00"}, "from"),
        ("metrics", {"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T08:00:00Z"}, "from"),
        ("metrics", {"from": "2025-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, "to"),
        ("board", {"minPosition": "-1"}, "minPosition"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(
    read_client: TestClient[Any], staff: Headers, path: str, params: dict[str, str], field: str
) -> None:
    reply = read_client.get(f"{FLOW}/{path}", params=params, headers=staff)

    assert reply.status_code == 400, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"][0]["field"] == field


def test_the_flow_routes_are_documented(read_client: TestClient[Any]) -> None:
    paths = read_client.get("/schema/openapi.json").json()["paths"]

    for path in ("/api/v1/flow/board", "/api/v1/flow/census", "/api/v1/flow/metrics",
                 "/api/v1/visits/{id}/timeline"):  # fmt: skip
        operation = paths[path]["get"]
        assert operation["summary"] and "Role" in operation["description"]
        names = {p["name"] for p in operation.get("parameters", [])}
        assert {"minPosition", "waitMs"} <= names
        assert POSITION_HEADER in operation["responses"]["200"]["headers"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].rsplit("/", 1)[1] in {"Board", "Census", "FlowMetrics", "Timeline"}
    assert {"from", "to", "unit"} <= {
        p["name"] for p in paths["/api/v1/flow/metrics"]["get"]["parameters"]
    }
