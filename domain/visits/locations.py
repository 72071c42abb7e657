"""Where a visit's patient was: its location periods (domain-spec §1, invariant 1).

A period is a unit (and bed) from a start to an end; at most one is open, the last, and it
is closed at the instant the next one opens. The functions are pure: an event's ``apply``
assigns the list they return, so replay rebuilds the same periods.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class LocationPeriod(TypedDict):
    unit: str
    bed: str | None
    start: datetime
    end: datetime | None


class Location(TypedDict):
    """Where the patient is now: the open period's unit and bed."""

    unit: str
    bed: str | None


def opened(
    periods: list[LocationPeriod], unit: str, bed: str | None, at: datetime
) -> list[LocationPeriod]:
    """Invariant 1: the open period is closed at the instant the next one opens."""
    return [*closed(periods, at), {"unit": unit, "bed": bed, "start": at, "end": None}]


def closed(periods: list[LocationPeriod], at: datetime) -> list[LocationPeriod]:
    """The periods with the open one (if any) ended at ``at``."""
    if not periods or periods[-1]["end"] is not None:
        return periods
    # Flow steps are ordered by their checks; a backdated entered-in-error is not,
    # and a period must never end before it starts.
    period = periods[-1]
    return [*periods[:-1], {**period, "end": max(at, period["start"])}]


def current(periods: list[LocationPeriod]) -> Location | None:
    """The open period's unit and bed, or None when the patient holds no location."""
    if periods and periods[-1]["end"] is None:
        period = periods[-1]
        return {"unit": period["unit"], "bed": period["bed"]}
    return None
