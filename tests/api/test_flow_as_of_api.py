"""The flow routes "as the system had it" over HTTP (SQLite, the flow worker running):
``GET /flow/board?asOf=``, ``/flow/census?knownAt=`` and ``/flow/metrics?knownAt=`` leave
out a late entry recorded after that time and show it without; the census shows the status
at its instant; bad times are 400 problem+json naming the parameter.

Queries pass the position a command returned as ``minPosition``: no sleeps, but for a few
milliseconds around the time asked about, so it lies strictly between two records.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.readmodels.visits.store import FlowReadModel
from tests.support.api import API, Headers, iso, now

FLOW = "/api/v1/flow"

pytestmark = pytest.mark.read_models([FlowReadModel])


def walk_in(
    client: TestClient[Any], headers: Headers, arrived: datetime, n: int
) -> tuple[str, int]:
    body = {"patientRef": f"P-{n}", "visitClass": "EMER", "serviceUnit": "ED",
            "arrivalAt": iso(arrived)}  # fmt: skip
    reply = client.post(f"{API}/walk-ins", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"], reply.json()["position"]


def between() -> datetime:
    time.sleep(0.002)
    moment = now()
    time.sleep(0.002)
    return moment


def on_board(body: dict[str, Any]) -> list[str]:
    return [v["visitId"] for unit in body["units"] for v in unit["arrived"]]


def test_a_late_entry_shows_only_from_when_it_was_recorded(
    read_client: TestClient[Any], staff: Headers
) -> None:
    early, _ = walk_in(read_client, staff, now() - timedelta(hours=3), 1)
    known = between()
    # Recorded now, dated two hours back: at `known` nobody knew of this patient.
    late, position = walk_in(read_client, staff, now() - timedelta(hours=2), 2)
    wait = {"minPosition": position}

    def get(path: str, **params: Any) -> dict[str, Any]:
        reply = read_client.get(f"{FLOW}/{path}", params={**wait, **params}, headers=staff)
        assert reply.status_code == 200, reply.text
        assert int(reply.headers["X-Projection-Position"]) >= position
        body: dict[str, Any] = reply.json()
        return body

    then_board = get("board", unit="ED", asOf=iso(known))
    assert on_board(then_board) == [early]
    assert then_board["asOf"] == then_board["at"] == iso(known)
    assert on_board(get("board", unit="ED")) == [early, late]

    instant = iso(now() - timedelta(minutes=90))
    then = get("census", unit="ED", at=instant, knownAt=iso(known))
    assert [i["visitId"] for i in then["items"]] == [early] and then["knownAt"] == iso(known)
    assert {i["visitId"] for i in get("census", unit="ED", at=instant)["items"]} == {early, late}
    # Without `at`, the census as known at `knownAt` is the census at that time.
    assert get("census", unit="ED", knownAt=iso(known))["at"] == iso(known)

    period = {"from": iso(now() - timedelta(hours=5)), "unit": "ED"}
    then_metrics = get("metrics", **period, knownAt=iso(known))
    assert then_metrics["arrivals"] == 1 and then_metrics["to"] == iso(known)
    assert get("metrics", **period, to=iso(now()))["arrivals"] == 2


def test_the_census_at_a_past_instant_shows_the_status_then(
    read_client: TestClient[Any], staff: Headers
) -> None:
    visit, _ = walk_in(read_client, staff, now() - timedelta(hours=2), 1)
    for action, body in (
        ("triage", {"acuityScale": "ESI", "acuityLevel": 2}),
        ("clinician-contact", {"clinicianRef": "dr-1"}),
    ):
        reply = read_client.post(f"{API}/{visit}/{action}", headers=staff, json={
            **body, "occurredAt": iso(now() - timedelta(minutes=100 if action == "triage" else 60)),
        })  # fmt: skip
        assert reply.status_code == 200, reply.text
    position = reply.json()["position"]

    def status(minutes_ago: int) -> str:
        params = {"unit": "ED", "at": iso(now() - timedelta(minutes=minutes_ago)),
                  "minPosition": position}  # fmt: skip
        [item] = read_client.get(f"{FLOW}/census", params=params, headers=staff).json()["items"]
        return str(item["status"])

    assert [status(110), status(80), status(30)] == ["arrived", "triaged", "with_clinician"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("board", {"asOf": "yesterday"}, "asOf"),
        ("board", {"asOf": "2026-03-02T09:00:00"}, "asOf"),  # no offset
        ("board", {"asOf": "1800-01-01T00:00:00Z"}, "asOf"),
        ("census", {"knownAt": "2026-03-02T09:00:00"}, "knownAt"),
        ("census", {"knownAt": "2201-01-01T00:00:00Z"}, "knownAt"),
        ("census", {"knownAt": "2026-03-02T09:00:00Z", "at": "2026-03-02T10:00:00"}, "at"),
        ("metrics", {"knownAt": "noon"}, "knownAt"),
    ],
)
def test_bad_times_are_400_naming_the_parameter(
    read_client: TestClient[Any], staff: Headers, path: str, params: dict[str, str], field: str
) -> None:
    reply = read_client.get(f"{FLOW}/{path}", params=params, headers=staff)

    assert reply.status_code == 400, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == "VALIDATION"
    assert reply.json()["errors"][0]["field"] == field


def test_a_time_still_to_come_is_taken_as_now(read_client: TestClient[Any], staff: Headers) -> None:
    walk_in(read_client, staff, now() - timedelta(hours=1), 1)
    before = now()
    ahead = {"asOf": iso(before + timedelta(hours=1)), "knownAt": iso(before + timedelta(days=1))}

    for path, name in (("board", "asOf"), ("census", "knownAt"), ("metrics", "knownAt")):
        reply = read_client.get(f"{FLOW}/{path}", params={name: ahead[name]}, headers=staff)
        assert reply.status_code == 200, reply.text
        answered = datetime.fromisoformat(reply.json()[name])
        assert before <= answered <= now(), path  # now, not the hour to come


def test_as_of_and_known_at_are_documented(read_client: TestClient[Any]) -> None:
    paths = read_client.get("/schema/openapi.json").json()["paths"]

    for path, name in (("board", "asOf"), ("census", "knownAt"), ("metrics", "knownAt")):
        parameters = {p["name"]: p for p in paths[f"{FLOW}/{path}"]["get"]["parameters"]}
        assert "recorded" in parameters[name]["description"]
