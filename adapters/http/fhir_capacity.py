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
from adapters.fhir.common import FHIR_JSON, UNIT_SYSTEM
from adapters.fhir.releases import Release
from adapters.http.capacity import slot_period
from adapters.http.fhir_encounters import FhirId, VersionId, version_matches
from adapters.http.fhir_outcomes import SearchRefusedError, fhir_response, outcome_responses
from adapters.http.fhir_search import IDENTIFIER_PATTERN, Count
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
from domain.capacity.identity import slot_id_for
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
    r"^(ge|gt|le|lt)[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2}))?$"
)
_DATE_PARAM = re.compile(r"^(ge|gt|le|lt)(.+)$")

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
                   description=f"The unit's code: `{UNIT_SYSTEM}|<code>` or `<code>`."),
]  # fmt: skip
Start = Annotated[
    list[str] | None,
    QueryParameter(
        required=False, max_items=2,
        schema_extra={"items": {"type": "string", "pattern": START_PATTERN}},
        description="Slot.start bounds, FHIR date prefixes `ge`, `gt`, `lt` or `le` with a "
        "dateTime (an offset required) or a date (midnight in the facility's time zone): "
        "`start=ge2027-03-01&start=lt2027-03-08`. Default: the week from now.",
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
        return services_of(request).get_aggregate(
            record_id, kind, version=int(version) if version is not None else None
        )
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
    bed = fhir.bed_of(unit, digest)
    if bed is None:
        raise NotFoundException("The unit has no such bed (in this version).")
    return unit, fhir.bed_location(unit, bed, r5=r5)


def _schedule(
    request: Request[Any, Any, Any], raw_id: str, version: str | None, r5: bool
) -> tuple[Any, dict[str, Any]]:
    found = _loaded(request, raw_id, ClinicSchedule, version)
    return found, fhir.schedule(found, r5=r5)


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
        code = _unit_code(identifier)
        parent = _referenced(partof, "Location", "partof")

        def query(tx: Transaction, prefix: str) -> list[str]:
            return _location_ids(tx, prefix, identifier, code, parent)

        view = query_view(request, capacity_store.NAME, None, None, query)
        page, following = _page(view.content, cursor, count)
        resources = []
        for location_id in page:
            try:
                resources.append(_location(request, location_id, None, r5)[1])
            except NotFoundException:
                continue  # listed by the read model, since changed in the store: left out
        return _bundle(request, release, resources, view.headers[POSITION_HEADER], following)

    def schedules(
        request: Request[Any, Any, Any], actor: LocationReference = None,
        count: Count = DEFAULT_LIMIT, cursor: Cursor = None,
    ) -> Response[dict[str, Any]]:  # fmt: skip
        unit_id = _referenced(actor, "Location", "actor")

        def query(tx: Transaction, prefix: str) -> list[str]:
            found = capacity_store.schedules(tx, prefix)
            units = {u.code: u.id for u in capacity_store.units(tx, prefix)}
            if unit_id is not None:
                found = [s for s in found if units.get(s.service_unit) == unit_id]
            return [s.id for s in found]

        view = query_view(request, capacity_store.NAME, None, None, query)
        page, following = _page(view.content, cursor, count)
        found = [_maybe(request, i, ClinicSchedule) for i in page]
        resources = [fhir.schedule(s, r5=r5) for s in found if s is not None]
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


def _unit_code(identifier: str | None) -> str | None:
    if identifier is None:
        return None
    system, bar, value = identifier.partition("|")
    if not bar:
        return identifier
    return value if system == UNIT_SYSTEM else None


def _location_ids(
    tx: Transaction, prefix: str, identifier: str | None, code: str | None, parent: str | None
) -> list[str]:
    """The ids of the Locations asked for: units by code, the beds of one unit, or all."""
    if identifier is not None and code is None:
        return []  # a system we issue no unit codes in
    units = capacity_store.units(tx, prefix, code)
    ids = [] if parent is not None else [u.id for u in units]
    if identifier is None:  # an identifier names units; partof or nothing, beds too
        ids += [fhir.bed_id(UUID(u.id), b.bed) for u in units
                if parent is None or u.id == parent for b in u.beds]  # fmt: skip
    return sorted(ids)


def _maybe(request: Request[Any, Any, Any], raw_id: str, kind: type[Aggregate]) -> Any:
    try:
        return services_of(request).get_aggregate(UUID(raw_id), kind)
    except NotFoundError:
        return None  # listed by the read model, not in the store: left out


def _period(bounds: list[str], request: Request[Any, Any, Any]) -> tuple[datetime, datetime]:
    zone = ZoneInfo(services_of(request).policies.visit.facility_timezone)
    begins: datetime | None = None
    ends: datetime | None = None
    for bound in bounds:
        matched = _DATE_PARAM.match(bound)
        if matched is None:
            raise InvalidRequestError.of("start", "give ge, gt, lt or le and a date or dateTime")
        prefix, raw = matched.groups()
        moment = _moment(raw, zone)
        if prefix in ("ge", "gt"):
            begins = moment + (timedelta(microseconds=1) if prefix == "gt" else timedelta(0))
        else:
            ends = moment + (timedelta(microseconds=1) if prefix == "le" else timedelta(0))
    return slot_period(begins, ends, fields=("start", "start"))


def _moment(raw: str, zone: ZoneInfo) -> datetime:
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), zone).astimezone(timezone.utc)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequestError.of("start", "is not a FHIR date or dateTime") from None
    if moment.tzinfo is None:
        raise InvalidRequestError.of("start", "a dateTime needs an offset (or Z)")
    if not EARLIEST <= moment < LATEST:
        raise InvalidRequestError.of("start", "must be between 1900 and 2200")
    return moment.astimezone(timezone.utc)


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
