"""ClinicSchedule: a clinic's recurring sessions for a service or clinician in a unit, cut
into slots of a fixed length, each with a capacity and an overbooking allowance (FHIR
Schedule and Slot). Configured by admins; a session can be cancelled by its date.

The claims on each slot are not kept here (every booking would then contend on the one
schedule): they are :class:`~domain.capacity.slot.SlotClaims`, one aggregate per slot.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from domain.capacity import sessions
from domain.capacity.sessions import Recurrence
from domain.shared.base import AuditedAggregate
from domain.shared.errors import AlreadyCancelledError, DomainValidationError

#: Bounds on a slot's places: a capacity of 1 is one patient per slot.
MAX_CAPACITY = 100
MAX_SLOT_MINUTES = 24 * 60


class ClinicSchedule(AuditedAggregate):
    class ScheduleCreated(AuditedAggregate.Created):
        service_unit: str
        service: str | None
        clinician_ref: str | None
        start: datetime
        end: datetime
        slot_minutes: int
        capacity_per_slot: int
        overbook_allowance: int
        #: The weekdays the session repeats on (MON … SUN); empty: one session only.
        weekdays: list[str]
        #: The last day a session may fall on, ISO (YYYY-MM-DD), in the time zone below.
        until: str | None
        time_zone: str

        def apply(self, schedule: ClinicSchedule) -> None:
            schedule.service_unit = self.service_unit
            schedule.service, schedule.clinician_ref = self.service, self.clinician_ref
            schedule.capacity_per_slot = self.capacity_per_slot
            schedule.overbook_allowance = self.overbook_allowance
            schedule.recurrence = Recurrence(
                start=self.start, end=self.end, slot_minutes=self.slot_minutes,
                weekdays=tuple(self.weekdays),
                until=date.fromisoformat(self.until) if self.until else None,
                time_zone=self.time_zone,
            )  # fmt: skip
            schedule.cancelled = set()

    class SessionCancelled(AuditedAggregate.Event):
        """No slots on that day's session. Bookings already in it stay (the visits are
        still scheduled, to be rebooked or cancelled one by one)."""

        #: The session's local date, ISO.
        date: str

        def apply(self, schedule: ClinicSchedule) -> None:
            schedule.cancelled.add(date.fromisoformat(self.date))

    if TYPE_CHECKING:  # set by ScheduleCreated.apply (class annotations would be __init__'s)
        service_unit: str
        service: str | None
        clinician_ref: str | None
        capacity_per_slot: int
        overbook_allowance: int
        recurrence: Recurrence
        cancelled: set[date]

    @classmethod
    def create(
        cls, *, service_unit: str, service: str | None, clinician_ref: str | None,
        start: datetime, end: datetime, slot_minutes: int, capacity_per_slot: int,
        overbook_allowance: int, weekdays: list[str], until: date | None, time_zone: str,
        at: datetime,
    ) -> ClinicSchedule:  # fmt: skip
        if start.second or start.microsecond:
            # Slots are named by their start to the second (a slot's id, a page cursor, a FHIR
            # Slot id): a session starts on a whole minute, as every clinic's does.
            raise DomainValidationError("must be on a whole minute", field="start")
        if not 1 <= slot_minutes <= MAX_SLOT_MINUTES:
            raise DomainValidationError("must be 1 to 1440 minutes", field="slotMinutes")
        if not 1 <= capacity_per_slot <= MAX_CAPACITY:
            raise DomainValidationError("must be 1 to 100", field="capacityPerSlot")
        if not 0 <= overbook_allowance <= MAX_CAPACITY:
            raise DomainValidationError("must be 0 to 100", field="overbookAllowance")
        days = tuple(dict.fromkeys(weekdays))
        recurrence = Recurrence(start, end, slot_minutes, days, until, time_zone)
        try:
            sessions.check_recurrence(recurrence)
        except ValueError as wrong:
            field, _, message = str(wrong).partition(": ")
            raise DomainValidationError(message, field=field) from None
        schedule: ClinicSchedule = cls._create(
            cls.ScheduleCreated, service_unit=service_unit, service=service,
            clinician_ref=clinician_ref, start=start, end=end, slot_minutes=slot_minutes,
            capacity_per_slot=capacity_per_slot, overbook_allowance=overbook_allowance,
            weekdays=list(days), until=until.isoformat() if until else None,
            time_zone=time_zone, occurred_at=at,
        )  # fmt: skip
        return schedule

    def cancel_session(self, *, day: date, at: datetime) -> None:
        if not self.recurrence.holds_session_on(day):
            raise DomainValidationError("the schedule has no session on that date", field="date")
        if day in self.cancelled:
            raise AlreadyCancelledError("that session is cancelled already")
        self.trigger_event(self.SessionCancelled, date=day.isoformat(), occurred_at=at)

    @property
    def places_per_slot(self) -> int:
        """How many claims a slot takes: its capacity and the overbooking allowance."""
        return self.capacity_per_slot + self.overbook_allowance

    def find_slot(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The slot that starts at ``moment`` in a session still held, or None."""
        return sessions.slot_at(self.recurrence, self.cancelled, moment)

    def slot_at(self, moment: datetime) -> tuple[datetime, datetime]:
        """The slot that starts at ``moment``, or a refusal naming ``scheduledStart``."""
        found = self.find_slot(moment)
        if found is None:
            raise DomainValidationError(
                "is not the start of a slot of the schedule (or its session is cancelled)",
                field="scheduledStart",
            )
        return found
