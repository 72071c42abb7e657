"""Visit commands over HTTP: replies, headers, every route, a whole visit, and what gets
recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from application.service import PatientServices
from application.visits.commands import VISIT_ACTIONS
from tests.support.api import (
    API,
    Headers,
    events_of,
    iso,
    now,
    only_attempt_since,
    position,
    visit_body,
)

#: The facility's time zone in these tests (the FACILITY_TIMEZONE default).
FACILITY_ZONE = ZoneInfo("Europe/London")

#: A minimal valid body for every action: a new action without one fails the test below.
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "reschedule": {"scheduledStart": iso(now() + timedelta(days=3))},
    "cancel": {"reason": "patient asked"},
    "no-show": {},
    "revert-no-show": {},
    "arrive": {},
    "triage": {"acuityScale": "ESI", "acuityLevel": 3},
    "clinician-contact": {"clinicianRef": "dr-7"},
    "decide-admission": {"targetUnit": "W-1"},
    "admit": {"unit": "W-1"},
    "transfer": {"toUnit": "W-2"},
    "leave-start": {},
    "leave-end": {},
    "left-without-being-seen": {},
    "discharge": {"disposition": "home"},
    "close": {},
    "entered-in-error": {"reason": "duplicate record"},
    "correct-details": {"changes": {"serviceUnit": "OPD-2"}},
    "cancel-admission": {"reason": "wrong patient"},
    "cancel-transfer": {"reason": "wrong bed"},
    "cancel-discharge": {"reason": "still on ward"},
    "cancel-left-without-being-seen": {"reason": "was in the toilet"},
}


def test_every_action_of_the_application_has_a_body_example() -> None:
    assert set(ACTION_BODIES) == set(VISIT_ACTIONS)


def test_scheduling_a_visit_answers_201_with_location_etag_and_position(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    reply = client.post(API, json=visit_body(), headers=clerk)

    assert reply.status_code == 201
    body = reply.json()
    assert set(body) == {"id", "version", "position"}
    assert body["version"] == 1
    assert body["position"] == position(memory_services)
    assert reply.headers["Location"] == f"{API}/{body['id']}"
    assert reply.headers["ETag"] == '"1"'
    assert "Idempotent-Replayed" not in reply.headers
    [event] = events_of(memory_services, body["id"])
    assert type(event).__name__ == "VisitScheduled"
    assert event.patient_ref == "P-1001"


def test_a_walk_in_is_created_arrived_in_its_service_unit(
    client: TestClient[Any], clerk: Headers
) -> None:
    reply = client.post(
        f"{API}/walk-ins",
        json={
            "patientRef": "P-2",
            "visitClass": "EMER",
            "serviceUnit": "ED",
            "arrivalMode": "ambulance",
        },
        headers=clerk,
    )

    assert reply.status_code == 201
    assert reply.headers["Location"] == f"{API}/{reply.json()['id']}"
    assert reply.headers["ETag"] == '"1"'
    visit = client.get(reply.headers["Location"], headers=clerk).json()
    assert visit["status"] == "arrived"
    assert visit["walkIn"] is True
    assert visit["arrivalMode"] == "ambulance"
    assert visit["currentLocation"] == {"unit": "ED", "bed": None}


def test_an_action_answers_200_with_the_new_version_and_etag(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()

    reply = client.post(f"{API}/{visit_id}/arrive", json={"arrivalMode": "walk"}, headers=clerk)

    assert reply.status_code == 200
    assert reply.json() == {"id": visit_id, "version": 2, "position": position(memory_services)}
    assert reply.headers["ETag"] == '"2"'
    assert "Location" not in reply.headers


def test_an_empty_body_counts_as_an_empty_object(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()

    reply = client.post(f"{API}/{visit_id}/arrive", headers=clerk)

    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("action", sorted(ACTION_BODIES))
def test_every_action_is_routed_authorised_and_decoded(
    client: TestClient[Any], staff: Headers, action: str
) -> None:
    # An unknown visit: reaching NOT_FOUND proves the route exists, the role passed the
    # guard and the body decoded into the command.
    reply = client.post(f"{API}/{uuid4()}/{action}", json=ACTION_BODIES[action], headers=staff)

    assert reply.status_code == 404, reply.text
    assert reply.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("action", sorted(ACTION_BODIES))
def test_every_action_is_refused_to_a_role_that_may_not_issue_it(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    schedule: Callable[..., str],
    memory_services: PatientServices,
    action: str,
) -> None:
    visit_id = schedule()
    before = position(memory_services)

    reply = client.post(
        f"{API}/{visit_id}/{action}", json=ACTION_BODIES[action], headers=auth("auditor")
    )

    assert reply.status_code == 403
    assert reply.json()["code"] == "NOT_AUTHORISED"
    # Only the denial itself is recorded (audit trail), aimed at the visit.
    denial = only_attempt_since(memory_services, before)
    assert (denial.outcome, denial.action) == ("denied", VISIT_ACTIONS[action].__name__)
    assert (denial.target_type, denial.target_id) == ("PatientVisit", visit_id)


def test_a_visit_walks_from_schedule_to_close_over_http(
    client: TestClient[Any], staff: Headers, memory_services: PatientServices
) -> None:
    created = client.post(API, json=visit_body(visitClass="EMER", serviceUnit="ED"), headers=staff)
    visit_id = created.json()["id"]
    steps = [
        ("arrive", {"arrivalMode": "car"}),
        ("triage", {"acuityScale": "MTS", "acuityLevel": 2}),
        ("clinician-contact", {"clinicianRef": "dr-7"}),
        ("decide-admission", {"targetUnit": "W-1"}),
        ("admit", {"unit": "W-1", "bed": "3"}),
        ("transfer", {"fromUnit": "W-1", "fromBed": "3", "toUnit": "W-2", "toBed": "8"}),
        ("leave-start", {"expectedReturn": iso(now() + timedelta(hours=4))}),
        ("leave-end", {}),
        ("discharge", {"disposition": "home", "destination": "home-address-on-file"}),
        ("close", {}),
    ]
    for version, (action, body) in enumerate(steps, start=2):
        reply = client.post(f"{API}/{visit_id}/{action}", json=body, headers=staff)
        assert reply.status_code == 200, (action, reply.text)
        assert reply.json()["version"] == version
        assert reply.headers["ETag"] == f'"{version}"'

    visit = client.get(f"{API}/{visit_id}", headers=staff)
    state = visit.json()
    assert visit.headers["ETag"] == '"11"'
    assert state["status"] == "closed"
    assert state["fhirStatus"] == "completed"
    assert state["visitClass"] == "IMP"
    assert (state["acuityScale"], state["acuityLevel"]) == ("MTS", 2)
    assert state["disposition"] == "home"
    assert state["currentLocation"] is None
    times = [state[k] for k in ("arrivalAt", "triageAt", "providerSeenAt", "decisionToAdmitAt",
                                "admittedAt", "dischargedAt", "closedAt")]  # fmt: skip
    assert all(times) and times == sorted(times)
    assert len(events_of(memory_services, visit_id)) == 11


def test_a_no_show_is_recorded_and_reverted_the_same_day(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    start = now() - timedelta(minutes=25)
    if start.astimezone(FACILITY_ZONE).date() != now().astimezone(FACILITY_ZONE).date():
        pytest.skip("the facility's day began less than 25 minutes ago: no same-day revert")
    visit_id = schedule(scheduledStart=iso(start))

    no_show = client.post(
        f"{API}/{visit_id}/no-show",
        json={"occurredAt": iso(start + timedelta(minutes=20))},
        headers=clerk,
    )
    reverted = client.post(
        f"{API}/{visit_id}/revert-no-show", json={"reason": "was in the wrong clinic"},
        headers=clerk,
    )  # fmt: skip

    assert (no_show.status_code, reverted.status_code) == (200, 200), reverted.text
    assert client.get(f"{API}/{visit_id}", headers=clerk).json()["status"] == "scheduled"


# ---- rules judged when the command is decided, whatever occurredAt claims ------------------
def test_a_no_show_reverted_on_a_later_day_is_refused_though_dated_back_to_the_visit_day(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    start = (now() - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    visit_id = schedule(scheduledStart=iso(start), occurredAt=iso(start - timedelta(days=7)))
    no_show = client.post(
        f"{API}/{visit_id}/no-show", json={"occurredAt": iso(start + timedelta(minutes=30))},
        headers=clerk,
    )  # fmt: skip
    assert no_show.status_code == 200, no_show.text

    reverted = client.post(
        f"{API}/{visit_id}/revert-no-show",
        json={"occurredAt": iso(start + timedelta(minutes=40)), "reason": "wrong clinic"},
        headers=clerk,
    )

    assert reverted.status_code == 409
    assert reverted.json()["code"] == "INVALID_TRANSITION"
    assert client.get(f"{API}/{visit_id}", headers=clerk).json()["status"] == "no_show"


def test_a_no_show_dated_after_the_grace_is_refused_while_the_grace_has_not_passed(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    start = now() + timedelta(minutes=5)
    visit_id = schedule(scheduledStart=iso(start))

    reply = client.post(f"{API}/{visit_id}/no-show", json={"occurredAt": iso(now())}, headers=clerk)
    assert reply.status_code == 409
    assert "15 minutes after the scheduled start" in reply.json()["detail"]


def test_a_cancellation_back_dated_out_of_the_window_is_still_late(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    start = now() + timedelta(hours=2)
    visit_id = schedule(scheduledStart=iso(start), occurredAt=iso(now() - timedelta(days=5)))
    claimed = now() - timedelta(days=3)

    reply = client.post(
        f"{API}/{visit_id}/cancel",
        json={"occurredAt": iso(claimed), "reason": "patient asked"},
        headers=clerk,
    )

    assert reply.status_code == 200, reply.text
    state = client.get(f"{API}/{visit_id}", headers=clerk).json()
    assert (state["status"], state["lateCancellation"]) == ("cancelled", True)
    # occurredAt still says when it happened.
    cancelled_at = datetime.fromisoformat(state["cancelledAt"].replace("Z", "+00:00"))
    assert abs(cancelled_at - claimed) < timedelta(seconds=1)


def test_a_cancellation_dated_before_the_booking_was_made_is_refused(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:  # fmt: skip
    visit_id = schedule(scheduledStart=iso(now() + timedelta(hours=2)))
    before = position(memory_services)

    reply = client.post(
        f"{API}/{visit_id}/cancel",
        json={"occurredAt": iso(now() - timedelta(days=3)), "reason": "patient asked"},
        headers=clerk,
    )

    assert reply.status_code == 409
    assert reply.json()["code"] == "TIMESTAMP_ORDER"
    # Nothing but the refused attempt (for the trail) is recorded.
    assert only_attempt_since(memory_services, before).action == "CancelVisit"


def test_a_feed_cancellation_is_judged_when_its_source_decided_it(
    client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    """An interface engine replaying its queue after an outage: the source system decided
    the cancellation in time; it arrives inside the window but is not late."""
    engine = auth("integration", sub="hl7-engine")
    start = now() + timedelta(hours=2)
    booked = client.post(
        API, json=visit_body(scheduledStart=iso(start), occurredAt=iso(now() - timedelta(days=5))),
        headers={**engine, "X-Source-System": "PAS", "X-Source-Message-Id": "S12-1"},
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    visit_id = booked.json()["id"]

    reply = client.post(
        f"{API}/{visit_id}/cancel",
        json={"occurredAt": iso(now() - timedelta(days=3)), "reason": "patient asked"},
        headers={**engine, "X-Source-System": "PAS", "X-Source-Message-Id": "S15-1"},
    )

    assert reply.status_code == 200, reply.text
    reader = auth("clerk")
    assert client.get(f"{API}/{visit_id}", headers=reader).json()["lateCancellation"] is False


def test_a_cancelled_admission_restores_the_visit_and_cannot_be_cancelled_twice(
    client: TestClient[Any],
    staff: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    for action, body in [("arrive", {}), ("admit", {"unit": "W-1", "bed": "2"})]:
        assert (
            client.post(f"{API}/{visit_id}/{action}", json=body, headers=staff).status_code == 200
        )
    admitted_event = events_of(memory_services, visit_id)[-1]

    cancelled = client.post(
        f"{API}/{visit_id}/cancel-admission",
        json={"reason": "wrong patient", "correctsEventId": str(admitted_event.event_id)},
        headers=staff,
    )
    again = client.post(
        f"{API}/{visit_id}/cancel-admission", json={"reason": "again"}, headers=staff
    )

    assert cancelled.status_code == 200, cancelled.text
    assert events_of(memory_services, visit_id)[-1].corrects_event_id == admitted_event.event_id
    state = client.get(f"{API}/{visit_id}", headers=staff).json()
    assert state["status"] == "arrived"
    assert state["admittedAt"] is None
    assert again.status_code == 409
    assert again.json()["code"] == "ALREADY_CANCELLED"


def test_details_are_corrected_field_by_field(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()

    reply = client.post(
        f"{API}/{visit_id}/correct-details",
        json={"changes": {"serviceUnit": "OPD-9", "reasonCode": "R-12"}, "reason": "typo"},
        headers=clerk,
    )

    assert reply.status_code == 200, reply.text
    state = client.get(f"{API}/{visit_id}", headers=clerk).json()
    assert (state["serviceUnit"], state["reasonCode"]) == ("OPD-9", "R-12")


# ---- who, why and when: the request context on the events -------------------------------------
def test_events_carry_the_actor_the_acting_role_and_the_correlation_id(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    headers = {
        **auth("nurse", "clerk", sub="user-42"),
        "X-Correlation-Id": "req-2026.11:27_a",
        "X-On-Behalf-Of": "dr-house",
    }

    reply = client.post(API, json=visit_body(reason="referral"), headers=headers)

    assert reply.headers["X-Correlation-Id"] == "req-2026.11:27_a"
    [event] = events_of(memory_services, reply.json()["id"])
    assert event.actor_id == "user-42"
    assert event.actor_role == "clerk"  # the first of the token's roles that may schedule
    assert event.correlation_id == "req-2026.11:27_a"
    assert event.on_behalf_of == "dr-house"
    assert event.reason == "referral"


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 101, "semi;colon"])
def test_a_missing_or_unsafe_correlation_id_is_replaced_by_a_new_uuid(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices, given: str | None
) -> None:
    headers = clerk if given is None else {**clerk, "X-Correlation-Id": given}

    reply = client.post(API, json=visit_body(), headers=headers)

    echoed = reply.headers["X-Correlation-Id"]
    assert UUID(echoed) and echoed != given
    [event] = events_of(memory_services, reply.json()["id"])
    assert event.correlation_id == echoed


def test_a_feed_message_is_tagged_with_its_source_and_recorded_once(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    headers = {**auth("integration", sub="hl7-engine"), "X-Source-System": "PAS",
               "X-Source-Message-Id": "MSG00017"}  # fmt: skip

    body = visit_body()

    first = client.post(API, json=body, headers=headers)
    before = position(memory_services)
    repeat = client.post(API, json=body, headers=headers)

    assert first.status_code == 201
    [event] = events_of(memory_services, first.json()["id"])
    assert (event.source_system, event.source_message_id) == ("PAS", "MSG00017")
    assert event.actor_role == "integration"
    assert repeat.status_code == 201
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    assert position(memory_services) == before


def test_only_the_integration_role_may_tag_a_command_with_a_source(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    headers = {**clerk, "X-Source-System": "PAS", "X-Source-Message-Id": "MSG1"}

    reply = client.post(API, json=visit_body(), headers=headers)

    assert reply.status_code == 403
    assert reply.json()["code"] == "NOT_AUTHORISED"
    denial = only_attempt_since(memory_services, 0)
    assert (denial.outcome, denial.action, denial.actor_role) == (
        "denied", "ScheduleVisit with X-Source-System", "clerk",
    )  # fmt: skip
    assert (denial.source_system, denial.source_message_id) == ("PAS", "MSG1")


@pytest.mark.parametrize("header", ["X-Source-System", "X-Source-Message-Id"])
def test_source_headers_come_in_pairs(
    client: TestClient[Any], auth: Callable[..., Headers], header: str
) -> None:
    reply = client.post(API, json=visit_body(), headers={**auth("integration"), header: "PAS"})

    assert reply.status_code == 400
    assert reply.json()["errors"][0]["field"] in ("X-Source-System", "X-Source-Message-Id")


# ---- idempotency --------------------------------------------------------------------------------
def test_a_repeated_creation_with_the_same_key_replays_the_first_reply(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    headers = {**clerk, "Idempotency-Key": "create-visit-0001"}
    body = visit_body()

    first = client.post(API, json=body, headers=headers)
    before = position(memory_services)
    repeat = client.post(API, json=body, headers=headers)

    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["Location"] == first.headers["Location"]
    assert repeat.headers["ETag"] == first.headers["ETag"]
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert position(memory_services) == before


def test_a_repeated_action_with_the_same_key_replays_even_though_the_state_moved_on(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    headers = {**clerk, "Idempotency-Key": "arrive-1"}

    first = client.post(f"{API}/{visit_id}/arrive", json={}, headers=headers)
    repeat = client.post(f"{API}/{visit_id}/arrive", json={}, headers=headers)

    assert first.status_code == repeat.status_code == 200
    assert repeat.json() == first.json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert len(events_of(memory_services, visit_id)) == 2


def test_the_same_key_with_another_body_is_422_and_records_nothing(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    headers = {**clerk, "Idempotency-Key": "k-1"}
    client.post(API, json=visit_body(patientRef="P-1"), headers=headers)
    before = position(memory_services)

    reply = client.post(API, json=visit_body(patientRef="P-2"), headers=headers)

    assert reply.status_code == 422
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert position(memory_services) == before


def test_the_same_key_on_the_visit_id_in_upper_case_replays_rather_than_422(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    # The fingerprint names the route and the parsed UUID, not the path as the client spelt it.
    visit_id = schedule()
    headers = {**clerk, "Idempotency-Key": "arrive-case"}
    first = client.post(f"{API}/{visit_id}/arrive", json={}, headers=headers)
    before = position(memory_services)

    repeat = client.post(f"{API}/{visit_id.upper()}/arrive", json={}, headers=headers)

    assert first.status_code == repeat.status_code == 200, repeat.text
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    assert position(memory_services) == before


def test_the_same_key_and_body_on_another_action_or_visit_is_422(
    client: TestClient[Any], staff: Headers, schedule: Callable[..., str]
) -> None:
    first, second = schedule(), schedule()
    headers = {**staff, "Idempotency-Key": "k-route"}
    assert client.post(f"{API}/{first}/arrive", json={}, headers=headers).status_code == 200

    other_visit = client.post(f"{API}/{second}/arrive", json={}, headers=headers)
    other_action = client.post(f"{API}/{first}/no-show", json={}, headers=headers)

    assert other_visit.status_code == other_action.status_code == 422
    assert other_visit.json()["code"] == other_action.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_idempotency_keys_belong_to_their_user(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    body = visit_body()
    alice = client.post(
        API, json=body, headers={**auth("clerk", sub="alice"), "Idempotency-Key": "k"}
    )
    # The same body for another patient (the same patient's would be a double booking).
    bob = client.post(
        API, json={**body, "patientRef": "P-2002"},
        headers={**auth("clerk", sub="bob"), "Idempotency-Key": "k"},
    )  # fmt: skip

    assert alice.status_code == bob.status_code == 201
    assert "Idempotent-Replayed" not in bob.headers
    assert alice.json()["id"] != bob.json()["id"]


# ---- optimistic concurrency ----------------------------------------------------------------------
@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", "*"])
def test_if_match_with_the_current_version_or_star_lets_the_command_through(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str], if_match: str
) -> None:
    visit_id = schedule()

    reply = client.post(
        f"{API}/{visit_id}/arrive", json={}, headers={**clerk, "If-Match": if_match}
    )

    assert reply.status_code == 200, reply.text


def test_a_stale_if_match_is_412_and_records_nothing(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    client.post(f"{API}/{visit_id}/reschedule", json=ACTION_BODIES["reschedule"], headers=clerk)
    before = position(memory_services)

    reply = client.post(f"{API}/{visit_id}/arrive", json={}, headers={**clerk, "If-Match": '"1"'})

    assert reply.status_code == 412
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "VERSION_CONFLICT"
    assert position(memory_services) == before
