"""PatientVisit, from booking to arrival: schedule, walk-in, reschedule, cancel, no-show,
revert no-show, arrival (domain-spec §1)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InvalidTransitionError,
)
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ARRIVED, CANCELLED, NO_SHOW, SCHEDULED, VisitPolicy
from tests.support.gwt import (
    BOOKED,
    START,
    Expect,
    at,
    given,
    make_envelope,
    path_to,
    scheduled_story,
    state_of,
    then,
    then_refused,
    when,
)

UTC = timezone.utc


# ---- ScheduleVisit ------------------------------------------------------------------
def test_scheduling_a_visit_records_its_details_and_the_envelope() -> None:
    outcome = when(
        PatientVisit, "schedule", at=BOOKED, patient_ref="pt-0001", visit_class="AMB",
        service_unit="CLINIC-3", scheduled_start=START, scheduled_end=at(30), reason_code="R1",
    )  # fmt: skip
    then(
        outcome,
        Expect(
            PatientVisit.VisitScheduled,
            patient_ref="pt-0001",
            visit_class="AMB",
            service_unit="CLINIC-3",
            scheduled_start=START,
            scheduled_end=at(30),
            reason_code="R1",
            occurred_at=BOOKED,
            actor_role="clerk",
            reason=None,
        ),  # fmt: skip
    )
    visit = outcome.visit
    assert (visit.patient_ref, visit.visit_class, visit.service_unit) == (
        "pt-0001", "AMB", "CLINIC-3",
    )  # fmt: skip
    assert (visit.status, visit.reason_code) == (SCHEDULED, "R1")
    assert (visit.scheduled_start, visit.scheduled_end) == (START, at(30))
    assert visit.location_periods == [] and visit.arrival_at is None


def test_scheduling_without_an_end_is_accepted() -> None:
    outcome = when(
        PatientVisit, "schedule", at=BOOKED, patient_ref="pt-0001", visit_class="VR",
        service_unit="TELE", scheduled_start=START,
    )  # fmt: skip
    then(outcome, Expect(PatientVisit.VisitScheduled, scheduled_end=None, reason_code=None))


@pytest.mark.parametrize("end", [START, START - timedelta(minutes=1)], ids=["equal", "before"])
def test_a_schedule_that_does_not_end_after_it_starts_is_refused(end: datetime) -> None:
    error = then_refused(
        PatientVisit, "schedule", DomainValidationError, "VALIDATION", at=BOOKED,
        patient_ref="pt-0001", visit_class="AMB", service_unit="ED", scheduled_start=START,
        scheduled_end=end,
    )  # fmt: skip
    assert error.field == "scheduledEnd"


def test_the_envelope_names_who_acted_on_whose_behalf_and_from_which_feed() -> None:
    envelope = make_envelope(
        BOOKED, role="integration", actor_id="hl7-engine", on_behalf_of="clerk-7",
        source_system="PAS", source_message_id="MSG-0001",
    )  # fmt: skip
    outcome = when(
        PatientVisit, "schedule", at=BOOKED, envelope=envelope, patient_ref="pt-0001",
        visit_class="AMB", service_unit="ED", scheduled_start=START,
    )  # fmt: skip
    (event,) = then(outcome, Expect(PatientVisit.VisitScheduled))
    assert (event.on_behalf_of, event.source_system, event.source_message_id) == (
        "clerk-7", "PAS", "MSG-0001",
    )  # fmt: skip
    assert event.recorded_at == event.timestamp


# ---- RegisterWalkIn -----------------------------------------------------------------
def test_a_walk_in_creates_the_visit_already_arrived_in_its_service_unit() -> None:
    outcome = when(
        PatientVisit, "register_walk_in", at=START, patient_ref="pt-0002", visit_class="EMER",
        service_unit="ED", arrival_mode="ambulance",
    )  # fmt: skip
    then(
        outcome,
        Expect(
            PatientVisit.WalkInRegistered,
            patient_ref="pt-0002",
            visit_class="EMER",
            service_unit="ED",
            arrival_mode="ambulance",
            occurred_at=START,
        ),  # fmt: skip
    )
    visit = outcome.visit
    assert (visit.patient_ref, visit.visit_class, visit.service_unit) == ("pt-0002", "EMER", "ED")
    assert (visit.status, visit.walk_in, visit.arrival_at) == (ARRIVED, True, START)
    assert visit.arrival_mode == "ambulance"
    assert visit.scheduled_start is None
    assert visit.location_periods == [{"unit": "ED", "bed": None, "start": START, "end": None}]


# ---- RescheduleVisit ----------------------------------------------------------------
def test_rescheduling_moves_the_start_and_the_end() -> None:
    visit = given(path_to(SCHEDULED))
    new_start = START + timedelta(days=2)
    outcome = when(
        visit, "reschedule", at=BOOKED + timedelta(days=1), scheduled_start=new_start,
        scheduled_end=new_start + timedelta(hours=1),
    )  # fmt: skip
    then(
        outcome,
        Expect(
            PatientVisit.VisitRescheduled,
            scheduled_start=new_start,
            scheduled_end=new_start + timedelta(hours=1),
        ),  # fmt: skip
    )
    assert (visit.status, visit.scheduled_start) == (SCHEDULED, new_start)


def test_rescheduling_to_an_end_before_the_start_is_refused() -> None:
    visit = given(path_to(SCHEDULED))
    then_refused(
        visit, "reschedule", DomainValidationError, "VALIDATION", at=BOOKED,
        scheduled_start=START, scheduled_end=START - timedelta(hours=1),
    )  # fmt: skip


def test_rescheduling_after_arrival_is_refused() -> None:
    visit = given(path_to(ARRIVED))
    then_refused(
        visit, "reschedule", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
        scheduled_start=START + timedelta(days=1), scheduled_end=None,
    )  # fmt: skip


# ---- CancelVisit --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        (timedelta(hours=25), False),
        (timedelta(hours=24), False),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(minutes=5), True),
        (-timedelta(minutes=5), True),
    ],
    ids=["25h-before", "exactly-24h-before", "23h59-before", "5min-before", "after-start"],
)
def test_a_cancellation_under_24_hours_before_the_start_is_late(
    before_start: timedelta, late: bool
) -> None:
    visit = given(path_to(SCHEDULED))
    outcome = when(visit, "cancel", at=START - before_start, reason="patient asked")
    then(
        outcome,
        Expect(PatientVisit.VisitCancelled, late_cancellation=late, reason="patient asked"),
    )
    assert (visit.status, visit.late_cancellation) == (CANCELLED, late)
    assert visit.cancelled_at == START - before_start


def test_the_late_cancellation_window_is_a_policy_setting() -> None:
    visit = given(path_to(SCHEDULED))
    two_days = VisitPolicy(late_cancellation_window=timedelta(hours=48))
    outcome = when(
        visit, "cancel", at=START - timedelta(hours=30), reason="patient asked", policy=two_days
    )
    then(outcome, Expect(PatientVisit.VisitCancelled, late_cancellation=True))


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_a_cancellation_without_a_reason_is_refused(reason: str) -> None:
    visit = given(path_to(SCHEDULED))
    error = then_refused(
        visit, "cancel", DomainValidationError, "VALIDATION", at=BOOKED, reason=reason
    )
    assert error.field == "reason"


def test_cancelling_an_arrived_visit_is_refused() -> None:
    visit = given(path_to(ARRIVED))
    then_refused(
        visit, "cancel", InvalidTransitionError, "INVALID_TRANSITION", at=at(30), reason="x"
    )


# ---- MarkNoShow ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "when_marked", [at(-60), at(0), at(14) + timedelta(seconds=59)],
    ids=["before-start", "at-start", "one-second-inside-grace"],
)  # fmt: skip
def test_a_no_show_before_the_grace_period_is_over_is_refused(when_marked: datetime) -> None:
    visit = given(path_to(SCHEDULED))
    then_refused(
        visit, "mark_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=when_marked
    )


@pytest.mark.parametrize("when_marked", [at(15), at(240)], ids=["grace-just-over", "hours-later"])
def test_a_no_show_after_the_grace_period_is_accepted(when_marked: datetime) -> None:
    visit = given(path_to(SCHEDULED))
    outcome = when(visit, "mark_no_show", at=when_marked)
    then(outcome, Expect(PatientVisit.VisitMarkedNoShow, occurred_at=when_marked))
    assert (visit.status, visit.no_show_at) == (NO_SHOW, when_marked)


def test_the_no_show_grace_is_a_policy_setting() -> None:
    visit = given(path_to(SCHEDULED))
    half_hour = VisitPolicy(no_show_grace=timedelta(minutes=30))
    then_refused(
        visit, "mark_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=at(20),
        policy=half_hour,
    )  # fmt: skip
    then(
        when(visit, "mark_no_show", at=at(30), policy=half_hour),
        Expect(PatientVisit.VisitMarkedNoShow),
    )


def test_the_no_show_grace_runs_from_the_rescheduled_start() -> None:
    visit = given(path_to(SCHEDULED))
    when(visit, "reschedule", at=BOOKED, scheduled_start=at(120), scheduled_end=None)
    then_refused(visit, "mark_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=at(60))


def test_a_patient_who_arrived_cannot_be_a_no_show() -> None:
    visit = given(path_to(ARRIVED))
    then_refused(visit, "mark_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=at(60))


# ---- RevertNoShow -------------------------------------------------------------------
def test_reverting_a_no_show_on_the_day_restores_the_scheduled_visit_exactly() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20))
    before = given(story.events[:-1])
    visit = given(story.events)
    outcome = when(visit, "revert_no_show", at=at(90), reason="patient was in the wrong room")
    then(
        outcome,
        Expect(
            PatientVisit.NoShowReverted,
            corrects_event_id=story.last_event_id(),
            restored_status=SCHEDULED,
            reason="patient was in the wrong room",
        ),  # fmt: skip
    )
    assert state_of(visit) == state_of(before)


def test_reverting_a_no_show_needs_no_reason() -> None:
    visit = given(path_to(NO_SHOW))
    then(when(visit, "revert_no_show", at=at(90)), Expect(PatientVisit.NoShowReverted, reason=None))


def test_reverting_a_no_show_on_a_later_day_is_refused() -> None:
    visit = given(path_to(NO_SHOW))
    then_refused(
        visit, "revert_no_show", InvalidTransitionError, "INVALID_TRANSITION",
        at=START + timedelta(days=1),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "start", "reverted_at", "accepted"),
    [
        # 23:00 and 00:30 in Sydney (UTC+11): the same UTC day, the next local day.
        ("Australia/Sydney", datetime(2026, 3, 2, 12, tzinfo=UTC),
         datetime(2026, 3, 2, 13, 30, tzinfo=UTC), False),
        # 09:00 and 12:00 on 3 March in Sydney: two UTC days, one local day.
        ("Australia/Sydney", datetime(2026, 3, 2, 22, tzinfo=UTC),
         datetime(2026, 3, 3, 1, tzinfo=UTC), True),
        # 18:00 and 22:00 on 2 March in New York (UTC-5): two UTC days, one local day.
        ("America/New_York", datetime(2026, 3, 2, 23, tzinfo=UTC),
         datetime(2026, 3, 3, 3, tzinfo=UTC), True),
        # London on the day clocks go forward (29 March 2026, 01:00 UTC): 00:30 GMT is
        # the same service day as 23:30 BST, but 00:30 BST on the 30th is not.
        ("Europe/London", datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
         datetime(2026, 3, 29, 22, 30, tzinfo=UTC), True),
        ("Europe/London", datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
         datetime(2026, 3, 29, 23, 30, tzinfo=UTC), False),
    ],
    ids=[
        "sydney-same-utc-day-next-local-day", "sydney-next-utc-day-same-local-day",
        "new-york-next-utc-day-same-local-day", "london-dst-same-local-day",
        "london-dst-same-utc-day-next-local-day",
    ],
)  # fmt: skip
def test_a_no_show_is_reverted_only_on_the_same_service_day_in_the_facility_time_zone(
    zone: str, start: datetime, reverted_at: datetime, accepted: bool
) -> None:
    policy = VisitPolicy(facility_timezone=zone)
    story = scheduled_story(start, booked=start - timedelta(days=3))
    story.do("mark_no_show", at=start + timedelta(minutes=20), policy=policy)
    visit = given(story.events)
    if accepted:
        outcome = when(visit, "revert_no_show", at=reverted_at, policy=policy)
        then(outcome, Expect(PatientVisit.NoShowReverted, restored_status=SCHEDULED))
    else:
        then_refused(
            visit, "revert_no_show", InvalidTransitionError, "INVALID_TRANSITION",
            at=reverted_at, policy=policy,
        )  # fmt: skip


def test_a_second_revert_of_the_same_no_show_is_already_cancelled() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20))
    no_show_id = story.last_event_id()
    visit = given(story.events)
    when(visit, "revert_no_show", at=at(60))
    for named in (None, no_show_id):
        then_refused(
            visit, "revert_no_show", AlreadyCancelledError, "ALREADY_CANCELLED", at=at(70),
            corrects_event_id=named,
        )  # fmt: skip


def test_a_revert_naming_another_event_is_refused() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20))
    visit = given(story.events)
    for wrong in (story.event_id_of(PatientVisit.VisitScheduled), uuid4()):
        error = then_refused(
            visit, "revert_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
            corrects_event_id=wrong,
        )  # fmt: skip
        assert error.field == "correctsEventId"


def test_a_revert_naming_the_no_show_is_accepted() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20))
    visit = given(story.events)
    outcome = when(visit, "revert_no_show", at=at(60), corrects_event_id=story.last_event_id())
    then(outcome, Expect(PatientVisit.NoShowReverted, corrects_event_id=story.last_event_id()))


def test_a_reverted_visit_can_be_marked_no_show_and_reverted_again() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20)).do("revert_no_show", at=at(30))
    story.do("mark_no_show", at=at(40))
    second_no_show = story.last_event_id()
    visit = given(story.events)
    then(
        when(visit, "revert_no_show", at=at(50)),
        Expect(PatientVisit.NoShowReverted, corrects_event_id=second_no_show),
    )
    assert visit.status == SCHEDULED


def test_reverting_a_visit_that_was_never_a_no_show_is_refused() -> None:
    visit = given(path_to(SCHEDULED))
    then_refused(visit, "revert_no_show", InvalidTransitionError, "INVALID_TRANSITION", at=at(20))


# ---- RegisterArrival ----------------------------------------------------------------
def test_an_arrival_opens_a_location_period_in_the_service_unit() -> None:
    visit = given(path_to(SCHEDULED))
    outcome = when(visit, "register_arrival", at=at(-10), arrival_mode="walked")
    then(outcome, Expect(PatientVisit.PatientArrived, arrival_mode="walked", occurred_at=at(-10)))
    assert (visit.status, visit.arrival_at, visit.arrival_mode) == (ARRIVED, at(-10), "walked")
    assert visit.current_location == {"unit": "ED", "bed": None}
    assert visit.location_periods == [{"unit": "ED", "bed": None, "start": at(-10), "end": None}]


def test_an_arrival_after_a_reverted_no_show_is_accepted() -> None:
    story = scheduled_story().do("mark_no_show", at=at(20)).do("revert_no_show", at=at(25))
    visit = given(story.events)
    then(when(visit, "register_arrival", at=at(30)), Expect(PatientVisit.PatientArrived))
    assert visit.status == ARRIVED


def test_a_second_arrival_is_refused() -> None:
    visit = given(path_to(ARRIVED))
    then_refused(visit, "register_arrival", InvalidTransitionError, "INVALID_TRANSITION", at=at(30))
