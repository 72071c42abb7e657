"""The capacity read model's fold: units and beds, clinic schedules, and how many places of
each slot are claimed.

Units and schedules are configuration (few, rarely changed); slots are one row per slot that
has ever been claimed, with the number of claims it holds now. The slots themselves are not
stored: they follow from each schedule's definition (:mod:`domain.capacity.sessions`), so a
year of sessions costs nothing until a booking claims one, and a free-slot search generates
the slots of its range and subtracts the claims.

**Declared coverage** (as for every fold): :data:`HANDLED` names the event classes folded,
:data:`IGNORED` those left alone; a record of any other class is skipped, with a warning once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

import msgspec

from domain.capacity.schedule import ClinicSchedule
from domain.capacity.sessions import Recurrence, sessions, slots
from domain.capacity.slot import SlotClaims
from domain.capacity.unit import FacilityUnit
from domain.capacity.waitlist import ScheduleWaitlist
from projections.shared.records import event_class, is_event_of

AGGREGATES = (FacilityUnit, ClinicSchedule, SlotClaims, ScheduleWaitlist)

#: Per aggregate (this fold reads three), the event classes folded and those left alone.
HANDLED: dict[str, frozenset[str]] = {
    "FacilityUnit": frozenset({"UnitConfigured", "UnitClosed", "UnitOpened", "BedsChanged"}),
    "ClinicSchedule": frozenset({"ScheduleCreated", "SessionCancelled"}),
    "SlotClaims": frozenset({"SlotOpened", "SlotClaimed", "SlotReleased"}),
    "ScheduleWaitlist": frozenset(
        {"WaitlistOpened", "PatientWaitlisted", "SlotOffered", "OfferAccepted", "OfferExpired"}
    ),
}
IGNORED: dict[str, frozenset[str]] = {
    name: frozenset({"Event", "Created"})
    for name in HANDLED  # the bases, never stored
}


def wants(topic: str) -> bool:
    return any(is_event_of(topic, aggregate) for aggregate in AGGREGATES)


def event_name(topic: str) -> str:
    return str(event_class(topic).__name__)


# ---- views ----------------------------------------------------------------------------------
class BedView(msgspec.Struct, frozen=True, rename="camel"):
    bed: str
    #: The kind of bed, as a code (null if not given).
    type: str | None
    #: Out of use: not available.
    closed: bool


class UnitView(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    #: The unit's code, as visits and feeds name it.
    code: str
    #: The unit's name, for screens.
    name: str
    #: ed, ward, clinic or theatre.
    kind: str
    #: Whether the unit is open (a closed unit has no available beds).
    open: bool
    #: The unit's beds, in the order configured.
    beds: list[BedView]
    version: int


class UnitList(msgspec.Struct, frozen=True):
    items: list[UnitView]


class ScheduleView(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    service_unit: str
    #: The service offered, as a code (null if not given).
    service: str | None
    #: The clinician holding the sessions (null if not given).
    clinician_ref: str | None
    #: The first session's start.
    start: datetime
    #: The first session's end.
    end: datetime
    #: The length of each slot, in minutes.
    slot_minutes: int
    #: Patients per slot.
    capacity_per_slot: int
    #: Bookings a slot may take beyond its capacity.
    overbook_allowance: int
    #: The weekdays the session repeats on (empty: one session).
    weekdays: list[str]
    #: The last day a session may fall on (null: one session).
    until: date | None
    #: The time zone the sessions keep their wall-clock time in.
    time_zone: str
    #: The local dates of the sessions cancelled.
    cancelled_sessions: list[date]
    version: int

    def recurrence(self) -> Recurrence:
        return Recurrence(
            self.start, self.end, self.slot_minutes, tuple(self.weekdays), self.until,
            self.time_zone,
        )  # fmt: skip


class ScheduleList(msgspec.Struct, frozen=True):
    items: list[ScheduleView]


class SlotView(msgspec.Struct, frozen=True, rename="camel"):
    #: The schedule the slot is of (book with it as `scheduleId`).
    schedule_id: str
    #: The slot's start (book with it as `scheduledStart`).
    start: datetime
    #: The slot's end.
    end: datetime
    #: The slot's capacity (patients per slot).
    capacity: int
    #: Claims held now (may exceed the capacity by the overbooking allowance).
    booked: int
    #: Places left within the capacity.
    free: int
    #: Places left beyond the capacity (the overbooking allowance not yet used).
    overbook_free: int
    service_unit: str
    #: The schedule's service, as a code (null if none).
    service: str | None
    #: The schedule's clinician (null if none).
    clinician_ref: str | None


class SlotList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[SlotView]
    #: Pass as `after` for the next page (null: this is the last).
    next_after: str | None = None


def slot_views(
    schedule: ScheduleView, booked: dict[datetime, int], start: datetime, end: datetime
) -> Iterator[SlotView]:
    """The schedule's slots beginning in ``[start, end)``, with their claims."""
    places = schedule.capacity_per_slot + schedule.overbook_allowance
    cancelled = set(schedule.cancelled_sessions)
    for slot_start, slot_end in slots(schedule.recurrence(), cancelled, start, end):
        taken = booked.get(slot_start, 0)
        free = max(schedule.capacity_per_slot - taken, 0)
        yield SlotView(
            schedule_id=schedule.id, start=slot_start, end=slot_end,
            capacity=schedule.capacity_per_slot, booked=taken, free=free,
            overbook_free=max(places - taken, 0) - free, service_unit=schedule.service_unit,
            service=schedule.service, clinician_ref=schedule.clinician_ref,
        )  # fmt: skip


class DayVisit(msgspec.Struct, frozen=True, rename="camel"):
    visit_id: str
    #: The patient (null until the flow read model holds the visit: see minPosition).
    patient_ref: str | None
    #: The visit's state now: scheduled, arrived, ... (null as for patientRef).
    status: str | None


class DaySlot(msgspec.Struct, frozen=True, rename="camel"):
    #: The slot and its places.
    slot: SlotView
    #: The visits holding it, in the order of their ids.
    visits: list[DayVisit]


class DayList(msgspec.Struct, frozen=True, rename="camel"):
    """A clinic's day: each slot of the day's sessions and who is booked into it."""

    #: The local date.
    date: date
    #: The schedule the day list is of.
    schedule_id: str
    #: Each slot of the day's sessions, by start.
    slots: list[DaySlot]


class Offer(msgspec.Struct, frozen=True, rename="camel"):
    #: The slot offered (held for the patient until `expiresAt`).
    start: datetime
    #: The offered slot's end.
    end: datetime
    #: When the offer lapses and passes to the next patient.
    expires_at: datetime


class WaitlistEntry(msgspec.Struct, frozen=True, rename="camel"):
    #: The entry's id: accept or decline its offer with it.
    entry_id: str
    patient_ref: str
    #: 1 (most urgent) to 5.
    priority: int
    #: When the patient joined the waitlist.
    waiting_since: datetime
    #: The earliest slot start the patient can take (null: any).
    earliest: datetime | None
    #: The latest, exclusive (null: any).
    latest: datetime | None
    #: The open offer, if the patient holds one.
    offer: Offer | None


class Waitlist(msgspec.Struct, frozen=True, rename="camel"):
    #: The schedule the patients wait for.
    schedule_id: str
    #: Who is offered a freed slot first: by priority, then by how long they have waited.
    items: list[WaitlistEntry]


class SessionFigures(msgspec.Struct, frozen=True, rename="camel"):
    """One session's use: how full it was booked and how many did not attend."""

    #: The session's local date.
    date: date
    #: The session's start.
    start: datetime
    #: The session's end.
    end: datetime
    #: Slots in the session.
    slots: int
    #: The session's capacity: slots × capacity per slot.
    capacity: int
    #: Claims held now (attended, still to come, or overbooked).
    booked: int
    #: Bookings marked no-show (did not attend; a reverted no-show is not one).
    no_shows: int
    #: Booked over capacity (above 1 when overbooked); null for a session without capacity.
    utilisation: float | None
    #: The DNA rate: no-shows over the bookings that fell due (booked + no-shows); null when
    #: there were none.
    dna_rate: float | None


class SessionList(msgspec.Struct, frozen=True):
    items: list[SessionFigures]


def session_figures(
    schedule: ScheduleView, counts: dict[datetime, tuple[int, int]], start: datetime,
    end: datetime,
) -> list[SessionFigures]:  # fmt: skip
    """Each session of the schedule overlapping ``[start, end)``, with its claims and no-shows
    summed over its slots (``counts``: per slot start, claims and no-shows)."""
    recurrence = schedule.recurrence()
    out = []
    for day, begins, ends in sessions(recurrence, set(schedule.cancelled_sessions), start, end):
        starts = [s for s, _ in slots(recurrence, (), begins, ends)]
        booked = sum(counts.get(s, (0, 0))[0] for s in starts)
        missed = sum(counts.get(s, (0, 0))[1] for s in starts)
        capacity = len(starts) * schedule.capacity_per_slot
        due = booked + missed
        out.append(SessionFigures(
            date=day, start=begins, end=ends, slots=len(starts), capacity=capacity,
            booked=booked, no_shows=missed,
            utilisation=round(booked / capacity, 4) if capacity else None,
            dna_rate=round(missed / due, 4) if due else None,
        ))  # fmt: skip
    return out


def merged(lists: Iterable[Iterator[SlotView]]) -> Iterator[SlotView]:
    """Slots of several schedules in one order, by start then schedule, lazily: a page of a
    search across many schedules generates little more than the page."""
    return heapq.merge(*lists, key=lambda s: (s.start, s.schedule_id))


def unit_view(row: tuple[Any, ...]) -> UnitView:
    id_, code, name, kind, is_open, beds, version = row
    return UnitView(
        id=id_, code=code, name=name, kind=kind, open=bool(is_open),
        beds=msgspec.json.decode(beds, type=list[BedView]), version=version,
    )  # fmt: skip
