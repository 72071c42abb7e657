"""The facility's complaint settings over HTTP: what the deadlines are computed with.

``GET /complaint-settings`` answers the rules in force (now, or as of a time: which calendar
an admin had chosen when a deadline an auditor is looking at was set; where none was chosen,
the service's settings of today stand in, as the answer's ``source`` says) and where each
came from: an admin's recorded
choice or the service's settings. ``POST /complaint-settings/policy`` and
``/complaint-settings/holiday-calendar`` record a choice (role ``admin``), in the audit trail
like every change.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, Literal

import msgspec
from litestar import Request, Response, Router, get

from adapters.http.kit.aggregate_state import AsOf, IfNoneMatch, etag_matches
from adapters.http.kit.auth import may_read
from adapters.http.kit.commands import untargeted_handler
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import aware
from adapters.http.kit.resources import ETAG_HEADER, Resource
from adapters.http.kit.services import services_of
from application.complaints.settings import ChooseComplaintPolicy, ChooseHolidayCalendar
from application.shared.errors import NotFoundError
from application.shared.permissions import COMPLAINT_SETTINGS_READERS
from domain.complaints.settings import SETTINGS_ID, ComplaintSettings

SETTINGS = Resource(
    path="/api/v1/complaint-settings", noun="complaint settings", name="complaint-settings"
)
Source = Literal["facility", "settings"]


class HolidayCalendarView(msgspec.Struct, frozen=True, rename="camel"):
    #: The calendar's name: england-and-wales, weekends-only or one of the facility's own.
    name: str
    #: Its holidays (YYYY-MM-DD) in the years it lists, besides Saturdays and Sundays.
    holidays: list[date]
    #: Whether a year it lists no holidays for follows the regular pattern of England and
    #: Wales's bank holidays (false: only weekends are off in such a year).
    regular_pattern: bool
    #: facility: an admin's choice (recorded as an event); settings: the service's own
    #: (HOLIDAY_CALENDAR_FILE, or the one shipped).
    source: Source


class ComplaintSettingsView(msgspec.Struct, frozen=True, rename="camel"):
    #: The policy a complaint registered without one follows; null: it must name one.
    policy: str | None
    #: facility: an admin's choice; settings: the service's COMPLAINT_POLICY.
    policy_source: Source
    #: The calendar working-day deadlines are counted with.
    holiday_calendar: HolidayCalendarView
    #: The settings record's version (0 while no choice has been recorded); the ETag is it
    #: and a digest of what is shown.
    version: int


def _in_force(
    settings: ComplaintSettings | None, request: Request[Any, Any, Any]
) -> ComplaintSettingsView:
    defaults = services_of(request).policies.complaints
    rules = settings.over(defaults) if settings is not None else defaults
    chosen_policy = settings is not None and settings.policy is not None
    chosen_calendar = settings is not None and settings.calendar_name is not None
    calendar = rules.calendar
    return ComplaintSettingsView(
        policy=rules.default_policy,
        policy_source="facility" if chosen_policy else "settings",
        holiday_calendar=HolidayCalendarView(
            name=calendar.name,
            holidays=sorted(calendar.holidays),
            regular_pattern=calendar.regular_pattern,
            source="facility" if chosen_calendar else "settings",
        ),  # fmt: skip
        version=settings.version if settings is not None else 0,
    )


@get(
    "/", operation_id="getComplaintSettings", name="complaint-settings:get",
    summary="The complaint rules in force: default policy and holiday calendar",
    description="The policy a complaint registered without one follows and the calendar "
    "working-day deadlines are counted with, now or as of a time, each with where it came "
    "from (an admin's choice or the service's settings). As of a time: the choices recorded "
    "by then over the service's settings of today. The ETag changes with either. Roles: "
    "admin, clerk, nurse, clinician, manager, executive, auditor.",
    guards=[may_read(COMPLAINT_SETTINGS_READERS, "the complaint settings")], sync_to_thread=True,
    response_headers=[ETAG_HEADER], responses=problem_responses(400, 401, 403, 500, 503),
)  # fmt: skip
def get_complaint_settings(
    request: Request[Any, Any, Any], as_of: AsOf = None, if_none_match: IfNoneMatch = None
) -> Response[ComplaintSettingsView]:
    at: datetime | None = aware("asOf", as_of)
    try:
        settings = services_of(request).get_aggregate(SETTINGS_ID, ComplaintSettings, as_of=at)
    except NotFoundError:
        settings = None
    return _tagged(_in_force(settings, request), if_none_match)


def _tagged(view: ComplaintSettingsView, if_none_match: str | None) -> Response[Any]:
    # The version alone would not do: the settings under the choices change with a deploy.
    digest = hashlib.sha256(msgspec.json.encode(view)).hexdigest()[:12]
    etag = f'"{view.version}-{digest}"'
    if if_none_match is not None and etag_matches(if_none_match, etag):
        return Response(None, status_code=304, headers={"ETag": etag})
    return Response(view, headers={"ETag": etag})


def complaint_settings_router() -> Router:
    return Router(
        path="/complaint-settings",
        route_handlers=[
            get_complaint_settings,
            untargeted_handler(
                SETTINGS,
                "/policy",
                ChooseComplaintPolicy,
                "Recorded: the settings' new version and log position",
            ),
            untargeted_handler(
                SETTINGS,
                "/holiday-calendar",
                ChooseHolidayCalendar,
                "Recorded: the settings' new version and log position",
            ),
        ],  # fmt: skip
        tags=["Complaints"],
    )
