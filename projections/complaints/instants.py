"""Instants and months as the complaints views use them.

Read models store instants as integer microseconds since the epoch (UTC,
:func:`projections.shared.records.to_micros`); the views turn them back into datetimes and
bucket them by month in the facility's time zone. These helpers are for values known to be
present (an event's ``occurred_at``, a case's receipt), so they return plain ``int`` and
``datetime`` rather than optionals.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from projections.shared.records import from_micros, to_micros


def micros(moment: datetime) -> int:
    """``moment`` in microseconds since the epoch (UTC)."""
    value = to_micros(moment)
    assert value is not None
    return value


def moment(value: int) -> datetime:
    """The UTC datetime of ``value`` microseconds since the epoch."""
    result = from_micros(value)
    assert result is not None
    return result


def month_of(value: int, zone: ZoneInfo) -> str:
    """The local month (``YYYY-MM`` in ``zone``) an instant falls in."""
    return moment(value).astimezone(zone).strftime("%Y-%m")


def months_between(start: datetime, end: datetime, zone: ZoneInfo) -> list[str]:
    """Every local month from ``start``'s to the one holding the last instant before
    ``end`` (``end`` is exclusive), as ``YYYY-MM``."""
    first = start.astimezone(zone).date().replace(day=1)
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    months: list[str] = []
    month = first
    while month <= last:
        months.append(month.strftime("%Y-%m"))
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months
