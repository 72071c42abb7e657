"""The facility's capacity on the FHIR bases: ``Location`` (units and beds), ``Schedule`` and
``Slot``.

Reads are built from the record's own events: ``Location/{id}`` and ``Schedule/{id}`` now or
as of a version (vread, ``ETag`` ``W/"3"``); ``Slot/{id}`` from its schedule and the claims
on it, so a read always agrees with the write it follows. Searches find their records in the
``capacity`` read model, as ``/api/v1/units``, ``/schedules`` and ``/slots`` do:

- ``Location?identifier=`` (a unit's code, ``system|code`` or ``code``), ``?partof=`` (a
  unit's beds), or every unit and bed;
- ``Schedule?actor=Location/<id>`` (a unit's schedules), or every schedule;
- ``Slot?schedule=Schedule/<id>&start=ge…&start=lt…&status=free|busy`` (``schedule`` is
  required: 403 ``too-costly`` without it; the period defaults to the week from now and is at
  most 92 days).

Configuration and counts only (no patient), so reads are not recorded as accesses. Roles: the
configuration's readers (admin, clerk, nurse, clinician, manager), auditors and an
integration engine's read-only account.

No ``from __future__ import annotations`` here: a generated handler's annotations must be
evaluated when it is defined.
"""

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.fhir import capacity as fhir
from adapters.fhir.bundle import searchset
from adapters.fhir.common import FHIR_JSON, UNIT_SYSTEM, bed_system
from adapters.fhir.releases import Release
from adapters.http.capacity import slot_period
from adapters.http.fhir_encounters import FhirId, VersionId, version_matches
from adapters.http.fhir_outcomes import SearchRefusedError, fhir_response, outcome_responses
from adapters.http.fhir_search import IDENTIFIER_PATTERN, Count
from adapters.http.kit.aggregate_state import MAX_VERSION
from adapters.http.kit.auth import may_read
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    POSITION_HEADER,
    POSITION_RESPONSE_HEADER,
    query_view,
)
from adapters.http.kit.services import services_of
from adapters.readmodels.capacity import store as capacity_store
from adapters.readmodels.database import Transaction
from application.shared.commands import EARLIEST, LATEST
from application.shared.errors import NotFoundError
from application.shared.permissions import FHIR_CONFIGURATION_READERS
from domain.capacity import sessions
from domain.capacity.identity import slot_id_for, unit_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.slot import SlotClaims
from domain.capacity.unit import FacilityUnit

GUARD = may_read(FHIR_CONFIGURATION_READERS, "the facility's configuration")
ROLES = " Roles: admin, clerk, nurse, clinician, manager, auditor, integration_reader."
HEADERS = [POSITION_RESPONSE_HEADER]
PROBLEMS = outcome_responses(400, 401, 403, 404, 500, 503)
SEARCH_PROBLEMS = outcome_responses(400, 401, 403, 500, 503)
#: A ``start`` bound: a prefix and a FHIR date or dateTime (with seconds and an offset).
START_PATTERN = (
    r"^(eq|ge|gt|le|lt)?[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2}))?$"
)
_DATE_PARAM = re.compile(r"^(eq|ge|gt|le|lt)?(.+)$")

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


ScheduleReference = Annotated[
    str | None,
    QueryParameter(required=False, max_length=120, pattern=rf"^(Schedule/)?{_UUID}$",
                   description="The schedule (required): `Schedule/<id>` or the id alone."),
]  # fmt: skip
LocationReference = Annotated[
    str | None,
    QueryParameter(required=False, max_length=120, pattern=rf"^(Location/)?{_UUID}$",
                   description="The unit's Location: `Location/<id>` or the id alone."),
]  # fmt: skip
Identifier = Annotated[
    str | None,
    QueryParameter(required=False, min_length=1, max_length=600, pattern=IDENTIFIER_PATTERN,
                   description=f"A unit's code (`{UNIT_SYSTEM}|<code>`), a bed's (`{UNIT_SYSTEM}:"
                   "<unit code, percent-encoded>:bed|<bed>`, as Encounter.location has it), or "
                   "a bare code matching either."),
]  # fmt: skip
Start = Annotated[
    list[str] | None,
    QueryParameter(
        required=False, max_items=2,
        schema_extra={"items": {"type": "string", "pattern": START_PATTERN}},
        description="Slot.start bounds, as FHIR date search has them: a prefix (`eq`, the "
        "default, `ge`, `gt`, `lt`, `le`) and a dateTime (an offset required) or a date (that "
        "whole day in the facility's time zone): `start=ge2027-03-01&start=lt2027-03-08`, "
        "`start=2027-03-01`. Default: the week from now; at most 92 days.",
    ),
]  # fmt: skip
SlotStatus = Annotated[
    str | None,
    QueryParameter(required=False, pattern=r"^(free|busy)(,(free|busy))*$",
                   description="free (a place within the capacity) or busy (full)."),
]  # fmt: skip
Cursor = Annotated[
    str | None,
    QueryParameter(name="_cursor", required=False, max_length=120,
                   pattern=r"^[0-9A-Za-z.:+-]+$",
                   description="Where the next page starts: from the `next` link (opaque)."),
]  # fmt: skip


# ---- reads ------------------------------------------------------------------------------
def _loaded(
    request: Request[Any, Any, Any], raw_id: str, kind: type[Aggregate], version: str | None
) -> Any:
    try:
        record_id = UUID(raw_id)
        wanted = int(version) if version is not None else None
        if wanted is not None and wanted > MAX_VERSION:
            raise ValueError(version)  # past any version a store can hold
        return services_of(request).get_aggregate(record_id, kind, version=wanted)
    except (ValueError, NotFoundError):
        raise NotFoundException("No resource has this id (or not this version).") from None


def _versioned(
    request: Request[Any, Any, Any], record: Any, resource: dict[str, Any]
) -> Response[Any]:
    etag = f'W/"{record.version}"'
    headers = {"ETag": etag, "Last-Modified": format_datetime(record.modified_on, usegmt=True)}
    if version_matches(request.headers.get("if-none-match"), record.version):
        return Response(None, status_code=304, headers=headers)
    return fhir_response(resource, headers=headers)


#: The record a read answers from and the resource it shows: (request, id, vid or None, R5?).
Resolve = Callable[[Request[Any, Any, Any], str, str | None, bool], tuple[Any, dict[str, Any]]]


def _location(
    request: Request[Any, Any, Any], raw_id: str, version: str | None, r5: bool
) -> tuple[Any, dict[str, Any]]:
    """A unit's Location, or one of its beds' (read from the unit's events)."""
    named = fhir.parse_location_id(raw_id)
    if named is None:
        raise NotFoundException("No resource has this id.")
    unit_id, digest = named
    unit = _loaded(request, str(unit_id), FacilityUnit, version)
    if digest is None:
        return unit, fhir.location(unit, r5=r5)
    bed = fhir.beds_by_digest(unit).get(digest)
    if bed is None:
        raise NotFoundException("The unit has no such bed (in this version).")
    return unit, fhir.bed_location(unit, bed, r5=r5)


def _schedule(
    request: Request[Any, Any, Any], raw_id: str, version: str | None, r5: bool
) -> tuple[Any, dict[str, Any]]:
    found = _loaded(request, raw_id, ClinicSchedule, version)
    return found, _schedule_resource(request, found, r5)


def _read_pair(
    release: Release, kind: str, resolve: Resolve, what: str, extra: dict[str, Any]
) -> list[HTTPRouteHandler]:
    label, r5 = release.name.upper(), release.name == "r5"
    options: dict[str, Any] = {
        "guards": [GUARD], "sync_to_thread": True, "media_type": FHIR_JSON,
        "responses": PROBLEMS, **extra,
    }  # fmt: skip

    def read(request: Request[Any, Any, Any], id: FhirId) -> Response[dict[str, Any]]:  # noqa: A002
        return _versioned(request, *resolve(request, id, None, r5))

    def vread(
        request: Request[Any, Any, Any],
        id: FhirId,
        vid: VersionId,  # noqa: A002
    ) -> Response[dict[str, Any]]:
        return _versioned(request, *resolve(request, id, vid, r5))

    return [
        get(f"/{kind}/{{id:str}}", operation_id=f"fhir{label}Read{kind}",
            name=f"fhir-{release.name}:{kind}:read", summary=f"{what} as a FHIR {label} {kind}",
            description=f"FHIR {release.fhir_version} `{kind}` read.{ROLES}",
            **options)(read),
        get(f"/{kind}/{{id:str}}/_history/{{vid:str}}", operation_id=f"fhir{label}Vread{kind}",
            name=f"fhir-{release.name}:{kind}:vread",
            summary=f"One version of {what.lower()} as a FHIR {label} {kind}",
            description=f"FHIR {release.fhir_version} `{kind}` vread (404 past the latest)."
            f"{ROLES}", **options)(vread),
    ]  # fmt: skip


def _slot_read(release: Release, extra: dict[str, Any]) -> HTTPRouteHandler:
    label, r5 = release.name.upper(), release.name == "r5"

    def read(request: Request[Any, Any, Any], id: FhirId) -> Response[dict[str, Any]]:  # noqa: A002
        named = fhir.parse_slot_id(id)
        if named is None:
            raise NotFoundException("No resource has this id.")
        schedule_id, start = named
        schedule = _loaded(request, str(schedule_id), ClinicSchedule, None)
        every = sessions.slot_at(schedule.recurrence, set(), start)
        if every is None:
            raise NotFoundException("The schedule has no slot at this time.")
        try:
            claims = services_of(request).get_aggregate(slot_id_for(schedule_id, start), SlotClaims)
            taken = len(claims.claims)
        except NotFoundError:
            taken = 0
        cancelled = schedule.find_slot(start) is None
        resource = fhir.slot(schedule, *every, taken, cancelled=cancelled, r5=r5)
        return fhir_response(resource)

    return get(
        "/Slot/{id:str}", operation_id=f"fhir{label}ReadSlot",
        name=f"fhir-{release.name}:Slot:read", summary=f"A clinic slot as a FHIR {label} Slot",
        description=f"FHIR {release.fhir_version} `Slot` read: from its schedule and the "
        f"claims on it now (no versions: a slot has no record of its own until claimed).{ROLES}",
        guards=[GUARD], sync_to_thread=True, media_type=FHIR_JSON, responses=PROBLEMS, **extra,
    )(read)  # fmt: skip


# ---- searches ---------------------------------------------------------------------------
def _bundle(
    request: Request[Any, Any, Any], release: Release, resources: list[dict[str, Any]],
    position: str, next_cursor: str | None,
) -> Response[Any]:  # fmt: skip
    base = f"{str(request.base_url).rstrip('/')}/fhir/{release.name}"
    next_url = None
    if next_cursor is not None:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        params.append(("_cursor", next_cursor))
        next_url = str(request.url.with_replacements(query=urlencode(params)))
    bundle = searchset(resources, base_url=base, self_url=str(request.url),
                       next_url=next_url, at=datetime.now(timezone.utc))  # fmt: skip
    return fhir_response(bundle, headers={POSITION_HEADER: position})


def _referenced(value: str | None, kind: str, field: str) -> str | None:
    if value is None:
        return None
    type_, slash, raw = value.rpartition("/")
    if slash and type_ != kind:
        raise InvalidRequestError.of(field, f"must reference a {kind}")
    try:
        return str(UUID(raw))
    except ValueError:
        raise InvalidRequestError.of(field, f"is not a {kind} id") from None


def _page(ids: list[str], cursor: str | None, count: int) -> tuple[list[str], str | None]:
    after = [i for i in ids if cursor is None or i > cursor]
    page = after[:count]
    return page, (page[-1] if len(after) > count else None)


def _searches(release: Release, extra: dict[str, Any]) -> list[HTTPRouteHandler]:
    label, r5 = release.name.upper(), release.name == "r5"
    options: dict[str, Any] = {
        "guards": [GUARD], "sync_to_thread": True, "media_type": FHIR_JSON,
        "response_headers": HEADERS, "responses": SEARCH_PROBLEMS, **extra,
    }  # fmt: skip

    def locations(
        request: Request[Any, Any, Any], identifier: Identifier = None,
        partof: LocationReference = None, count: Count = DEFAULT_LIMIT, cursor: Cursor = None,
    ) -> Response[dict[str, Any]]:  # fmt: skip
        wanted = _identifier_filter(identifier)
        parent = _referenced(partof, "Location", "partof")

        def query(tx: Transaction, prefix: str) -> list[str]:
            return _location_ids(tx, prefix, wanted, parent)

        view = query_view(request, capacity_store.NAME, None, None, query)
        page, following = _page(view.content, cursor, count)
        resources = _locations(request, page, r5)
        return _bundle(request, release, resources, view.headers[POSITION_HEADER], following)

    def schedules(
        request: Request[Any, Any, Any], actor: LocationReference = None,
        count: Count = DEFAULT_LIMIT, cursor: Cursor = None,
    ) -> Response[dict[str, Any]]:  # fmt: skip
        unit_id = _referenced(actor, "Location", "actor")

        def query(tx: Transaction, prefix: str) -> list[str]:
            found = capacity_store.schedules(tx, prefix)
            if unit_id is not None:  # the unit's id is its code's, configured or not
                found = [s for s in found if str(unit_id_for(s.service_unit)) == unit_id]
            return [s.id for s in found]

        view = query_view(request, capacity_store.NAME, None, None, query)
        page, following = _page(view.content, cursor, count)
        found = [_maybe(request, i, ClinicSchedule) for i in page]
        resources = [_schedule_resource(request, s, r5) for s in found if s is not None]
        return _bundle(request, release, resources, view.headers[POSITION_HEADER], following)

    def slots(
        request: Request[Any, Any, Any], schedule: ScheduleReference = None, start: Start = None,
        status: SlotStatus = None, count: Count = DEFAULT_LIMIT, cursor: Cursor = None,
    ) -> Response[dict[str, Any]]:  # fmt: skip
        schedule_id = _referenced(schedule, "Schedule", "schedule")
        if schedule_id is None:
            raise SearchRefusedError("Give schedule: a slot search across every schedule "
                                     "is not run (use /api/v1/slots).")  # fmt: skip
        begins, ends = _period(start or [], request)
        wanted = set((status or "free,busy").split(","))
        after = _slot_cursor(cursor, schedule_id)

        def query(tx: Transaction, prefix: str) -> Any:
            found = capacity_store.schedules(tx, prefix, schedule_id=schedule_id)
            free_only = wanted == {"free"}
            listed = capacity_store.slots(tx, prefix, found, begins, ends, free_only=free_only,
                                          limit=count, after=after)  # fmt: skip
            return found, listed

        view = query_view(request, capacity_store.NAME, None, None, query)
        found, listed = view.content
        resources = []
        if found:
            record = _maybe(request, schedule_id, ClinicSchedule)
            for item in listed.items:
                full = item.booked >= item.capacity
                if record is None or ("busy" if full else "free") not in wanted:
                    continue
                resources.append(fhir.slot(record, item.start, item.end, item.booked,
                                           cancelled=False, r5=r5))  # fmt: skip
        following = None
        if listed.next_after is not None:
            moment, _, _ = listed.next_after.partition("|")
            following = moment
        return _bundle(request, release, resources, view.headers[POSITION_HEADER], following)

    return [
        get("/Location", operation_id=f"fhir{label}SearchLocation",
            name=f"fhir-{release.name}:Location:search",
            summary=f"The facility's units and beds as FHIR {label} Locations",
            description=f"FHIR {release.fhir_version} Location search by `identifier` (a "
            "unit's code), `partof` (a unit's beds), or every unit and bed." f"{ROLES}",
            **options)(locations),
        get("/Schedule", operation_id=f"fhir{label}SearchSchedule",
            name=f"fhir-{release.name}:Schedule:search",
            summary=f"Clinic schedules as FHIR {label} Schedules",
            description=f"FHIR {release.fhir_version} Schedule search by `actor` (a unit's "
            f"Location), or every schedule.{ROLES}", **options)(schedules),
        get("/Slot", operation_id=f"fhir{label}SearchSlot",
            name=f"fhir-{release.name}:Slot:search",
            summary=f"A schedule's slots as FHIR {label} Slots",
            description=f"FHIR {release.fhir_version} Slot search by `schedule` (required), "
            "`start` bounds and `status` (free, busy); a cancelled session has no slots here."
            f"{ROLES}", **options)(slots),
    ]  # fmt: skip


def _identifier_filter(identifier: str | None) -> Callable[[str, str | None], bool]:
    """Which units (a code, bed None) and beds (their unit's code and theirs) a token names:
    a unit's code in the unit system, a bed's in its unit's bed system, or a bare value
    matching either."""
    if identifier is None:
        return lambda unit, bed: True
    system, bar, value = identifier.partition("|")
    if not bar:
        return lambda unit, bed: (bed if bed is not None else unit) == identifier
    if system == UNIT_SYSTEM:
        return lambda unit, bed: bed is None and unit == value
    return lambda unit, bed: bed == value and bed_system(unit) == system


def _location_ids(
    tx: Transaction, prefix: str, wanted: Callable[[str, str | None], bool], parent: str | None
) -> list[str]:
    """The ids of the Locations asked for: units and beds the identifier names, and only
    the beds of ``parent`` when it is given."""
    ids = []
    for unit in capacity_store.units(tx, prefix):
        if parent is None and wanted(unit.code, None):
            ids.append(unit.id)
        if parent is None or unit.id == parent:
            ids += [
                fhir.bed_id(UUID(unit.id), b.bed) for b in unit.beds if wanted(unit.code, b.bed)
            ]
    return sorted(ids)


def _locations(request: Request[Any, Any, Any], ids: list[str], r5: bool) -> list[dict[str, Any]]:
    """The Locations with these ids, each unit read once from its events (a page of beds is
    one unit's, not one read per bed). One listed by the read model but since changed in
    the store (a bed removed) is left out."""
    units: dict[UUID, tuple[FacilityUnit | None, dict[str, dict[str, Any]]]] = {}
    resources = []
    for location_id in ids:
        named = fhir.parse_location_id(location_id)
        if named is None:
            continue
        unit_id, digest = named
        if unit_id not in units:
            unit = _maybe(request, str(unit_id), FacilityUnit)
            units[unit_id] = (unit, fhir.beds_by_digest(unit) if unit is not None else {})
        unit, beds = units[unit_id]
        if unit is None:
            continue
        if digest is None:
            resources.append(fhir.location(unit, r5=r5))
        elif digest in beds:
            resources.append(fhir.bed_location(unit, beds[digest], r5=r5))
    return resources


def _schedule_resource(
    request: Request[Any, Any, Any], found: ClinicSchedule, r5: bool
) -> dict[str, Any]:
    configured = _maybe(request, str(unit_id_for(found.service_unit)), FacilityUnit)
    return fhir.schedule(found, r5=r5, unit_configured=configured is not None)


def _maybe(request: Request[Any, Any, Any], raw_id: str, kind: type[Aggregate]) -> Any:
    try:
        return services_of(request).get_aggregate(UUID(raw_id), kind)
    except NotFoundError:
        return None  # listed by the read model, not in the store: left out


def _period(bounds: list[str], request: Request[Any, Any, Any]) -> tuple[datetime, datetime]:
    """The period ``start`` bounds ask for, with FHIR's date search semantics: a value is a
    range (a date the whole local day; a dateTime its instant), ``ge``/``gt`` bound it below
    by the range's start/end, ``lt``/``le`` above by its start/end, ``eq`` (or no prefix)
    both."""
    zone = ZoneInfo(services_of(request).policies.visit.facility_timezone)
    begins: datetime | None = None
    ends: datetime | None = None
    for bound in bounds:
        matched = _DATE_PARAM.match(bound)
        if matched is None:
            raise InvalidRequestError.of(
                "start", "give eq, ge, gt, lt or le and a date or dateTime"
            )
        prefix, raw = matched.groups()
        first, after = _range_of(raw, zone)
        if prefix in ("ge", "gt"):
            begins = first if prefix == "ge" else after
        elif prefix in ("lt", "le"):
            ends = first if prefix == "lt" else after
        else:
            begins, ends = first, after
    return slot_period(begins, ends, fields=("start", "start"))


def _range_of(raw: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants ``raw`` stands for, as ``[first, after)`` in UTC."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if not EARLIEST.year <= day.year < LATEST.year:
                raise InvalidRequestError.of("start", "must be between 1900 and 2200")
            first = datetime.combine(day, time(0), zone)
            after = datetime.combine(day + timedelta(days=1), time(0), zone)
            return first.astimezone(timezone.utc), after.astimezone(timezone.utc)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequestError.of("start", "is not a FHIR date or dateTime") from None
    if moment.tzinfo is None:
        raise InvalidRequestError.of("start", "a dateTime needs an offset (or Z)")
    if not EARLIEST <= moment < LATEST:
        raise InvalidRequestError.of("start", "must be between 1900 and 2200")
    instant = moment.astimezone(timezone.utc)
    return instant, instant + timedelta(microseconds=1)


def _slot_cursor(cursor: str | None, schedule_id: str) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        moment = datetime.fromisoformat(cursor)
    except ValueError:
        raise InvalidRequestError.of("_cursor", "is not a cursor this server gave") from None
    if moment.tzinfo is None:
        raise InvalidRequestError.of("_cursor", "is not a cursor this server gave")
    return moment, schedule_id  # one schedule: the slots starting after ``moment``


def capacity_handlers(release: Release, **extra: Any) -> list[HTTPRouteHandler]:
    """Location, Schedule and Slot on one FHIR base (``extra``: the router's authentication)."""
    return [
        *_read_pair(release, "Location", _location, "A unit or bed", extra),
        *_read_pair(release, "Schedule", _schedule, "A clinic schedule", extra),
        _slot_read(release, extra),
        *_searches(release, extra),
    ]  # fmt: skip
