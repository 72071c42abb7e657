"""Deadline arithmetic (domain.shared.working_days): working days across weekends and bank
holidays, calendar days and months across month ends and both changes of summer time;
every deadline is the end of a local day in the facility's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.shared.working_days import (
    WEEKENDS_ONLY,
    HolidayCalendar,
    Period,
    add_months,
    easter_sunday,
    end_of_day,
    england_and_wales,
    regular_bank_holidays,
)

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
EW = england_and_wales()
ACK = Period(3, "working_days")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ack_due(received: datetime) -> datetime:
    return ACK.due_after(received, LONDON, EW)


# ---- working days ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        (utc(2026, 3, 2, 10), utc(2026, 3, 6, 0), "Monday → end of Thursday (GMT)"),
        (utc(2026, 3, 5, 9), utc(2026, 3, 11, 0), "Thursday → over the weekend to Tuesday"),
        (utc(2026, 3, 6, 17), utc(2026, 3, 12, 0), "Friday evening → Wednesday"),
        (utc(2026, 3, 7, 12), utc(2026, 3, 12, 0), "Saturday → Mon, Tue, Wed"),
        (utc(2026, 3, 8, 23, 59), utc(2026, 3, 12, 0), "Sunday night → Wednesday"),
        (utc(2026, 4, 2, 9), utc(2026, 4, 9, 23), "Thursday before Easter → Tue, Wed, Thu (BST)"),
        (utc(2026, 12, 23, 9), utc(2026, 12, 31, 0), "23 Dec → 24, 29, 30 (28th is Boxing Day's)"),
        (utc(2026, 5, 22, 9), utc(2026, 5, 28, 23), "before the spring bank holiday (25 May)"),
        (utc(2026, 5, 29, 9), utc(2026, 6, 3, 23), "over the month end: Jun 1, 2, 3"),
        (utc(2022, 9, 16, 9), utc(2022, 9, 22, 23), "over the Queen's state funeral (19 Sep)"),
        (utc(2023, 5, 5, 9), utc(2023, 5, 11, 23), "over the coronation (8 May)"),
    ],
)
def test_three_working_days_end_with_the_third_working_day_after_receipt(
    received: datetime, due: datetime, why: str
) -> None:
    assert ack_due(received) == due, why


def test_the_day_of_receipt_is_the_local_day_not_the_utc_day() -> None:
    # 23:30 UTC on Monday 1 June is 00:30 BST on Tuesday: Tuesday is the day of receipt.
    assert ack_due(utc(2026, 6, 1, 23, 30)) == utc(2026, 6, 5, 23)
    assert ack_due(utc(2026, 6, 1, 22, 59)) == utc(2026, 6, 4, 23)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Summer time starts on Sunday 29 March 2026: due at the end of Tuesday 31 March BST.
        (utc(2026, 3, 26, 12), utc(2026, 3, 31, 23)),
        # It ends on Sunday 25 October 2026: due at the end of Tuesday 27 October GMT.
        (utc(2026, 10, 22, 12), utc(2026, 10, 28, 0)),
    ],
)
def test_working_days_across_a_change_of_summer_time_end_at_local_midnight(
    received: datetime, due: datetime
) -> None:
    assert ack_due(received) == due
    assert due.astimezone(LONDON).time().isoformat() == "00:00:00"


def test_after_the_published_years_the_regular_pattern_applies() -> None:
    assert 2028 not in EW.covered_years
    assert not EW.is_working_day(date(2028, 4, 14))  # Good Friday 2028
    assert not EW.is_working_day(date(2028, 12, 26))
    assert EW.is_working_day(date(2028, 4, 18))


def test_a_configured_calendar_counts_only_its_own_holidays() -> None:
    calendar = HolidayCalendar.of("test", [date(2026, 3, 3)])
    assert calendar.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 4)
    assert WEEKENDS_ONLY.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 3)
    assert not calendar.is_holiday(date(2028, 4, 14))  # no pattern: only what it lists


@given(
    start=st.dates(min_value=date(2018, 1, 1), max_value=date(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=30),
)
def test_the_nth_working_day_is_a_working_day_with_n_working_days_up_to_it(
    start: date, count: int
) -> None:
    end = EW.add_working_days(start, count)
    assert EW.is_working_day(end)
    days = [start + timedelta(days=n) for n in range(1, (end - start).days + 1)]
    assert sum(EW.is_working_day(d) for d in days) == count


# ---- calendar days and months ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "due"),
    [
        (utc(2026, 3, 2, 10), utc(2026, 3, 10, 0)),  # end of Monday 9 March GMT
        (utc(2026, 3, 25, 10), utc(2026, 4, 1, 23)),  # into summer time: end of 1 April BST
        (utc(2026, 10, 24, 12), utc(2026, 11, 1, 0)),  # out of it: end of 31 October GMT
        (utc(2026, 12, 28, 9), utc(2027, 1, 5, 0)),  # over the year end, holidays included
    ],
)
def test_seven_calendar_days_end_with_the_seventh_day_after_receipt(
    received: datetime, due: datetime
) -> None:
    assert Period(7, "calendar_days").due_after(received, LONDON, EW) == due


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 2), 6, date(2026, 9, 2)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2025, 3, 31), 12, date(2026, 3, 31)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
    ],
)
def test_adding_months_clamps_to_the_last_day_of_a_shorter_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


def test_six_months_end_at_the_end_of_the_local_day() -> None:
    six_months = Period(6, "months")
    assert six_months.due_after(utc(2026, 3, 2, 10), LONDON, EW) == utc(2026, 9, 2, 23)
    assert six_months.due_after(utc(2026, 8, 31, 10), LONDON, EW) == utc(2027, 3, 1, 0)


def test_the_end_of_a_day_follows_the_facility_time_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    assert end_of_day(date(2026, 3, 9), new_york) == utc(2026, 3, 10, 4)  # EDT from 8 March
    assert end_of_day(date(2026, 3, 7), new_york) == utc(2026, 3, 8, 5)  # still EST
    received = utc(2026, 3, 3, 3)  # 22:00 EST on Monday 2 March
    assert Period(7, "calendar_days").due_after(received, new_york, WEEKENDS_ONLY) == utc(
        2026, 3, 10, 4
    )


def test_a_period_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        Period(0, "working_days")


# ---- the shipped England and Wales calendar ---------------------------------------------------
def test_the_shipped_calendar_covers_the_published_years_on_weekdays_only() -> None:
    assert EW.covered_years == frozenset(range(2018, 2028))
    assert all(day.weekday() < 5 for day in EW.holidays)
    assert {date(2022, 9, 19), date(2023, 5, 8), date(2020, 5, 8)} <= EW.holidays
    assert date(2020, 5, 4) not in EW.holidays  # the early May holiday moved to VE day


@pytest.mark.parametrize("year", range(2018, 2028))
def test_the_regular_pattern_matches_every_published_year_without_one_off_changes(
    year: int,
) -> None:
    published = sorted(day for day in EW.holidays if day.year == year)
    if year in (2020, 2022, 2023):  # VE day, the jubilee and the funeral, the coronation
        assert published != regular_bank_holidays(year)
    else:
        assert published == regular_bank_holidays(year)


@pytest.mark.parametrize(
    "easter",
    [date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2038, 4, 25), date(2285, 3, 22)],
)
def test_easter_sunday(easter: date) -> None:
    assert easter_sunday(easter.year) == easter
