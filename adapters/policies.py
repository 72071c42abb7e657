"""The facility's rules, read from its settings: visit timings, the complaint deadlines'
holiday calendar and the budget's fiscal calendar.

A leaf of the composition root (:mod:`adapters.composition`): the read-model registry needs
the budget's rules too, and must not import the root that imports it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from adapters.settings import Settings, SettingsError
from application.shared.policies import Policies
from domain.budget.policy import BudgetRules
from domain.complaints.policy import ComplaintRules
from domain.shared.working_days import HolidayCalendar, england_and_wales
from domain.visits.vocabulary import VisitPolicy


def policies_of(settings: Settings) -> Policies:
    zone = settings.facility_timezone
    return Policies(
        visit=VisitPolicy(
            no_show_grace=timedelta(minutes=settings.no_show_grace_minutes),
            late_cancellation_window=timedelta(hours=settings.late_cancellation_hours),
            waitlist_offer=timedelta(minutes=settings.waitlist_offer_minutes),
            facility_timezone=zone,
        ),
        complaints=ComplaintRules(
            calendar=holiday_calendar(settings),
            facility_timezone=zone,
            default_policy=settings.complaint_policy,
        ),
        budget=budget_rules_of(settings),
    )


def budget_rules_of(settings: Settings) -> BudgetRules:
    """The budget's rules alone (the read model and the summary route need only these, not
    the holiday calendar file the complaint rules read)."""
    return BudgetRules(
        fiscal_year_start_month=settings.fiscal_year_start_month,
        facility_timezone=settings.facility_timezone,
    )


def holiday_calendar(settings: Settings) -> HolidayCalendar:
    """The shipped England and Wales calendar, or the one in ``HOLIDAY_CALENDAR_FILE``: the
    GOV.UK ``bank-holidays.json`` shape of one division (``{"events": [{"date": ...}]}``).
    Only the days listed count as holidays: no pattern is assumed for other years."""
    path = settings.holiday_calendar_file
    if path is None:
        return england_and_wales()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        days = [date.fromisoformat(event["date"]) for event in document["events"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SettingsError(
            f"HOLIDAY_CALENDAR_FILE: expected a readable JSON file of "
            f'{{"events": [{{"date": "YYYY-MM-DD"}}]}} ({type(e).__name__})'
        ) from None
    return HolidayCalendar.of(str(document.get("division", Path(path).stem)), days)
