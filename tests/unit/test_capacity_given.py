"""Given-when-then for every capacity command and refusal (issue 16, item 6): units and
beds, clinic schedules and their sessions (summer time included), slot claims, and a
patient's bookings."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import UUID

import pytest

from domain.capacity.bookings import PatientBookings
from domain.capacity.errors import DoubleBookingError, SlotFullError
from domain.capacity.identity import bookings_id_for, slot_id_for, unit_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.sessions import slots
from domain.capacity.slot import SlotClaims
from domain.capacity.unit import FacilityUnit
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InvalidTransitionError,
)
from tests.support.gwt import Expect, given, then, then_refused, when

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)  # a Monday, GMT in London
VISIT_A, VISIT_B, VISIT_C = (UUID(int=n) for n in (1, 2, 3))


def configured(**overrides: object) -> FacilityUnit:
    fields: dict[str, object] = {"code": "W1", "name": "Ward 1", "kind": "ward",
                                 "beds": [{"bed": "1"}, {"bed": "2", "type": "icu"}]}  # fmt: skip
    fields.update(overrides)
    outcome = when(FacilityUnit, "configure", at=T0, role="admin", **fields)
    return given(outcome.events)


def schedule(**overrides: object) -> ClinicSchedule:
    fields: dict[str, object] = dict(
        service_unit="OPD", service=None, clinician_ref=None, start=T0 + timedelta(hours=1),
        end=T0 + timedelta(hours=2), slot_minutes=20, capacity_per_slot=1,
        overbook_allowance=0, weekdays=["MON"], until=date(2027, 4, 30),
        time_zone="Europe/London",
    )  # fmt: skip
    fields.update(overrides)
    return given(when(ClinicSchedule, "create", at=T0, role="admin", **fields).events)


# ---- units ------------------------------------------------------------------------------------
def test_a_unit_is_configured_under_the_id_of_its_code() -> None:
    outcome = when(FacilityUnit, "configure", at=T0, role="admin", code="W1", name="Ward 1",
                   kind="ward", beds=[{"bed": "1"}])  # fmt: skip
    then(outcome, Expect(FacilityUnit.UnitConfigured, code="W1",
                         beds=[{"bed": "1", "type": None, "closed": False}]))  # fmt: skip
    assert outcome.visit.id == unit_id_for("W1") != unit_id_for("w1")
    assert outcome.visit.available_beds == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"kind": "cafe"}, "kind"), ({"beds": [{"bed": "1"}, {"bed": "1"}]}, "beds")],
)
def test_a_unit_that_breaks_a_rule_is_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(DomainValidationError) as refused:
        when(FacilityUnit, "configure", at=T0, role="admin",
             **{"code": "W1", "name": "W", "kind": "ward", "beds": [], **fields})  # fmt: skip
    assert refused.value.field == field


def test_closing_opening_and_changing_beds() -> None:
    unit = configured()
    closed = when(unit, "close", at=T0, role="admin")
    then(closed, Expect(FacilityUnit.UnitClosed))
    assert closed.visit.available_beds == 0
    then_refused(closed.visit, "close", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 role="admin")  # fmt: skip
    opened = when(closed.visit, "reopen", at=T0, role="admin")
    then(opened, Expect(FacilityUnit.UnitOpened))
    then_refused(opened.visit, "reopen", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 role="admin")  # fmt: skip
    beds = [{"bed": "1", "closed": True}, {"bed": "3"}]
    changed = when(opened.visit, "change_beds", at=T0, role="admin", beds=beds)
    then(changed, Expect(FacilityUnit.BedsChanged))
    assert changed.visit.available_beds == 1
    then_refused(changed.visit, "change_beds", DomainValidationError, "VALIDATION", at=T0,
                 role="admin", beds=beds)  # fmt: skip


# ---- schedules --------------------------------------------------------------------------------
def test_a_schedule_repeats_at_the_same_wall_clock_time_across_summer_time() -> None:
    # 09:00 GMT on Monday 1 March; British Summer Time starts on Sunday 28 March 2027.
    clinic = schedule()
    found = list(slots(clinic.recurrence, set(), T0, T0 + timedelta(days=35)))
    mondays = sorted({s.date() for s, _ in found})
    assert mondays == [date(2027, 3, d) for d in (1, 8, 15, 22, 29)]
    assert [s.hour for s, _ in found if s.date() == date(2027, 3, 22)] == [9, 9, 9]
    # After the change, 09:00 in London is 08:00 UTC.
    assert [(s.hour, s.minute) for s, _ in found if s.date() == date(2027, 3, 29)] == [
        (8, 0), (8, 20), (8, 40)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slot_minutes": 0}, "slotMinutes"),
        ({"slot_minutes": 90}, "slotMinutes"),
        ({"capacity_per_slot": 0}, "capacityPerSlot"),
        ({"overbook_allowance": -1}, "overbookAllowance"),
        ({"end": T0}, "end"),
        ({"end": T0 + timedelta(hours=30)}, "end"),
        ({"weekdays": ["MON", "FUNDAY"]}, "repeat.weekdays"),
        ({"until": None}, "repeat.until"),
        ({"until": date(2026, 1, 1)}, "repeat.until"),
        ({"until": date(2030, 1, 1)}, "repeat.until"),
        ({"start": T0 + timedelta(hours=1, seconds=7)}, "start"),
        ({"start": T0 + timedelta(hours=1, microseconds=500)}, "start"),
    ],
)
def test_a_schedule_that_breaks_a_rule_is_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(DomainValidationError) as refused:
        schedule(**fields)
    assert refused.value.field == field


def test_a_session_is_cancelled_once_and_only_on_a_session_day() -> None:
    clinic = schedule()
    cancelled = when(clinic, "cancel_session", at=T0, role="admin", day=date(2027, 3, 8))
    then(cancelled, Expect(ClinicSchedule.SessionCancelled, date="2027-03-08"))
    clinic = cancelled.visit
    with pytest.raises(DomainValidationError):
        clinic.slot_at(datetime(2027, 3, 8, 9, 0, tzinfo=timezone.utc))
    assert clinic.slot_at(datetime(2027, 3, 15, 9, 20, tzinfo=timezone.utc))[1].minute == 40
    then_refused(clinic, "cancel_session", AlreadyCancelledError, "ALREADY_CANCELLED", at=T0,
                 role="admin", day=date(2027, 3, 8))  # fmt: skip
    then_refused(clinic, "cancel_session", DomainValidationError, "VALIDATION", at=T0,
                 role="admin", day=date(2027, 3, 9))  # fmt: skip


# ---- slots and bookings -----------------------------------------------------------------------
def test_a_slot_opens_with_its_first_claim_then_refuses_unless_a_claim_is_forced() -> None:
    start = T0 + timedelta(hours=1)
    opened = when(SlotClaims, "open", at=T0, schedule_id=UUID(int=9), start=start,
                  end=start + timedelta(minutes=20), visit_id=VISIT_A, places=2)  # fmt: skip
    then(opened, Expect(SlotClaims.SlotOpened, visit_id=VISIT_A, places=2))
    slot = given(opened.events)
    assert slot.id == slot_id_for(UUID(int=9), start) and slot.claims == [VISIT_A]
    then_refused(slot, "claim", DomainValidationError, "VALIDATION", at=T0, visit_id=VISIT_A,
                 capacity=1, allowance=1)  # fmt: skip
    second = when(slot, "claim", at=T0, visit_id=VISIT_B, capacity=1, allowance=1)
    then(second, Expect(SlotClaims.SlotClaimed, visit_id=VISIT_B, places=2, overbooked=True,
                        forced=False))  # fmt: skip
    then_refused(second.visit, "claim", SlotFullError, "SLOT_FULL", at=T0, visit_id=VISIT_C,
                 capacity=1, allowance=1)  # fmt: skip
    forced = when(second.visit, "claim", at=T0, visit_id=VISIT_C, capacity=1, allowance=1,
                  forced=True)  # fmt: skip
    then(forced, Expect(SlotClaims.SlotClaimed, forced=True))
    released = when(forced.visit, "release", at=T0, visit_id=VISIT_A, why="cancelled")
    then(released, Expect(SlotClaims.SlotReleased, visit_id=VISIT_A, why="cancelled"))
    assert released.visit.claims == [VISIT_B, VISIT_C]
    nothing = when(released.visit, "release", at=T0, visit_id=VISIT_A, why="cancelled")
    then(nothing)


def test_a_patients_bookings_may_not_overlap_and_a_release_frees_one() -> None:
    nine = T0 + timedelta(hours=1)
    opened = when(PatientBookings, "open", at=T0, patient_ref="P-1", visit_id=VISIT_A,
                  start=nine, end=nine + timedelta(minutes=20), schedule_id=None)  # fmt: skip
    then(opened, Expect(PatientBookings.BookingsOpened, patient_ref="P-1", visit_id=VISIT_A))
    held = opened
    assert held.visit.id == bookings_id_for("P-1")
    # No end: taken as 30 minutes, so 08:40 overlaps the booking at 09:00.
    book = given(opened.events)
    refused = then_refused(book, "hold", DoubleBookingError, "DOUBLE_BOOKING", at=T0,
                           visit_id=VISIT_B, start=nine - timedelta(minutes=20), end=None,
                           schedule_id=None)  # fmt: skip
    assert str(VISIT_A) in refused.message
    after = when(book, "hold", at=T0, visit_id=VISIT_B, start=nine + timedelta(minutes=20),
                 end=None, schedule_id=None)  # fmt: skip
    then(after, Expect(PatientBookings.BookingHeld, visit_id=VISIT_B))
    # A visit's own booking never clashes with itself: it moves.
    moved = when(after.visit, "hold", at=T0, visit_id=VISIT_A, start=nine - timedelta(hours=2),
                 end=None, schedule_id=None)  # fmt: skip
    then(moved, Expect(PatientBookings.BookingHeld, visit_id=VISIT_A))
    released = when(moved.visit, "release", at=T0, visit_id=VISIT_B, why="no-show")
    then(released, Expect(PatientBookings.BookingReleased, visit_id=VISIT_B, why="no-show"))
    assert list(released.visit.active) == [VISIT_A] and VISIT_B in released.visit.released
    then(when(released.visit, "release", at=T0, visit_id=VISIT_B, why="no-show"))


def test_an_overlapping_booking_whose_visit_went_ahead_is_released_as_fulfilled() -> None:
    nine = T0 + timedelta(hours=1)
    book = given(when(PatientBookings, "open", at=T0, patient_ref="P-1", visit_id=VISIT_A,
                      start=nine, end=None, schedule_id=None).events)  # fmt: skip
    asked: list[UUID] = []

    def arrived(visit_id: UUID) -> bool:
        asked.append(visit_id)
        return False  # its patient has arrived: no longer a booking

    held = when(book, "hold", at=T0, visit_id=VISIT_B, start=nine, end=None, schedule_id=None,
                still_booked=arrived)  # fmt: skip
    then(held, Expect(PatientBookings.BookingReleased, visit_id=VISIT_A, why="fulfilled"),
         Expect(PatientBookings.BookingHeld, visit_id=VISIT_B))  # fmt: skip
    assert asked == [VISIT_A]


# ---- waitlists --------------------------------------------------------------------------------
def test_a_waitlist_offers_by_priority_then_time_waited_within_each_window() -> None:
    opened = when(ScheduleWaitlist, "open", at=T0, schedule_id=UUID(int=9))
    then(opened, Expect(ScheduleWaitlist.WaitlistOpened, schedule_id=UUID(int=9)))
    waitlist = given(opened.events)
    nine = T0 + timedelta(days=1, hours=1)
    joins = [("P-1", 3, None), ("P-2", 1, nine), ("P-3", 1, None), ("P-4", 3, None)]
    for patient, priority, latest in joins:
        joined = when(waitlist, "add", at=T0, patient_ref=patient, priority=priority,
                      earliest=None, latest=latest)  # fmt: skip
        then(joined, Expect(ScheduleWaitlist.PatientWaitlisted, patient_ref=patient))
        waitlist = joined.visit
    ids = {e["patient_ref"]: i for i, e in waitlist.entries.items()}
    # P-2 is urgent but wants a slot before nine; P-3 is next by priority.
    assert waitlist.first_eligible(nine, now=T0) == ids["P-3"]
    assert waitlist.first_eligible(nine - timedelta(hours=1), now=T0) == ids["P-2"]
    assert waitlist.first_eligible(T0, now=T0) is None  # a slot already begun goes to nobody
    then_refused(waitlist, "add", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 patient_ref="P-1", priority=3, earliest=None, latest=None)  # fmt: skip
    then_refused(waitlist, "add", DomainValidationError, "VALIDATION", at=T0,
                 patient_ref="P-9", priority=9, earliest=None, latest=None)  # fmt: skip

    offered = when(waitlist, "offer", at=T0, entry_id=ids["P-3"], start=nine,
                   end=nine + timedelta(minutes=20),
                   expires_at=T0 + timedelta(hours=2))  # fmt: skip
    then(offered, Expect(ScheduleWaitlist.SlotOffered, entry_id=ids["P-3"], start=nine))
    waitlist = offered.visit
    assert waitlist.first_eligible(nine, now=T0) == ids["P-1"]  # P-3 holds an offer
    then_refused(waitlist, "expire", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 entry_id=ids["P-3"], now=T0)  # not due yet  # fmt: skip
    lapsed = when(waitlist, "expire", at=T0, entry_id=ids["P-3"], now=T0 + timedelta(hours=3))
    then(lapsed, Expect(ScheduleWaitlist.OfferExpired, entry_id=ids["P-3"], declined=False))
    # P-3 let this slot pass: it is not offered to them again.
    assert lapsed.visit.first_eligible(nine, now=T0) == ids["P-1"]
    then_refused(lapsed.visit, "accept", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 entry_id=ids["P-3"], visit_id=VISIT_A, now=T0)  # fmt: skip
    again = when(lapsed.visit, "offer", at=T0, entry_id=ids["P-1"], start=nine,
                 end=nine + timedelta(minutes=20), expires_at=T0 + timedelta(hours=2))  # fmt: skip
    then_refused(again.visit, "accept", InvalidTransitionError, "INVALID_TRANSITION", at=T0,
                 entry_id=ids["P-1"], visit_id=VISIT_A, now=T0 + timedelta(hours=2))  # fmt: skip
    accepted = when(again.visit, "accept", at=T0, entry_id=ids["P-1"], visit_id=VISIT_A,
                    now=T0 + timedelta(hours=1))  # fmt: skip
    then(accepted, Expect(ScheduleWaitlist.OfferAccepted, entry_id=ids["P-1"], visit_id=VISIT_A))
    assert ids["P-1"] not in accepted.visit.entries
