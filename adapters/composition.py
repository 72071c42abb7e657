"""The composition root's shared parts: the application with the facility's policies, and the
background jobs that run beside the projection workers (``serve`` and ``project``)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from adapters.periodic import PeriodicJob
from adapters.readmodels.complaints import store as complaints_store
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.healing import healing_job
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.status import active_position
from adapters.readmodels.tracking import table_prefix
from adapters.settings import Settings, SettingsError
from adapters.storage import eventsourcing_env
from application.complaints.deadline_watcher import DeadlineWatcher
from application.service import PatientServices
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
            facility_timezone=zone,
        ),
        complaints=ComplaintRules(calendar=holiday_calendar(settings), facility_timezone=zone),
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


def breach_candidates(read_database: ReadDatabase, now: datetime) -> list[UUID]:
    """Cases the complaints read model says may have an unflagged breach at ``now``."""
    with read_database.read() as tx:
        generation = active_position(tx, complaints_store.NAME).generation
        prefix = table_prefix(complaints_store.NAME, generation)
        return [UUID(case_id) for case_id in complaints_store.breach_candidates(tx, prefix, now)]


def open_services(settings: Settings) -> PatientServices:
    return PatientServices(env=eventsourcing_env(settings), policies=policies_of(settings))


def background_jobs(
    settings: Settings, services: PatientServices, read_database: ReadDatabase
) -> list[PeriodicJob]:
    """The deadline watcher (candidates from the complaints read model, decisions by each
    case) and the healing of read models an older release built."""
    watcher = DeadlineWatcher(services, lambda now: breach_candidates(read_database, now))
    factories = list(read_model_factories(settings).values())
    return [
        PeriodicJob("deadline-watcher", settings.deadline_check_seconds, watcher.check),
        healing_job(read_database, factories),
    ]
