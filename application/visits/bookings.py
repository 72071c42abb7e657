"""What a visit's change does to its patient's bookings and the slot it claims.

Every visit command (over HTTP, or a feed message's steps) ends here with the visit as it
was before and as it is now; the bookings follow the visit, so there is one rule for every
way in:

* a visit booked (scheduled), or a no-show reverted → the patient's booking is held (refused
  ``DOUBLE_BOOKING`` if another active booking of the patient overlaps), and for a booking
  into a schedule the slot is claimed (``SLOT_FULL`` when full; a reverted no-show is
  restored even so: the patient was there);
* cancelled, a no-show or entered in error → the booking and its slot claim are released,
  and a place freed in a slot still to come is offered to the schedule's waitlist
  (:mod:`application.capacity.offers`);
* rescheduled (or its end corrected) → the booking moves, and a slot booking moves its claim
  to the slot at the new start in the same schedule (released and claimed in the same
  transaction, so a full new slot refuses the move and keeps the old claim).

An arrival fulfils the booking and changes nothing here: the next booking that would
overlap it finds its visit gone ahead and releases it then (``fulfilled``). A visit booked
before bookings were kept has none: cancelling it releases nothing, rescheduling it holds
one. A patient's first booking opens their bookings and a slot's first claim opens the slot,
each in one event, so a booking adds one record to the log (two into a schedule's slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.capacity.offers import offer_freed_place
from application.lost_races import StaleRead
from application.shared.commands import Loader, optional
from domain.capacity.bookings import PatientBookings
from domain.capacity.identity import bookings_id_for, slot_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.slot import SlotClaims
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import CANCELLED, ENTERED_IN_ERROR, NO_SHOW, SCHEDULED

#: The visit states that end a booking, and what the release records as why.
RELEASING = {CANCELLED: "cancelled", NO_SHOW: "no-show", ENTERED_IN_ERROR: "entered-in-error"}


@dataclass(frozen=True)
class VisitBefore:
    """What of a visit a booking follows, taken before a command changes it."""

    status: str
    start: datetime | None
    end: datetime | None
    service_unit: str

    @classmethod
    def of(cls, visit: PatientVisit) -> VisitBefore:
        return cls(visit.status, visit.scheduled_start, visit.scheduled_end, visit.service_unit)


def follow_bookings(
    load: Loader[Any], visit: PatientVisit, before: VisitBefore | None, at: datetime,
    *, offer_for: timedelta, schedule: ClinicSchedule | None = None,
    taking_over: UUID | None = None,
) -> list[Aggregate]:  # fmt: skip
    """The bookings and slot claims that change with ``visit`` (``before``: None for a new
    one; ``schedule``: the one a new booking claims a slot of; ``taking_over``: the waitlist
    entry whose offer's held place the new booking takes), to save with it. A place freed
    is offered to the schedule's waitlist (held for ``offer_for``)."""
    changes = _Changes(load, visit, at, offer_for, taking_over)
    if visit.status in RELEASING:
        if before is None or before.status != visit.status:
            changes.release(RELEASING[visit.status])
    elif visit.status != SCHEDULED:
        pass  # arrived and on: the booking is fulfilled, nothing changes
    elif before is None:
        changes.hold(schedule)
    elif before.status == NO_SHOW:
        changes.hold_again()
    elif (before.start, before.end, before.service_unit) != (
        visit.scheduled_start, visit.scheduled_end, visit.service_unit,
    ):  # fmt: skip
        changes.move()
    return changes.saved


class _Changes:
    def __init__(
        self, load: Loader[Any], visit: PatientVisit, at: datetime,
        offer_for: timedelta = timedelta(0), taking_over: UUID | None = None,
    ) -> None:  # fmt: skip
        self.load, self.visit, self.at = load, visit, at
        self.offer_for, self.taking_over = offer_for, taking_over
        self.saved: list[Aggregate] = []
        self._loaded = False
        self._found: PatientBookings | None = None

    @property
    def _book(self) -> PatientBookings | None:
        """The patient's bookings as stored, loaded on first use (most visit commands
        change no booking, and never read them)."""
        if not self._loaded:
            patient = bookings_id_for(self.visit.patient_ref)
            self._found = optional(self.load, patient, PatientBookings)
            self._loaded = True
        return self._found

    def hold(self, schedule: ClinicSchedule | None) -> None:
        self._hold(schedule.id if schedule else None)
        if schedule is not None:
            self._claim(schedule, forced=False)

    def hold_again(self) -> None:
        previous = self._book.released.get(self.visit.id) if self._book else None
        schedule_id = previous["schedule_id"] if previous else None
        self._hold(schedule_id)
        if schedule_id is not None:
            self._claim(self.load(schedule_id, ClinicSchedule), forced=True)

    def move(self) -> None:
        """Moved in time or to another unit. To another slot of its schedule, the claim
        moves; to a time that is no slot of it (an ad-hoc time, a feed's reschedule) or to
        another unit, the booking leaves the schedule and its claim is released."""
        held = self._book.booking_of(self.visit.id) if self._book else None
        schedule_id = held["schedule_id"] if held else None
        if schedule_id is None:
            self._hold(None)
            return
        assert held is not None and self.visit.scheduled_start is not None
        schedule: ClinicSchedule = self.load(schedule_id, ClinicSchedule)
        slot = None
        if self.visit.service_unit == schedule.service_unit:
            slot = schedule.find_slot(self.visit.scheduled_start)
        if slot is None:
            self._hold(None)
            self._release_slot(schedule_id, held["start"], "rescheduled")
            return
        self._hold(schedule_id)
        if slot[0] != held["start"]:
            self._release_slot(schedule_id, held["start"], "rescheduled")
            self._claim(schedule, forced=False)

    def release(self, why: str) -> None:
        if self._book is None:
            return
        released = self._book.release(self.visit.id, why=why, at=self.at)
        if released is None:
            # Released already as fulfilled (the patient arrived, and a later booking met
            # it): its slot claim, if any, is still held; entered in error, it is freed.
            previous = self._book.released.get(self.visit.id)
            if previous is not None and previous["schedule_id"] is not None:
                self._release_slot(previous["schedule_id"], previous["start"], why)
            return
        self._keep(self._book)
        if released["schedule_id"] is not None:
            self._release_slot(released["schedule_id"], released["start"], why)

    # ---- steps ---------------------------------------------------------------------------
    def _hold(self, schedule_id: UUID | None) -> None:
        visit = self.visit
        assert visit.scheduled_start is not None, "a scheduled visit has a start"
        book = self._book
        if book is None:
            self._found = book = PatientBookings.open(
                patient_ref=visit.patient_ref, visit_id=visit.id, start=visit.scheduled_start,
                end=visit.scheduled_end, schedule_id=schedule_id, at=self.at,
            )  # fmt: skip
        else:
            book.hold(
                visit.id, start=visit.scheduled_start, end=visit.scheduled_end,
                schedule_id=schedule_id, at=self.at, still_booked=self._still_booked,
            )  # fmt: skip
        self._keep(book)

    def _still_booked(self, visit_id: UUID) -> bool:
        other = optional(self.load, visit_id, PatientVisit)
        return other is not None and other.status == SCHEDULED

    def _claim(self, schedule: ClinicSchedule, *, forced: bool) -> None:
        assert self.visit.scheduled_start is not None
        start, end = schedule.slot_at(self.visit.scheduled_start)
        slot = optional(self.load, slot_id_for(schedule.id, start), SlotClaims)
        if slot is None:
            slot = SlotClaims.open(
                schedule_id=schedule.id, start=start, end=end, visit_id=self.visit.id,
                places=schedule.places_per_slot, at=self.at,
            )  # fmt: skip
        else:
            if self.taking_over is not None:  # the place the offer held becomes the visit's
                if not slot.release(self.taking_over, why="offer-accepted", at=self.at):
                    raise StaleRead("the offer's place is no longer held: decide again")
            slot.claim(
                self.visit.id, capacity=schedule.capacity_per_slot,
                allowance=schedule.overbook_allowance, at=self.at, forced=forced,
            )  # fmt: skip
        self._keep(slot)

    def _release_slot(self, schedule_id: UUID, start: datetime, why: str) -> None:
        slot = optional(self.load, slot_id_for(schedule_id, start), SlotClaims)
        if slot is not None and slot.release(self.visit.id, why=why, at=self.at):
            self._keep(slot)
            offer_freed_place(self.load, slot, self.at, self.offer_for, self._keep)

    def _keep(self, aggregate: Aggregate) -> None:
        if all(a is not aggregate for a in self.saved):
            self.saved.append(aggregate)


def slot_end(load: Loader[Any], visit: PatientVisit, start: datetime) -> datetime | None:
    """The end of the slot at ``start`` in the schedule the visit's booking claims a slot of
    (a slot booking moved without an end keeps the slot's); None when it claims none or
    the start is no slot of it (the booking then leaves the schedule)."""
    booking = _Changes(load, visit, start)._book
    held = booking.booking_of(visit.id) if booking is not None else None
    if held is None or held["schedule_id"] is None:
        return None
    schedule: ClinicSchedule = load(held["schedule_id"], ClinicSchedule)
    slot = schedule.find_slot(start) if visit.service_unit == schedule.service_unit else None
    return slot[1] if slot is not None else None
