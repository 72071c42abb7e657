"""Given-when-then for the facility's complaint settings (issue 16, item 1): the default
policy and the holiday calendar chosen as events, each refusal, and the rules they give."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from domain.complaints.policy import ComplaintRules
from domain.complaints.settings import SETTINGS_ID, ComplaintSettings
from domain.shared.errors import DomainValidationError
from domain.shared.working_days import WEEKENDS_ONLY, HolidayCalendar
from tests.support.gwt import Expect, given, then, then_refused, when

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)  # a Monday
DEFAULTS = ComplaintRules(calendar=WEEKENDS_ONLY, default_policy="us-cms")


def opened() -> ComplaintSettings:
    return given(when(ComplaintSettings, "open", at=T0, role="admin").events)


def test_the_settings_open_under_their_fixed_id_with_nothing_chosen() -> None:
    outcome = when(ComplaintSettings, "open", at=T0, role="admin")

    then(outcome, Expect(ComplaintSettings.SettingsOpened))
    assert outcome.visit.id == SETTINGS_ID
    assert outcome.visit.over(DEFAULTS) == DEFAULTS  # nothing chosen: the settings stand


def test_a_default_policy_is_chosen_and_the_same_again_is_refused() -> None:
    chosen = when(opened(), "choose_policy", at=T0, role="admin", policy="nhs-england-2009",
                  rules=DEFAULTS)  # fmt: skip

    then(chosen, Expect(ComplaintSettings.DefaultPolicyChosen, policy="nhs-england-2009"))
    assert chosen.visit.over(DEFAULTS).default_policy == "nhs-england-2009"
    then_refused(chosen.visit, "choose_policy", DomainValidationError, "VALIDATION", at=T0,
                 role="admin", policy="nhs-england-2009", rules=DEFAULTS)  # fmt: skip


def test_an_unknown_policy_is_refused_naming_the_field() -> None:
    with pytest.raises(DomainValidationError) as refused:
        opened().choose_policy(policy="nhs-scotland", rules=DEFAULTS, at=T0)
    assert refused.value.field == "policy"


def test_a_calendar_of_the_facilitys_own_counts_only_the_days_it_lists() -> None:
    days = [date(2027, 3, 2), date(2027, 3, 2), date(2027, 1, 1)]
    chosen = when(opened(), "choose_calendar", at=T0, role="admin", name="trust",
                  holidays=days)  # fmt: skip

    then(chosen, Expect(ComplaintSettings.HolidayCalendarChosen, name="trust",
                        holidays=["2027-01-01", "2027-03-02"]))  # fmt: skip
    calendar = chosen.visit.over(DEFAULTS).calendar
    assert calendar == HolidayCalendar.of("trust", [date(2027, 1, 1), date(2027, 3, 2)])
    assert not calendar.is_working_day(date(2027, 3, 2))
    assert calendar.is_working_day(date(2028, 3, 2))  # a year it lists nothing for
    then_refused(chosen.visit, "choose_calendar", DomainValidationError, "VALIDATION", at=T0,
                 role="admin", name="trust", holidays=list(reversed(days)))  # fmt: skip


def test_a_shipped_calendar_is_chosen_by_name_alone() -> None:
    chosen = when(opened(), "choose_calendar", at=T0, role="admin", name="england-and-wales",
                  holidays=None)  # fmt: skip

    then(chosen, Expect(ComplaintSettings.HolidayCalendarChosen, name="england-and-wales",
                        holidays=None))  # fmt: skip
    calendar = chosen.visit.over(DEFAULTS).calendar
    assert calendar.is_holiday(date(2027, 5, 3))  # Early May bank holiday, 2027
    assert calendar.regular_pattern


@pytest.mark.parametrize(
    ("name", "holidays"),
    [("england-and-wales", [date(2027, 3, 2)]), ("weekends-only", []), ("trust", None),
     ("trust", [date(2027, 1, 1) + timedelta(days=n) for n in range(1001)])],
    ids=["shipped-with-days", "shipped-empty-days", "own-without-days", "too-many"],
)  # fmt: skip
def test_a_calendar_choice_that_cannot_stand_is_refused(
    name: str, holidays: list[date] | None
) -> None:
    then_refused(opened(), "choose_calendar", DomainValidationError, "VALIDATION", at=T0,
                 role="admin", name=name, holidays=holidays)  # fmt: skip
