"""Capacity over HTTP (issue 16): admins configure units, beds and clinic schedules; clerks
book into slots (409 SLOT_FULL, 409 DOUBLE_BOOKING naming the other visit); cancelling,
no-shows and rescheduling release and move claims; the slots, units, bed board and
occupancy read models answer with read-your-writes. On a real SQLite store with the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from adapters.readmodels.capacity.store import CapacityReadModel
from adapters.readmodels.visits.store import FlowReadModel
from tests.support.api import API, Headers, iso, now, position

pytestmark = pytest.mark.read_models([CapacityReadModel, FlowReadModel])

UNITS = "/api/v1/units"
SCHEDULES = "/api/v1/schedules"
LONDON = ZoneInfo("Europe/London")


def next_monday_at(hour: int) -> datetime:
    """A Monday at least a week ahead, at ``hour`` London time, in UTC."""
    today = now().astimezone(LONDON).date()
    monday = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    return datetime(monday.year, monday.month, monday.day, hour, tzinfo=LONDON).astimezone(
        timezone.utc
    )


@pytest.fixture
def staff(auth: Callable[..., Headers]) -> Headers:
    return auth("clerk", "nurse", "clinician", "manager")


def make_schedule(client: TestClient[Any], admin: Headers, **overrides: Any) -> tuple[str, int]:
    start = next_monday_at(9)
    body = {
        "serviceUnit": "OPD-1", "service": "derm", "start": iso(start),
        "end": iso(start + timedelta(hours=1)), "slotMinutes": 15, "capacityPerSlot": 1,
        "overbookAllowance": 0,
        "repeat": {"weekdays": ["MON", "WED"],
                   "until": (start + timedelta(days=60)).date().isoformat()},
    }  # fmt: skip
    body.update(overrides)
    reply = client.post(SCHEDULES, json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"], reply.json()["position"]


def book(client: TestClient[Any], headers: Headers, schedule: str | None, start: datetime,
         patient: str = "P-1", unit: str = "OPD-1") -> Any:  # fmt: skip
    body = {"patientRef": patient, "visitClass": "AMB", "serviceUnit": unit,
            "scheduledStart": iso(start)}  # fmt: skip
    if schedule is not None:
        body["scheduleId"] = schedule
    return client.post(API, json=body, headers=headers)


def slots(client: TestClient[Any], headers: Headers, schedule: str, at: int, **query: Any) -> Any:
    start = next_monday_at(9)
    params = {"from": iso(start), "to": iso(start + timedelta(hours=2)), "minPosition": at,
              **query}  # fmt: skip
    reply = client.get(f"{SCHEDULES}/{schedule}/slots", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


# ---- configuration ---------------------------------------------------------------------------
def test_an_admin_configures_a_unit_and_anyone_on_staff_reads_it(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    body = {"code": "WARD-7", "name": "Ward 7", "kind": "ward",
            "beds": [{"bed": "B1", "type": "standard"}, {"bed": "B2"}]}  # fmt: skip
    reply = read_client.post(UNITS, json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Location"] == f"{UNITS}/WARD-7"
    at = reply.json()["position"]

    one = read_client.get(f"{UNITS}/WARD-7", headers=staff)
    assert one.status_code == 200 and one.headers["ETag"] == '"1"'
    assert [b["bed"] for b in one.json()["beds"]] == ["B1", "B2"] and one.json()["open"]
    listed = read_client.get(UNITS, params={"minPosition": at}, headers=staff).json()["items"]
    assert [(u["code"], u["kind"], len(u["beds"])) for u in listed] == [("WARD-7", "ward", 2)]

    again = read_client.post(UNITS, json=body, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_EXISTS"

    closed = read_client.post(f"{UNITS}/WARD-7/close", headers={**admin, "If-Match": '"1"'})
    assert closed.status_code == 200, closed.text
    twice = read_client.post(f"{UNITS}/WARD-7/close", headers=admin)
    assert twice.status_code == 409 and twice.json()["code"] == "INVALID_TRANSITION"
    beds = read_client.post(
        f"{UNITS}/WARD-7/beds", json={"beds": [{"bed": "B1"}, {"bed": "B3", "closed": True}]},
        headers=admin,
    )  # fmt: skip
    assert beds.status_code == 200, beds.text
    listed = read_client.get(
        UNITS, params={"minPosition": beds.json()["position"]}, headers=staff
    ).json()["items"]  # fmt: skip
    assert listed[0]["open"] is False
    assert listed[0]["beds"] == [
        {"bed": "B1", "type": None, "closed": False}, {"bed": "B3", "type": None, "closed": True}
    ]  # fmt: skip
    assert read_client.get(f"{UNITS}/NOPE", headers=staff).status_code == 404


@pytest.mark.parametrize("role", ["clerk", "nurse", "manager", "auditor", "integration"])
def test_only_an_admin_configures(
    read_client: TestClient[Any], auth: Callable[..., Headers], role: str
) -> None:
    services_before = read_client.get(UNITS, headers=auth("admin")).json()["items"]
    body = {"code": "X", "name": "X", "kind": "ward"}
    reply = read_client.post(UNITS, json=body, headers=auth(role))
    assert reply.status_code == 403, reply.text
    assert read_client.get(UNITS, headers=auth("admin")).json()["items"] == services_before


def test_configuration_reads_are_refused_to_roles_without_them(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    for path in (UNITS, SCHEDULES, "/api/v1/slots", "/api/v1/flow/beds"):
        assert read_client.get(path, headers=auth("finance")).status_code == 403, path
    assert read_client.get("/api/v1/flow/occupancy", headers=auth("clerk")).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slotMinutes": 0}, "slotMinutes"),
        ({"capacityPerSlot": 101}, "capacityPerSlot"),
        ({"repeat": {"weekdays": ["XYZ"], "until": "2030-01-01"}}, "repeat.weekdays[0]"),
        ({"repeat": {"weekdays": ["MON"], "until": "2000-01-01"}}, "repeat.until"),
        ({"repeat": {"weekdays": ["MON"], "until": "2099-01-01"}}, "repeat.until"),
        ({"slotMinutes": 120}, "slotMinutes"),
        ({"end": "2000-01-01T00:00:00Z"}, "end"),
    ],
)
def test_a_schedule_that_breaks_a_rule_is_refused_and_records_nothing(
    read_client: TestClient[Any], stored_services: Any, admin: Headers,
    change: dict[str, Any], field: str,
) -> None:  # fmt: skip
    start = next_monday_at(9)
    body = {"serviceUnit": "OPD-1", "start": iso(start), "end": iso(start + timedelta(hours=1)),
            "slotMinutes": 15, "capacityPerSlot": 1, **change}  # fmt: skip
    before = position(stored_services)
    reply = read_client.post(SCHEDULES, json=body, headers=admin)
    assert reply.status_code in (400, 422), reply.text
    assert field in reply.text
    assert position(stored_services) == before


# ---- booking into capacity -------------------------------------------------------------------
def test_a_slot_takes_its_capacity_and_allowance_then_is_full(
    read_client: TestClient[Any], stored_services: Any, admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=2, overbookAllowance=1)
    start = next_monday_at(9)
    for n in range(3):
        reply = book(read_client, staff, schedule, start, patient=f"P-{n}")
        assert reply.status_code == 201, reply.text
        at = reply.json()["position"]
    before = position(stored_services)
    full = book(read_client, staff, schedule, start, patient="P-9")
    assert full.status_code == 409 and full.json()["code"] == "SLOT_FULL", full.text
    visit = read_client.get(f"{API}/{reply.json()['id']}", headers=staff).json()
    assert visit["scheduledEnd"] == iso(start + timedelta(minutes=15)).replace("Z", "Z")

    first = slots(read_client, staff, schedule, at)[0]
    assert first["start"] == iso(start) and (first["capacity"], first["booked"]) == (2, 3)
    assert (first["free"], first["overbookFree"]) == (0, 0)
    # The refusal recorded only its audited attempt, no claim.
    assert position(stored_services) == before + 1


def test_a_booking_into_a_schedule_must_start_at_a_slot_of_its_unit(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin)
    start = next_monday_at(9)
    off = book(read_client, staff, schedule, start + timedelta(minutes=7))
    assert off.status_code == 400 and "scheduledStart" in off.text, off.text
    tuesday = book(read_client, staff, schedule, start + timedelta(days=1))
    assert tuesday.status_code == 400, tuesday.text
    other = book(read_client, staff, schedule, start, unit="OPD-2")
    assert other.status_code == 400 and "serviceUnit" in other.text, other.text
    missing = book(read_client, staff, "00000000-0000-0000-0000-000000000009", start)
    assert missing.status_code == 404, missing.text


def test_the_same_patient_cannot_hold_two_overlapping_bookings(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=5)
    start = next_monday_at(9)
    first = book(read_client, staff, schedule, start)
    assert first.status_code == 201
    # Another unit, no schedule, twenty minutes in: still the same patient at the same time.
    clash = book(read_client, staff, None, start + timedelta(minutes=10), unit="XRAY")
    assert clash.status_code == 409 and clash.json()["code"] == "DOUBLE_BOOKING", clash.text
    assert first.json()["id"] in clash.json()["detail"]
    later = book(read_client, staff, None, start + timedelta(hours=2), unit="XRAY")
    assert later.status_code == 201, later.text
    other_patient = book(read_client, staff, schedule, start, patient="P-2")
    assert other_patient.status_code == 201


def test_cancel_and_no_show_release_the_claim_and_a_reschedule_moves_it(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin)
    start = next_monday_at(9)
    first = book(read_client, staff, schedule, start).json()["id"]
    assert book(read_client, staff, schedule, start, patient="P-2").json()["code"] == "SLOT_FULL"

    moved = read_client.post(
        f"{API}/{first}/reschedule", json={"scheduledStart": iso(start + timedelta(minutes=30))},
        headers=staff,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    view = slots(read_client, staff, schedule, moved.json()["position"])
    assert [s["booked"] for s in view[:4]] == [0, 0, 1, 0]
    taken = book(read_client, staff, schedule, start, patient="P-2")
    assert taken.status_code == 201, taken.text
    # A move into a full slot is refused and keeps the old claim.
    stuck = read_client.post(
        f"{API}/{first}/reschedule", json={"scheduledStart": iso(start)}, headers=staff
    )
    assert stuck.status_code == 409 and stuck.json()["code"] == "SLOT_FULL"

    cancelled = read_client.post(f"{API}/{first}/cancel", json={"reason": "x"}, headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    view = slots(read_client, staff, schedule, cancelled.json()["position"])
    assert [s["booked"] for s in view[:4]] == [1, 0, 0, 0]
    again = book(read_client, staff, schedule, start + timedelta(minutes=30), patient="P-3")
    assert again.status_code == 201


def test_a_free_slot_search_spans_schedules_and_skips_cancelled_sessions(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    derm, _ = make_schedule(read_client, admin)
    _, _ = make_schedule(read_client, admin, service="ortho", serviceUnit="OPD-2")
    start = next_monday_at(9)
    booked = book(read_client, staff, derm, start)
    cancel = read_client.post(
        f"{SCHEDULES}/{derm}/cancel-session",
        json={"date": (start + timedelta(days=2)).date().isoformat(), "reason": "staff training"},
        headers=admin,
    )  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    at = cancel.json()["position"]
    week = {"from": iso(start), "to": iso(start + timedelta(days=7)), "minPosition": at}
    everything = read_client.get("/api/v1/slots", params=week, headers=staff)
    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    # Monday and Wednesday, 4 slots each, for two schedules; derm's Wednesday is cancelled.
    assert len(items) == 12
    assert [i["start"] for i in items] == sorted(i["start"] for i in items)
    free = read_client.get(
        "/api/v1/slots", params={**week, "serviceUnit": "OPD-1", "freeOnly": "true"},
        headers=staff,
    ).json()["items"]  # fmt: skip
    assert len(free) == 3 and iso(start) not in [i["start"] for i in free]
    assert booked.status_code == 201
    paged = read_client.get("/api/v1/slots", params={**week, "limit": 5}, headers=staff).json()
    assert len(paged["items"]) == 5 and paged["nextAfter"]
    rest = read_client.get(
        "/api/v1/slots", params={**week, "after": paged["nextAfter"]}, headers=staff
    ).json()  # fmt: skip
    assert [i["start"] for i in paged["items"] + rest["items"]] == [i["start"] for i in items]
    again = read_client.post(
        f"{SCHEDULES}/{derm}/cancel-session",
        json={"date": (start + timedelta(days=2)).date().isoformat(), "reason": "again"},
        headers=admin,
    )  # fmt: skip
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_CANCELLED"
    wrong = read_client.get(
        "/api/v1/slots", params={"from": iso(start), "to": iso(start + timedelta(days=100))},
        headers=staff,
    )  # fmt: skip
    assert wrong.status_code == 400


def test_the_bed_board_and_occupancy_show_who_holds_each_bed(
    read_client: TestClient[Any], admin: Headers, auth: Callable[..., Headers]
) -> None:
    staff = auth("clerk", "nurse", "clinician", "manager")
    body = {"code": "W1", "name": "Ward 1", "kind": "ward",
            "beds": [{"bed": "1"}, {"bed": "2"}, {"bed": "3"},
                     {"bed": "4", "closed": True}]}  # fmt: skip
    assert read_client.post(UNITS, json=body, headers=admin).status_code == 201
    placed = []
    for n, bed in enumerate(["1", "2"]):
        arrival = {"patientRef": f"P-{n}", "visitClass": "EMER", "serviceUnit": "ED",
                   "arrivalAt": iso(now() - timedelta(hours=3))}  # fmt: skip
        visit = read_client.post(f"{API}/walk-ins", json=arrival, headers=staff).json()["id"]
        admitted = read_client.post(
            f"{API}/{visit}/admit", json={"unit": "W1", "bed": bed,
                                           "occurredAt": iso(now() - timedelta(hours=2))},
            headers=staff,
        )  # fmt: skip
        assert admitted.status_code == 200, admitted.text
        placed.append(visit)
    leave = read_client.post(f"{API}/{placed[1]}/leave-start", json={}, headers=staff)
    assert leave.status_code == 200, leave.text
    at = leave.json()["position"]

    board = read_client.get("/api/v1/flow/beds", params={"unit": "W1", "minPosition": at},
                            headers=staff)  # fmt: skip
    assert board.status_code == 200, board.text
    (ward,) = board.json()["units"]
    assert [(b["bed"], b["status"], b["visitId"]) for b in ward["beds"]] == [
        ("1", "occupied", placed[0]), ("2", "reserved", placed[1]), ("3", "free", None),
        ("4", "closed", None),
    ]  # fmt: skip
    assert ward["counts"] == {"beds": 4, "available": 3, "occupied": 2, "reserved": 1,
                              "free": 1, "occupancy": 0.6667, "beyondCapacity": 0}  # fmt: skip
    # Two more admitted into the full ward: never refused, one in the free bed and one
    # without a listed bed, flagged beyond capacity.
    for n, bed in ((2, "3"), (3, None)):
        arrival = {"patientRef": f"P-{n}", "visitClass": "EMER", "serviceUnit": "ED",
                   "arrivalAt": iso(now() - timedelta(hours=3))}  # fmt: skip
        visit = read_client.post(f"{API}/walk-ins", json=arrival, headers=staff).json()["id"]
        admitted = read_client.post(f"{API}/{visit}/admit", json={"unit": "W1", "bed": bed},
                                    headers=staff)  # fmt: skip
        assert admitted.status_code == 200, admitted.text
    full = read_client.get(
        "/api/v1/flow/beds", params={"unit": "W1", "minPosition": admitted.json()["position"]},
        headers=staff,
    ).json()["units"][0]  # fmt: skip
    assert [u["visitId"] for u in full["unplaced"]] == [visit]
    assert (full["counts"]["free"], full["counts"]["beyondCapacity"]) == (0, 1)

    manager = auth("manager")
    latest = admitted.json()["position"]
    now_ = read_client.get(
        "/api/v1/flow/occupancy", params={"minPosition": latest}, headers=manager
    )
    assert now_.status_code == 200, now_.text
    assert now_.json()["items"][0]["hospital"]["occupied"] == 3
    metrics = read_client.get("/api/v1/flow/metrics", params={"minPosition": latest},
                              headers=manager).json()  # fmt: skip
    assert metrics["bedOccupancy"]["occupied"] == 3 and metrics["bedOccupancy"]["available"] == 3
    unconfigured = read_client.get("/api/v1/flow/metrics", params={"unit": "ED"},
                                   headers=manager).json()  # fmt: skip
    assert unconfigured["bedOccupancy"] is None
    today = now().astimezone(LONDON).date()
    days = read_client.get(
        "/api/v1/flow/occupancy",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
        headers=manager,
    )  # fmt: skip
    assert days.status_code == 200, days.text
    assert [d["date"] for d in days.json()["items"]] == [
        (today - timedelta(days=1)).isoformat(),
        today.isoformat(),
    ]
    # Admitted two hours ago: at yesterday's midnight nobody held a bed.
    assert days.json()["items"][0]["hospital"]["occupied"] == 0
    too_long = read_client.get(
        "/api/v1/flow/occupancy",
        params={"from": "2025-01-01", "to": "2026-06-01"}, headers=manager,
    )  # fmt: skip
    assert too_long.status_code == 400


def test_a_sessions_utilisation_and_dna_rate(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    day = now().astimezone(LONDON).date() - timedelta(days=2)
    start = datetime(day.year, day.month, day.day, 9, tzinfo=LONDON).astimezone(timezone.utc)
    schedule, _ = make_schedule(read_client, admin, start=iso(start),
                                end=iso(start + timedelta(hours=1)), slotMinutes=30,
                                capacityPerSlot=2, repeat=None)  # fmt: skip
    visits = [
        book(read_client, staff, schedule, start + timedelta(minutes=m), patient=p).json()["id"]
        for p, m in (("P-1", 0), ("P-2", 0), ("P-3", 30))
    ]
    missed = read_client.post(f"{API}/{visits[1]}/no-show", json={}, headers=staff)
    assert missed.status_code == 200, missed.text

    reply = read_client.get(
        f"{SCHEDULES}/{schedule}/sessions",
        params={"from": iso(start - timedelta(hours=9)), "to": iso(start + timedelta(days=1)),
                "minPosition": missed.json()["position"]},
        headers=staff,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    (session,) = reply.json()["items"]
    assert session["date"] == day.isoformat()
    assert (session["slots"], session["capacity"], session["booked"], session["noShows"]) == (
        2, 4, 2, 1,
    )  # fmt: skip
    assert (session["utilisation"], session["dnaRate"]) == (0.5, 0.3333)
    unknown = read_client.get(f"{SCHEDULES}/{UUID(int=7)}/sessions", headers=staff)
    assert unknown.status_code == 404
    no_waitlist = read_client.get(f"{SCHEDULES}/{UUID(int=7)}/waitlist", headers=staff)
    assert no_waitlist.status_code == 404


def test_a_clinics_day_list_names_who_holds_each_slot_and_is_recorded_as_a_read(
    read_client: TestClient[Any], admin: Headers, staff: Headers, stored_services: Any
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=2)
    start = next_monday_at(9)
    first = book(read_client, staff, schedule, start, patient="P-1").json()["id"]
    second = book(read_client, staff, schedule, start, patient="P-2").json()["id"]
    later = book(read_client, staff, schedule, start + timedelta(minutes=30), patient="P-3")
    cancelled = read_client.post(f"{API}/{second}/cancel", json={"reason": "x"}, headers=staff)
    assert cancelled.status_code == 200, cancelled.text

    reply = read_client.get(
        f"{SCHEDULES}/{schedule}/day",
        params={"date": start.astimezone(LONDON).date().isoformat(),
                "minPosition": cancelled.json()["position"]},
        headers=staff,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    day = reply.json()
    assert [s["slot"]["start"] for s in day["slots"]] == [
        iso(start + timedelta(minutes=15 * n)) for n in range(4)
    ]
    assert [[v["patientRef"] for v in s["visits"]] for s in day["slots"]] == [
        ["P-1"], [], ["P-3"], []
    ]  # fmt: skip
    assert day["slots"][0]["visits"][0] == {"visitId": first, "patientRef": "P-1",
                                            "status": "scheduled"}  # fmt: skip
    assert day["slots"][2]["visits"][0]["visitId"] == later.json()["id"]
    assert read_client.get(f"{SCHEDULES}/{schedule}/day", params={"date": "2027-01-01"},
                           headers={**staff}).status_code == 200  # fmt: skip
    # Patient data: only for those who place patients, and the read is recorded.
    refused = read_client.get(f"{SCHEDULES}/{schedule}/day", params={"date": "2027-01-01"},
                              headers=admin)  # fmt: skip
    assert refused.status_code == 403


def test_a_freed_slot_is_offered_to_the_waitlist_held_and_accepted_or_declined(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=1)
    start = next_monday_at(9)
    first = book(read_client, staff, schedule, start, patient="P-1").json()["id"]
    waiting = f"{SCHEDULES}/{schedule}/waitlist"
    for patient, priority in (("P-2", 3), ("P-3", 1)):
        joined = read_client.post(waiting, json={"patientRef": patient, "priority": priority},
                                  headers=staff)  # fmt: skip
        assert joined.status_code == 200, joined.text
    again = read_client.post(waiting, json={"patientRef": "P-2"}, headers=staff)
    assert again.status_code == 409 and again.json()["code"] == "INVALID_TRANSITION"

    # The cancellation frees the slot: offered at once to the most urgent, and held for them.
    cancelled = read_client.post(f"{API}/{first}/cancel", json={"reason": "x"}, headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    racing = book(read_client, staff, schedule, start, patient="P-4")
    assert racing.status_code == 409 and racing.json()["code"] == "SLOT_FULL"
    listed = read_client.get(waiting, params={"minPosition": cancelled.json()["position"]},
                             headers=staff).json()["items"]  # fmt: skip
    assert [(e["patientRef"], e["priority"]) for e in listed] == [("P-3", 1), ("P-2", 3)]
    assert listed[0]["offer"]["start"] == iso(start) and listed[1]["offer"] is None
    urgent, other = listed[0]["entryId"], listed[1]["entryId"]
    premature = read_client.post(f"{waiting}/accept", json={"entryId": other}, headers=staff)
    assert premature.status_code == 409 and premature.json()["code"] == "INVALID_TRANSITION"

    accepted = read_client.post(f"{waiting}/accept", json={"entryId": urgent}, headers=staff)
    assert accepted.status_code == 201, accepted.text
    visit = accepted.json()["id"]
    assert accepted.headers["Location"] == f"{API}/{visit}"
    booked = read_client.get(f"{API}/{visit}", headers=staff).json()
    assert (booked["patientRef"], booked["scheduledStart"]) == ("P-3", iso(start))
    view = slots(read_client, staff, schedule, accepted.json()["position"])
    assert view[0]["booked"] == 1
    day = read_client.get(
        f"{SCHEDULES}/{schedule}/day",
        params={"date": start.astimezone(LONDON).date().isoformat(),
                "minPosition": accepted.json()["position"]}, headers=staff,
    ).json()  # fmt: skip
    assert [v["visitId"] for v in day["slots"][0]["visits"]] == [visit]

    # Freed again: P-2 is offered it and declines; nobody is left, so the place is free.
    freed = read_client.post(f"{API}/{visit}/cancel", json={"reason": "y"}, headers=staff)
    assert freed.status_code == 200, freed.text
    declined = read_client.post(f"{waiting}/decline", json={"entryId": other}, headers=staff)
    assert declined.status_code == 200, declined.text
    view = slots(read_client, staff, schedule, declined.json()["position"])
    assert view[0]["booked"] == 0
    listed = read_client.get(waiting, params={"minPosition": declined.json()["position"]},
                             headers=staff).json()["items"]  # fmt: skip
    assert [(e["patientRef"], e["offer"]) for e in listed] == [("P-2", None)]


def test_a_slot_booking_moved_off_the_schedules_slots_or_unit_leaves_it(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=1)
    start = next_monday_at(9)
    first = book(read_client, staff, schedule, start, patient="P-1").json()["id"]
    # Ten past: no slot of the schedule. The visit moves; its claim is released.
    moved = read_client.post(f"{API}/{first}/reschedule",
                             json={"scheduledStart": iso(start + timedelta(minutes=10))},
                             headers=staff)  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert slots(read_client, staff, schedule, moved.json()["position"])[0]["booked"] == 0
    assert book(read_client, staff, schedule, start, patient="P-2").status_code == 201
    # Another unit's slot booking corrected to another unit leaves its schedule too.
    other = book(read_client, staff, schedule, start + timedelta(minutes=15), patient="P-3")
    corrected = read_client.post(
        f"{API}/{other.json()['id']}/correct-details",
        json={"changes": {"serviceUnit": "OPD-9"}, "reason": "wrong clinic"}, headers=staff,
    )  # fmt: skip
    assert corrected.status_code == 200, corrected.text
    assert slots(read_client, staff, schedule, corrected.json()["position"])[1]["booked"] == 0


def test_a_duplicate_visit_number_into_a_slot_is_already_exists(
    read_client: TestClient[Any], admin: Headers, staff: Headers
) -> None:
    schedule, _ = make_schedule(read_client, admin, capacityPerSlot=2)
    start = next_monday_at(9)
    body = {"patientRef": "P-1", "visitClass": "AMB", "serviceUnit": "OPD-1",
            "scheduledStart": iso(start), "scheduleId": schedule, "visitNumber": "V-1"}  # fmt: skip
    assert read_client.post(API, json=body, headers=staff).status_code == 201
    again = read_client.post(API, json=body, headers=staff)
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_EXISTS", again.text
