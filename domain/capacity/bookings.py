"""PatientBookings: the bookings one patient holds, to keep them from overlapping.

One aggregate per patient, its id derived from the opaque ``patientRef``
(:func:`~domain.capacity.identity.bookings_id_for`), saved in the same transaction as the
visit it books: two concurrent bookings of the same patient both write it, so one of them
decides again and sees the other. A booking is active from when it is made until its visit
is cancelled, marked a no-show or entered in error (a reverted no-show holds it again), or
goes ahead (the patient arrives: released as fulfilled when a later booking meets it); it
also names the schedule whose slot it claims, so the visit's later commands find the claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.capacity.errors import DoubleBookingError
from domain.capacity.identity import bookings_id_for
from domain.shared.base import AuditedAggregate

#: Why a booking whose visit has moved on (arrived, and so on) was released.
FULFILLED = "fulfilled"
#: How long a booking without an end is taken to last, for the overlap check.
DEFAULT_BOOKING_LENGTH = timedelta(minutes=30)

Booking = dict[str, Any]


def _span(start: datetime, end: datetime | None) -> tuple[datetime, datetime]:
    return start, end if end is not None else start + DEFAULT_BOOKING_LENGTH


class PatientBookings(AuditedAggregate):
    class BookingsOpened(AuditedAggregate.Created):
        """The patient's first booking: the patient, and the booking held."""

        patient_ref: str
        visit_id: UUID
        start: datetime
        end: datetime | None
        schedule_id: UUID | None

        def apply(self, book: PatientBookings) -> None:
            book.patient_ref = self.patient_ref
            book.active, book.released = {}, {}
            book.active[self.visit_id] = {
                "start": self.start, "end": self.end, "schedule_id": self.schedule_id,
            }  # fmt: skip

    class BookingHeld(AuditedAggregate.Event):
        """The visit's booking, made or moved (reschedule) or held again (a reverted no-show)."""

        visit_id: UUID
        start: datetime
        end: datetime | None
        schedule_id: UUID | None

        def apply(self, book: PatientBookings) -> None:
            book.released.pop(self.visit_id, None)
            book.active[self.visit_id] = {
                "start": self.start, "end": self.end, "schedule_id": self.schedule_id,
            }  # fmt: skip

    class BookingReleased(AuditedAggregate.Event):
        visit_id: UUID
        #: cancelled, no-show, entered-in-error, or fulfilled (its visit went ahead).
        why: str

        def apply(self, book: PatientBookings) -> None:
            booking = book.active.pop(self.visit_id, None)
            if booking is not None:
                book.released[self.visit_id] = booking

    if TYPE_CHECKING:  # set by BookingsOpened.apply (class annotations would be __init__'s)
        patient_ref: str
        active: dict[UUID, Booking]
        #: Each visit's booking when last released (a reverted no-show holds it again).
        released: dict[UUID, Booking]

    @staticmethod
    def create_id(patient_ref: str, **_: Any) -> Any:
        return bookings_id_for(patient_ref)

    @classmethod
    def open(
        cls, *, patient_ref: str, visit_id: UUID, start: datetime, end: datetime | None,
        schedule_id: UUID | None, at: datetime,
    ) -> PatientBookings:  # fmt: skip
        """The patient's bookings, opened with the first (one event, not two)."""
        book: PatientBookings = cls._create(
            cls.BookingsOpened, patient_ref=patient_ref, visit_id=visit_id, start=start,
            end=end, schedule_id=schedule_id, occurred_at=at,
        )  # fmt: skip
        return book

    def hold(
        self, visit_id: UUID, *, start: datetime, end: datetime | None,
        schedule_id: UUID | None, at: datetime,
        still_booked: Callable[[UUID], bool] = lambda _: True,
    ) -> None:  # fmt: skip
        """Hold (or move) the visit's booking; DOUBLE_BOOKING if another active booking of
        the patient overlaps. ``still_booked`` says whether an overlapping one's visit is
        still booked: one whose patient has arrived since is fulfilled, not a clash, and is
        released here (``fulfilled``), so only a clash ever costs a look at another visit."""
        begins, ends = _span(start, end)
        for other_id, other in list(self.active.items()):
            if other_id == visit_id:
                continue
            other_begins, other_ends = _span(other["start"], other["end"])
            if begins < other_ends and other_begins < ends:
                if still_booked(other_id):
                    raise DoubleBookingError(other_id)
                self.release(other_id, why=FULFILLED, at=at)
        self.trigger_event(
            self.BookingHeld, visit_id=visit_id, start=start, end=end,
            schedule_id=schedule_id, occurred_at=at,
        )  # fmt: skip

    def release(self, visit_id: UUID, *, why: str, at: datetime) -> Booking | None:
        """Release the visit's booking and return it; None (nothing recorded) if none is held."""
        booking = self.active.get(visit_id)
        if booking is None:
            return None
        self.trigger_event(self.BookingReleased, visit_id=visit_id, why=why, occurred_at=at)
        return booking

    def booking_of(self, visit_id: UUID) -> Booking | None:
        return self.active.get(visit_id)
