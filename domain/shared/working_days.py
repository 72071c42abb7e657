"""Calendar arithmetic for complaint deadlines: working days, calendar days and months.

Every deadline ends at the **end of a day in the facility's time zone**: the instant the next
local day starts (local midnight), converted to UTC through ``zoneinfo``, so a deadline that
falls across a change to or from summer time is still the end of the right local day.

- ``N working days`` (NHS acknowledgement): the end of the Nth working day after the day of
  receipt. The day of receipt never counts, whatever the hour; Saturdays, Sundays and the
  calendar's holidays are not working days.
- ``N calendar days`` (CMS response): the end of the day N days after the day of receipt.
- ``N months`` (NHS response): the end of the same day of the month N months later, clamped
  to that month's last day (31 August + 6 months → 28 or 29 February).

The dates a command computes are stored in its event (see :mod:`domain.complaints.case`): a later
change of calendar or policy never changes history.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

SATURDAY = 5
ENGLAND_AND_WALES = "england-and-wales"

PeriodUnit = Literal["working_days", "calendar_days", "months"]


@dataclass(frozen=True)
class HolidayCalendar:
    """The days that are not working days besides weekends, for the years it covers.

    For a year outside ``covered_years`` (one the data was not published for yet), the
    regular pattern of that division's bank holidays is used if ``regular_pattern`` is set
    (see :func:`regular_bank_holidays`): one-off holidays (a coronation, a state funeral)
    are only known from data, so keep the data file current."""

    name: str
    holidays: frozenset[date]
    covered_years: frozenset[int] = frozenset()
    regular_pattern: bool = False

    @classmethod
    def of(
        cls, name: str, holidays: Iterable[date], *, regular_pattern: bool = False
    ) -> HolidayCalendar:
        """A calendar covering the years its holidays fall in."""
        days = frozenset(holidays)
        return cls(name, days, frozenset(d.year for d in days), regular_pattern)

    def is_holiday(self, day: date) -> bool:
        if day.year in self.covered_years or not self.regular_pattern:
            return day in self.holidays
        return day in _regular_bank_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < SATURDAY and not self.is_holiday(day)

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself never counts)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        current = day
        while count:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count -= 1
        return current


#: A calendar with no holidays: only Saturdays and Sundays are not working days.
WEEKENDS_ONLY = HolidayCalendar("weekends-only", frozenset())


@dataclass(frozen=True)
class Period:
    """How long a deadline runs from the day something happened (see the module doc)."""

    amount: int
    unit: PeriodUnit

    def __post_init__(self) -> None:
        if self.amount < 1:
            raise ValueError("a period is at least 1")

    def due_after(self, start: datetime, zone: ZoneInfo, holidays: HolidayCalendar) -> datetime:
        """The deadline, in UTC, of a period starting at instant ``start``."""
        day = start.astimezone(zone).date()
        if self.unit == "working_days":
            last_day = holidays.add_working_days(day, self.amount)
        elif self.unit == "calendar_days":
            last_day = day + timedelta(days=self.amount)
        else:
            last_day = add_months(day, self.amount)
        return end_of_day(last_day, zone)

    def describe(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The instant ``day`` ends in ``zone`` (the next local midnight), in UTC. Midnight
    exists on every day in the zones we serve (DST changes happen at 01:00 or 02:00)."""
    local_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return local_midnight.astimezone(timezone.utc)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the last day of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


# ---- England and Wales ----------------------------------------------------------------
@lru_cache(maxsize=1)
def england_and_wales() -> HolidayCalendar:
    """The bank holidays of England and Wales shipped with the code (``data/``), as
    published by GOV.UK for the years listed there; later years follow the regular pattern.
    Loaded once; no network at run time."""
    text = resources.files("domain").joinpath("data", "bank-holidays-england-and-wales.json")
    document = json.loads(text.read_text(encoding="utf-8"))
    assert document["division"] == ENGLAND_AND_WALES
    days = [date.fromisoformat(event["date"]) for event in document["events"]]
    return HolidayCalendar.of(ENGLAND_AND_WALES, days, regular_pattern=True)


def regular_bank_holidays(year: int) -> list[date]:
    """England and Wales's usual bank holidays (Banking and Financial Dealings Act 1971 and
    the yearly proclamations): New Year's Day, Good Friday, Easter Monday, the first and last
    Mondays of May, the last Monday of August, Christmas Day and Boxing Day, with a weekday
    substitute for those falling on a weekend. One-off changes are not in it."""
    easter = easter_sunday(year)
    new_year = _next_weekday(date(year, 1, 1))
    christmas = date(year, 12, 25)
    boxing = date(year, 12, 26)
    if christmas.weekday() >= SATURDAY:  # Sat → Mon 27 and Tue 28; Sun → Tue 27 (Boxing Mon 26)
        christmas, boxing = (
            (date(year, 12, 27), date(year, 12, 28))
            if christmas.weekday() == SATURDAY
            else (date(year, 12, 27), boxing)
        )
    elif boxing.weekday() >= SATURDAY:  # Boxing Day on Saturday → Monday 28
        boxing = date(year, 12, 28)
    return sorted(
        {
            new_year,
            easter - timedelta(days=2),
            easter + timedelta(days=1),
            _first_monday(year, 5),
            _last_monday(year, 5),
            _last_monday(year, 8),
            christmas,
            boxing,
        }
    )


@lru_cache(maxsize=64)
def _regular_bank_holidays(year: int) -> frozenset[date]:
    return frozenset(regular_bank_holidays(year))


def easter_sunday(year: int) -> date:
    """Western Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _next_weekday(day: date) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=last.weekday())
