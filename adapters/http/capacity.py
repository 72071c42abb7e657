"""Capacity over HTTP: units and beds, clinic schedules, and their free slots.

Admins configure (``POST /units``, ``/units/{code}/close|open|beds``, ``POST /schedules``,
``/schedules/{id}/cancel-session``); the staff who book and place patients read
(``GET /units``, ``/units/{code}``, ``/schedules``, ``/schedules/{id}``,
``/schedules/{id}/slots``, ``/slots``). One unit or schedule is read from its events (now,
as of a version or a time, with its ``ETag``); the lists and slots from the ``capacity``
read model, with ``minPosition`` read-your-writes. Bookings into a schedule are
``POST /visits`` with ``scheduleId``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from litestar import Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME as FLOW
from adapters.http.kit.aggregate_state import (
    AsOf,
    AsOfVersion,
    IfNoneMatch,
    state_handler,
    state_response,
)
from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.commands import (
    UnitCode,
    action_handler,
    coded_action_handler,
    untargeted_handler,
)
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    MAX_LIMIT,
    MinPosition,
    WaitMs,
    aware,
    query_view,
    query_views,
    read_route,
)
from adapters.http.kit.resources import ETAG_HEADER, AggregateId, Resource, parse_id
from adapters.readmodels.capacity import store as capacity_store
from adapters.readmodels.database import Transaction
from application.capacity.commands import (
    UNIT_ACTIONS,
    CancelSession,
    ConfigureUnit,
    CreateSchedule,
    DeclineOffer,
    JoinWaitlist,
)
from application.shared.access import READ_CLINIC_DAY, READ_WAITLIST
from application.shared.errors import NotFoundError
from application.shared.permissions import BED_BOARD_READERS, CONFIGURATION_READERS
from application.visits.waitlist import AcceptOffer
from domain.capacity.identity import unit_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.unit import FacilityUnit
from projections.capacity.configuration import (
    BedView,
    DayList,
    ScheduleList,
    ScheduleView,
    SessionList,
    SlotList,
    UnitList,
    UnitView,
    Waitlist,
)

UNITS = Resource(
    path="/api/v1/units", noun="unit", name="units", key_of=lambda c: quote(c.code, safe="")
)
SCHEDULES = Resource(path="/api/v1/schedules", noun="schedule", name="schedules")
#: An offer accepted creates a visit: its Location is the visit's.
BOOKED = Resource(path="/api/v1/visits", noun="visit", name="schedules")
NAME = capacity_store.NAME
#: A week: what a slot query covers when it names no end.
DEFAULT_SLOT_RANGE = timedelta(days=7)


def _unit_state(unit: FacilityUnit) -> UnitView:
    return UnitView(
        id=str(unit.id), code=unit.code, name=unit.name, kind=unit.kind, open=unit.open,
        beds=[BedView(b["bed"], b["type"], b["closed"]) for b in unit.beds],
        version=unit.version,
    )  # fmt: skip


def _schedule_state(schedule: ClinicSchedule) -> ScheduleView:
    rec = schedule.recurrence
    return ScheduleView(
        id=str(schedule.id), service_unit=schedule.service_unit, service=schedule.service,
        clinician_ref=schedule.clinician_ref, start=rec.start, end=rec.end,
        slot_minutes=rec.slot_minutes, capacity_per_slot=schedule.capacity_per_slot,
        overbook_allowance=schedule.overbook_allowance, weekdays=list(rec.weekdays),
        until=rec.until if rec.weekdays else None, time_zone=rec.time_zone,
        cancelled_sessions=sorted(schedule.cancelled), version=schedule.version,
    )  # fmt: skip


_READ = may_read(CONFIGURATION_READERS, "the facility's configuration")

Text = Annotated[
    str | None,
    QueryParameter(required=False, min_length=1, max_length=64, pattern=QUERY_TEXT_PATTERN),
]
ServiceUnit = Annotated[
    str | None,
    QueryParameter(
        name="serviceUnit", required=False, min_length=1, max_length=64,
        pattern=QUERY_TEXT_PATTERN, description="One unit's schedules (its code).",
    ),
]  # fmt: skip
From = Annotated[
    datetime | None,
    QueryParameter(
        name="from", required=False,
        description="Slots starting at or after this time (RFC 3339 with an offset); when "
        "left out, now (or a week before `to`, if `to` is given).",
    ),
]  # fmt: skip
To = Annotated[
    datetime | None,
    QueryParameter(
        name="to", required=False,
        description="Slots starting before this time; a week after `from` when left out, "
        "at most 92 days after it.",
    ),
]  # fmt: skip
FreeOnly = Annotated[
    bool,
    QueryParameter(
        name="freeOnly",
        required=False,
        description="Only slots with a free place within their capacity.",
    ),
]
SlotLimit = Annotated[
    int,
    QueryParameter(
        ge=1, le=MAX_LIMIT, required=False, description="Slots per page (1-500, default 200)."
    ),
]
After = Annotated[
    str | None,
    QueryParameter(
        required=False, max_length=120, pattern=QUERY_TEXT_PATTERN,
        description="The `nextAfter` of the previous page.",
    ),
]  # fmt: skip


def slot_period(
    start: datetime | None, end: datetime | None, *, back: bool = False,
    fields: tuple[str, str] = ("from", "to"),
) -> tuple[datetime, datetime]:  # fmt: skip
    """The period asked for; by default the week from now (``back``: the week to now). A
    refusal names ``fields`` (the parameters that gave the start and the end)."""
    start, end = aware(fields[0], start), aware(fields[1], end)
    if start is None:
        if end is None:
            end = utc_now() if back else None
        begins = (end - DEFAULT_SLOT_RANGE) if end is not None else utc_now()
    else:
        begins = start
    ends = end or begins + DEFAULT_SLOT_RANGE
    if ends <= begins:
        raise InvalidRequestError.of(fields[0], f"must be before `{fields[1]}`")
    if ends - begins > capacity_store.MAX_SLOT_RANGE:
        raise InvalidRequestError.of(fields[1], "the period may be at most 92 days")
    return begins, ends


def _known_schedule(tx: Transaction, prefix: str, schedule_id: str) -> ScheduleView:
    """The schedule as the read model holds it; 404 when it holds none (yet: minPosition)."""
    found = capacity_store.schedules(tx, prefix, schedule_id=schedule_id)
    if not found:
        raise NotFoundError("schedule", UUID(schedule_id))
    return found[0]


def _cursor(after: str | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    moment, _, schedule_id = after.partition("|")
    try:
        instant = datetime.fromisoformat(moment)
        if instant.tzinfo is None:
            raise ValueError(moment)
        return instant, str(UUID(schedule_id))
    except ValueError:
        raise InvalidRequestError.of("after", "is not a nextAfter this service gave") from None


# ---- units ----------------------------------------------------------------------------------
@read_route(
    "/", operation_id="listUnits", name="units:list", summary="The facility's units and beds",
    description="Every configured unit, by code. Roles: admin, clerk, nurse, clinician, manager.",
    guards=[_READ],
)  # fmt: skip
def list_units(
    request: Request[Any, Any, Any],
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[UnitList]:
    def query(tx: Transaction, prefix: str) -> UnitList:
        return UnitList(items=capacity_store.units(tx, prefix))

    return query_view(request, NAME, min_position, wait_ms, query)


@get(
    "/{code:str}", operation_id="getUnit", name="units:get",
    summary="A unit now, as of a version, or as of a time", guards=[_READ], sync_to_thread=True,
    response_headers=[ETAG_HEADER], responses=problem_responses(400, 401, 403, 404, 500, 503),
)  # fmt: skip
def get_unit(
    request: Request[Any, Any, Any], code: UnitCode, as_of_version: AsOfVersion = None,
    as_of: AsOf = None, if_none_match: IfNoneMatch = None,
) -> Response[UnitView]:  # fmt: skip
    return state_response(
        request, str(unit_id_for(code)), FacilityUnit, _unit_state,
        as_of_version=as_of_version, as_of=as_of, if_none_match=if_none_match,
    )  # fmt: skip


# ---- schedules and slots --------------------------------------------------------------------
@read_route(
    "/", operation_id="listSchedules", name="schedules:list", summary="Clinic schedules",
    description="The schedules, of one unit and service if given. Roles: admin, clerk, "
    "nurse, clinician, manager.", guards=[_READ],
)  # fmt: skip
def list_schedules(
    request: Request[Any, Any, Any], service_unit: ServiceUnit = None,
    service: Text = None, min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[ScheduleList]:  # fmt: skip
    def query(tx: Transaction, prefix: str) -> ScheduleList:
        found = capacity_store.schedules(tx, prefix, service_unit=service_unit, service=service)
        return ScheduleList(items=found)

    return query_view(request, NAME, min_position, wait_ms, query)


@read_route(
    "/{id:str}/slots", operation_id="getScheduleSlots", name="schedules:slots",
    summary="A schedule's slots and how many places each has left",
    description="The slots starting in [from, to), each with its capacity, the claims it "
    "holds and the places left (within the capacity, and of the overbooking allowance). "
    "404 when the read model holds no such schedule (yet: see minPosition). Roles: admin, "
    "clerk, nurse, clinician, manager.", guards=[_READ],
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)  # fmt: skip
def schedule_slots(
    request: Request[Any, Any, Any], id: AggregateId, from_: From = None, to: To = None,  # noqa: A002
    free_only: FreeOnly = False, limit: SlotLimit = 200, after: After = None,
    min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[SlotList]:  # fmt: skip
    schedule_id = str(parse_id(id))
    begins, ends = slot_period(from_, to)
    cursor = _cursor(after)

    def query(tx: Transaction, prefix: str) -> SlotList:
        found = [_known_schedule(tx, prefix, schedule_id)]
        return capacity_store.slots(
            tx, prefix, found, begins, ends, free_only=free_only, limit=limit, after=cursor
        )

    return query_view(request, NAME, min_position, wait_ms, query)


@read_route(
    "/{id:str}/sessions", operation_id="getScheduleSessions", name="schedules:sessions",
    summary="A schedule's sessions: utilisation and DNA rate",
    description="Each session starting in [from, to) (default: the week before now; at most "
    "92 days): its capacity, the claims it holds, the bookings marked no-show, the "
    "utilisation (booked over capacity) and the DNA rate (no-shows over bookings that fell "
    "due). Figures only. 404 when the read model holds no such schedule (yet: see "
    "minPosition). Roles: admin, clerk, nurse, clinician, manager.", guards=[_READ],
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)  # fmt: skip
def schedule_sessions(
    request: Request[Any, Any, Any], id: AggregateId, from_: From = None, to: To = None,  # noqa: A002
    min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[SessionList]:  # fmt: skip
    schedule_id = str(parse_id(id))
    begins, ends = slot_period(from_, to, back=True)

    def query(tx: Transaction, prefix: str) -> SessionList:
        schedule = _known_schedule(tx, prefix, schedule_id)
        return capacity_store.session_report(tx, prefix, schedule, begins, ends)

    return query_view(request, NAME, min_position, wait_ms, query)


@read_route(
    "/{id:str}/waitlist", operation_id="getWaitlist", name="schedules:waitlist",
    summary="A schedule's waitlist, in the order a freed slot is offered",
    description="The patients waiting for the schedule, by priority then time waited, each "
    "with the offer they hold (a slot held for them until `expiresAt`). 404 when the read "
    "model holds no such schedule (yet: see minPosition). Roles: clerk, nurse, clinician, "
    "manager.",
    guards=[may_read(BED_BOARD_READERS, "a waitlist")], access=READ_WAITLIST,
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)  # fmt: skip
def get_waitlist(
    request: Request[Any, Any, Any], id: AggregateId,  # noqa: A002
    min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[Waitlist]:  # fmt: skip
    schedule_id = str(parse_id(id))

    def query(tx: Transaction, prefix: str) -> Waitlist:
        _known_schedule(tx, prefix, schedule_id)
        return capacity_store.waitlist(tx, prefix, schedule_id)

    return query_view(request, NAME, min_position, wait_ms, query)


Day = Annotated[
    date, QueryParameter(description="The local date (YYYY-MM-DD, in the schedule's time zone).")
]


@read_route(
    "/{id:str}/day", operation_id="getClinicDay", name="schedules:day",
    summary="A clinic's day list: each slot and who is booked into it",
    description="The slots of the schedule's sessions on `date`, each with its places and the "
    "visits holding it (their patient and status). 404 when the read model holds no such "
    "schedule (yet: see minPosition). Roles: clerk, nurse, clinician, manager.",
    guards=[may_read(BED_BOARD_READERS, "a clinic's day list")], access=READ_CLINIC_DAY,
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)  # fmt: skip
def clinic_day(
    request: Request[Any, Any, Any], id: AggregateId, date: Day,  # noqa: A002
    min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[DayList]:  # fmt: skip
    schedule_id, day = str(parse_id(id)), date

    def query(tx: Transaction, prefixes: tuple[str, ...]) -> DayList:
        schedule = _known_schedule(tx, prefixes[0], schedule_id)
        return capacity_store.day_list(tx, prefixes[0], prefixes[1], schedule, day)

    return query_views(request, (NAME, FLOW), min_position, wait_ms, query)


@read_route(
    "/", operation_id="searchSlots", name="slots:search",
    summary="Free-slot search across schedules",
    description="The slots of every schedule (of one unit and service if given) starting in "
    "[from, to), by start. Roles: admin, clerk, nurse, clinician, manager.", guards=[_READ],
)  # fmt: skip
def search_slots(
    request: Request[Any, Any, Any],
    service_unit: ServiceUnit = None,
    service: Text = None, from_: From = None, to: To = None, free_only: FreeOnly = False,
    limit: SlotLimit = 200, after: After = None, min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[SlotList]:  # fmt: skip
    begins, ends = slot_period(from_, to)
    cursor = _cursor(after)

    def query(tx: Transaction, prefix: str) -> SlotList:
        found = capacity_store.schedules(tx, prefix, service_unit=service_unit, service=service)
        return capacity_store.slots(
            tx, prefix, found, begins, ends, free_only=free_only, limit=limit, after=cursor
        )

    return query_view(request, NAME, min_position, wait_ms, query)


get_schedule = state_handler(
    SCHEDULES, ClinicSchedule, ScheduleView, CONFIGURATION_READERS,
    operation_id="getSchedule", summary="A schedule now, as of a version, or as of a time",
    show=_schedule_state,
)  # fmt: skip


def capacity_routers() -> list[Router]:
    units: list[HTTPRouteHandler] = [
        untargeted_handler(
            UNITS, "/", ConfigureUnit, "Unit configured: its id, version and log position"
        ),
        *(coded_action_handler(UNITS, a, c, unit_id_for) for a, c in UNIT_ACTIONS.items()),
        list_units,
        get_unit,
    ]
    schedules: list[HTTPRouteHandler] = [
        untargeted_handler(
            SCHEDULES, "/", CreateSchedule, "Schedule created: its id, version and log position"
        ),
        action_handler(SCHEDULES, "cancel-session", CancelSession),
        action_handler(SCHEDULES, "waitlist", JoinWaitlist),
        action_handler(BOOKED, "waitlist/accept", AcceptOffer),
        action_handler(SCHEDULES, "waitlist/decline", DeclineOffer),
        get_waitlist,
        list_schedules,
        get_schedule,
        schedule_slots,
        schedule_sessions,
        clinic_day,
    ]
    return [
        Router(path="/units", route_handlers=units, tags=["Capacity"]),
        Router(path="/schedules", route_handlers=schedules, tags=["Capacity"]),
        Router(path="/slots", route_handlers=[search_slots], tags=["Capacity"]),
    ]
