"""Booking into capacity under random commands (issue 16, item 6).

Three patients book into the slots of one schedule (two slots a session, capacity 2 and one
overbooking place), or outside it at times that may overlap; bookings are rescheduled,
cancelled, marked no-show and reverted, entered in error, or go ahead (the patient arrives:
the slot stays claimed, and the booking no longer blocks another). A small model predicts each
outcome (accepted, ``SLOT_FULL``, ``DOUBLE_BOOKING``, or a refusal of the visit's state) and,
after every step, the stored aggregates (loaded from their events: the replay) must agree:

* no slot holds more claims than its capacity and allowance, except claims restored by a
  reverted no-show (forced);
* no patient holds two active bookings that overlap;
* each slot's claims are exactly the model's scheduled visits in it, so every release freed
  exactly one claim and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.memory import MEMORY_ENV
from application.capacity.commands import CreateSchedule
from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits import commands as v
from domain.capacity.bookings import PatientBookings
from domain.capacity.identity import bookings_id_for, slot_id_for
from domain.capacity.slot import SlotClaims
from domain.shared.errors import DomainError

#: The session: Monday 1 March 2027, 09:00-09:30 UTC (London is on GMT), two 15-minute slots.
SESSION = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
SLOTS = [SESSION, SESSION + timedelta(minutes=15)]
CAPACITY, ALLOWANCE = 2, 1
PATIENTS = ["P-1", "P-2", "P-3"]
#: Outside the schedule: times that overlap the slots, or not.
LOOSE = [SESSION + timedelta(minutes=m) for m in (-40, -20, 5, 50)]
#: The clock: after the session (so a no-show may be marked), on its day (so it may be reverted).
NOW = SESSION + timedelta(hours=3)
CLERK = RequestContext("clerk-1", "clerk", "sm")
#: Arrivals are recorded by a clerk too.
ADMIN = RequestContext("admin-1", "admin", "sm")
LENGTH = timedelta(minutes=15)
LOOSE_LENGTH = timedelta(minutes=30)  # a booking without an end counts as 30 minutes


@dataclass
class Booking:
    patient: str
    start: datetime
    slot: datetime | None  # the slot it claims, None outside the schedule
    status: str = "scheduled"
    forced: bool = False

    def span(self) -> tuple[datetime, datetime]:
        return self.start, self.start + (LENGTH if self.slot is not None else LOOSE_LENGTH)


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class Booking_(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.app = PatientServices(env=dict(MEMORY_ENV), clock=lambda: NOW)
        self.schedule = self.app.execute(
            CreateSchedule(
                service_unit="OPD", start=SESSION, end=SESSION + timedelta(minutes=30),
                slot_minutes=15, capacity_per_slot=CAPACITY, overbook_allowance=ALLOWANCE,
            ), ADMIN,
        ).id  # fmt: skip
        self.visits: dict[UUID, Booking] = {}

    # ---- the model ---------------------------------------------------------------------------
    def active(self, patient: str, besides: UUID | None = None) -> list[tuple[UUID, Booking]]:
        return [
            (vid, b) for vid, b in self.visits.items()
            if b.patient == patient and b.status == "scheduled" and vid != besides
        ]  # fmt: skip

    def claims(self, slot: datetime) -> list[UUID]:
        return [
            vid for vid, b in self.visits.items()
            if b.slot == slot and b.status in ("scheduled", "arrived")
        ]  # fmt: skip

    def clash(self, patient: str, span: tuple[datetime, datetime], besides: UUID | None) -> bool:
        return any(overlaps(span, b.span()) for _, b in self.active(patient, besides))

    def run(self, command: v.Command, target: UUID | None = None) -> str:
        try:
            result = self.app.execute(command, CLERK, target=target)
        except DomainError as refusal:
            return refusal.code
        self.last = result.id
        return "OK"

    # ---- rules ---------------------------------------------------------------------------------
    @rule(patient=st.sampled_from(PATIENTS), slot=st.sampled_from(SLOTS))
    def book_a_slot(self, patient: str, slot: datetime) -> None:
        wanted = Booking(patient, slot, slot)
        if self.clash(patient, wanted.span(), None):
            expected = "DOUBLE_BOOKING"
        elif len(self.claims(slot)) >= CAPACITY + ALLOWANCE:
            expected = "SLOT_FULL"
        else:
            expected = "OK"
        outcome = self.run(
            v.ScheduleVisit(
                patient_ref=patient,
                visit_class="AMB",
                service_unit="OPD",
                scheduled_start=slot,
                schedule_id=self.schedule,
            )  # fmt: skip
        )
        assert outcome == expected
        if outcome == "OK":
            self.visits[self.last] = wanted

    @rule(patient=st.sampled_from(PATIENTS), start=st.sampled_from(LOOSE))
    def book_outside_the_schedule(self, patient: str, start: datetime) -> None:
        wanted = Booking(patient, start, None)
        expected = "DOUBLE_BOOKING" if self.clash(patient, wanted.span(), None) else "OK"
        outcome = self.run(
            v.ScheduleVisit(
                patient_ref=patient, visit_class="AMB", service_unit="XRAY", scheduled_start=start
            )  # fmt: skip
        )
        assert outcome == expected
        if outcome == "OK":
            self.visits[self.last] = wanted

    def pick(self, data: st.DataObject, status: str) -> UUID | None:
        chosen = [vid for vid, b in self.visits.items() if b.status == status]
        return data.draw(st.sampled_from(chosen)) if chosen else None

    @precondition(lambda self: any(b.slot for b in self.visits.values()))
    @rule(data=st.data(), slot=st.sampled_from(SLOTS))
    def reschedule_within_the_schedule(self, data: st.DataObject, slot: datetime) -> None:
        visit = self.pick(data, "scheduled")
        if visit is None or self.visits[visit].slot is None:
            return
        booking = self.visits[visit]
        moved = Booking(booking.patient, slot, slot)
        if self.clash(booking.patient, moved.span(), visit):
            expected = "DOUBLE_BOOKING"
        elif slot != booking.slot and len(self.claims(slot)) >= CAPACITY + ALLOWANCE:
            expected = "SLOT_FULL"
        else:
            expected = "OK"  # into the same slot too: recorded, the claim stays
        outcome = self.run(v.RescheduleVisit(scheduled_start=slot), visit)
        assert outcome == expected
        if outcome == "OK":
            self.visits[visit] = moved

    @rule(data=st.data(), how=st.sampled_from(["cancel", "entered-in-error"]))
    def release(self, data: st.DataObject, how: str) -> None:
        visit = self.pick(data, "scheduled")
        if visit is None:
            return
        command = (v.CancelVisit(reason="r") if how == "cancel"
                   else v.MarkEnteredInError(reason="r"))  # fmt: skip
        assert self.run(command, visit) == "OK"
        self.visits[visit].status = "gone"

    @rule(data=st.data())
    def arrive(self, data: st.DataObject) -> None:
        visit = self.pick(data, "scheduled")
        if visit is None:
            return
        assert self.run(v.RegisterArrival(), visit) == "OK"
        self.visits[visit].status = "arrived"  # the slot stays claimed: it was used

    @rule(data=st.data())
    def no_show(self, data: st.DataObject) -> None:
        visit = self.pick(data, "scheduled")
        if visit is None:
            return
        assert self.run(v.MarkNoShow(), visit) == "OK"
        self.visits[visit].status = "no_show"

    @rule(data=st.data())
    def revert_no_show(self, data: st.DataObject) -> None:
        visit = self.pick(data, "no_show")
        if visit is None:
            return
        booking = self.visits[visit]
        expected = "DOUBLE_BOOKING" if self.clash(booking.patient, booking.span(), visit) else "OK"
        assert self.run(v.RevertNoShow(reason="came after all"), visit) == expected
        if expected == "OK":
            if booking.slot is not None and len(self.claims(booking.slot)) >= CAPACITY + ALLOWANCE:
                booking.forced = True
            booking.status = "scheduled"

    # ---- invariants ----------------------------------------------------------------------------
    @invariant()
    def slots_hold_exactly_the_scheduled_visits(self) -> None:
        if not hasattr(self, "app"):
            return
        for slot in SLOTS:
            expected = sorted(self.claims(slot))
            try:
                stored: SlotClaims = self.app.repository.get(slot_id_for(self.schedule, slot))
                held = sorted(stored.claims)
            except Exception:  # no claim was ever made on it
                held = []
            assert held == expected
            forced = sum(1 for vid in expected if self.visits[vid].forced)
            assert len(held) <= CAPACITY + ALLOWANCE + forced

    @invariant()
    def no_patient_holds_two_overlapping_bookings(self) -> None:
        if not hasattr(self, "app"):
            return
        for patient in PATIENTS:
            mine = self.active(patient)
            for i, (_, a) in enumerate(mine):
                assert not any(overlaps(a.span(), b.span()) for _, b in mine[i + 1 :])
            try:
                stored: PatientBookings = self.app.repository.get(bookings_id_for(patient))
                held = sorted(stored.active)
            except Exception:
                held = []
            # An arrived visit's booking is released when a later booking meets it.
            arrived = {vid for vid, b in self.visits.items() if b.status == "arrived"}
            assert set(held) - arrived == {vid for vid, _ in mine}


Booking_.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestBooking = Booking_.TestCase
