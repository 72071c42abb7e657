"""When a clinic schedule's sessions and slots are: pure arithmetic over its definition.

A schedule's first session is ``[start, end)``. With weekdays, it repeats on each of them, at
the same wall-clock time in the facility's time zone (a 09:00 clinic stays at 09:00 across a
change to or from summer time), up to and including ``until``. A session is cut into slots of
``slot_minutes`` from its start; a remainder shorter than a slot is not a slot. A cancelled
session (by its local date) has no slots.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
#: How far ahead one schedule may repeat: two years bounds a slot search's work per schedule.
MAX_REPEAT_DAYS = 731
MAX_SESSION = timedelta(hours=24)


@dataclass(frozen=True)
class Recurrence:
    """The shape of a schedule's sessions, as its events hold it."""

    start: datetime
    end: datetime
    slot_minutes: int
    weekdays: tuple[str, ...]
    until: date | None
    time_zone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.zone).date()

    @property
    def last_day(self) -> date:
        return self.until if self.weekdays and self.until is not None else self.first_day

    def holds_session_on(self, day: date) -> bool:
        if not self.first_day <= day <= self.last_day:
            return False
        return day == self.first_day or WEEKDAYS[day.weekday()] in self.weekdays

    def session_on(self, day: date) -> tuple[datetime, datetime]:
        """The session's start and end on ``day`` (a day :meth:`holds_session_on`)."""
        local = self.start.astimezone(self.zone)
        start = datetime.combine(day, local.timetz().replace(tzinfo=None), self.zone)
        start = start.astimezone(timezone.utc)
        return start, start + (self.end - self.start)


def check_recurrence(rec: Recurrence) -> None:
    """The definition's own rules (a ValueError names what is wrong and where)."""
    length = rec.end - rec.start
    if length <= timedelta(0):
        raise ValueError("end: must be after start")
    if length > MAX_SESSION:
        raise ValueError("end: a session lasts at most 24 hours")
    if rec.slot > length:
        raise ValueError("slotMinutes: a slot must fit in the session")
    unknown = [d for d in rec.weekdays if d not in WEEKDAYS]
    if unknown:
        raise ValueError(f"repeat.weekdays: each must be one of {', '.join(WEEKDAYS)}")
    if rec.weekdays:
        if rec.until is None:
            raise ValueError("repeat.until: a repeating schedule needs an end date")
        if rec.until < rec.first_day:
            raise ValueError("repeat.until: must not be before the first session")
        if (rec.until - rec.first_day).days > MAX_REPEAT_DAYS:
            raise ValueError(f"repeat.until: at most {MAX_REPEAT_DAYS} days after the start")


def sessions(
    rec: Recurrence, cancelled: Collection[date], start: datetime, end: datetime
) -> Iterator[tuple[date, datetime, datetime]]:
    """The sessions that overlap ``[start, end)``, in order: (local day, start, end)."""
    zone = rec.zone
    day = max(rec.first_day, (start - MAX_SESSION).astimezone(zone).date())
    last = min(rec.last_day, end.astimezone(zone).date())
    while day <= last:
        if rec.holds_session_on(day) and day not in cancelled:
            begins, ends = rec.session_on(day)
            if begins < end and ends > start:
                yield day, begins, ends
        day += timedelta(days=1)


def slots(
    rec: Recurrence, cancelled: Collection[date], start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The slots that begin in ``[start, end)``, in order."""
    for _, begins, ends in sessions(rec, cancelled, start, end):
        at = begins
        while at + rec.slot <= ends:
            if start <= at < end:
                yield at, at + rec.slot
            at += rec.slot


def slot_at(
    rec: Recurrence, cancelled: Collection[date], moment: datetime
) -> tuple[datetime, datetime] | None:
    """The slot that begins exactly at ``moment``, or None."""
    for slot_start, slot_end in slots(rec, cancelled, moment, moment + timedelta(microseconds=1)):
        if slot_start == moment:
            return slot_start, slot_end
    return None
