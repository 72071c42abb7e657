"""The bed board and occupancy: ``GET /api/v1/flow/beds`` and ``/flow/occupancy``.

Both read two read models together: the configured units and beds (``capacity``) and who
holds a location in them (``flow``'s census), each waited for with ``minPosition``. Only
configured units appear; a unit nobody has configured has no beds to count. Occupancy over a
period is a midnight census: the beds held at 00:00 in the facility's time zone at the start
of each day, as hospitals report it (NHS KH03, US midnight census).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME as FLOW
from adapters.http.flow_parameters import Unit
from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    MinPosition,
    WaitMs,
    aware,
    query_views,
    read_route,
)
from adapters.readmodels.capacity import store as capacity_store
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits import store as flow_store
from application.shared.access import READ_BED_BOARD
from application.shared.permissions import BED_BOARD_READERS, OCCUPANCY_READERS
from projections.capacity import beds
from projections.capacity.beds import BedBoard, Occupancy

NAMES = (capacity_store.NAME, FLOW)
#: The longest period one occupancy query may cover (a year and a day: a leap year's report).
MAX_DAYS = 366

At = Annotated[
    datetime | None,
    QueryParameter(
        required=False, description="The instant (RFC 3339 with an offset); now when left out."
    ),
]
FromDay = Annotated[
    date | None,
    QueryParameter(
        name="from",
        required=False,
        description="The first day of a midnight census (YYYY-MM-DD, facility time zone).",
    ),
]
ToDay = Annotated[
    date | None,
    QueryParameter(
        name="to",
        required=False,
        description="The last day of a midnight census (inclusive; at most 366 days).",
    ),
]


def _units(tx: Transaction, prefix: str, unit: str | None) -> list[Any]:
    return capacity_store.units(tx, prefix, unit)


@read_route(
    "/flow/beds", operation_id="getBedBoard", name="flow:beds",
    summary="The bed board: each bed occupied, reserved, free or closed",
    description="Per configured unit (one if `unit` is given), each listed bed: `occupied` "
    "(by which visit), `reserved` (its patient on leave of absence), `free` or `closed` (the "
    "bed or its unit closed); visits in the unit without a listed bed are `unplaced`. Roles: "
    "clerk, nurse, clinician, manager.",
    guards=[may_read(BED_BOARD_READERS, "the bed board")], access=READ_BED_BOARD,
)  # fmt: skip
def get_bed_board(
    request: Request[Any, Any, Any], unit: Unit = None, at: At = None,
    min_position: MinPosition = None, wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[BedBoard]:  # fmt: skip
    instant = aware("at", at) or utc_now()

    def query(tx: Transaction, prefixes: tuple[str, ...]) -> BedBoard:
        units = _units(tx, prefixes[0], unit)
        census = flow_store.census(tx, prefixes[1], unit, instant).items
        return beds.board(units, census, instant)

    return query_views(request, NAMES, min_position, wait_ms, query)


def occupancy_handler(zone: ZoneInfo) -> HTTPRouteHandler:
    @read_route(
        "/flow/occupancy", operation_id="getOccupancy", name="flow:occupancy",
        summary="Bed occupancy per unit and hospital, now or per day",
        description="Beds occupied (reserved ones included) over beds available, per "
        "configured unit and for the hospital: at `at` (default now), or with `from` and `to` "
        "a midnight census per day (00:00 in the facility's time zone at the start of each "
        "day). Today's configuration of beds is counted for every day. Figures only, no "
        "patient. Roles: admin, nurse, clinician, manager.",
        guards=[may_read(OCCUPANCY_READERS, "occupancy")],
    )  # fmt: skip
    def get_occupancy(
        request: Request[Any, Any, Any], unit: Unit = None, at: At = None,
        from_: FromDay = None, to: ToDay = None, min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[Occupancy]:  # fmt: skip
        moments = _moments(zone, aware("at", at), from_, to)

        def query(tx: Transaction, prefixes: tuple[str, ...]) -> Occupancy:
            units = _units(tx, prefixes[0], unit)
            return Occupancy(items=[
                beds.snapshot(units, flow_store.census(tx, prefixes[1], unit, moment).items,
                              moment, day)
                for day, moment in moments
            ])  # fmt: skip

        return query_views(request, NAMES, min_position, wait_ms, query)

    return get_occupancy


def _moments(
    zone: ZoneInfo, at: datetime | None, first: date | None, last: date | None
) -> list[tuple[date | None, datetime]]:
    if first is None and last is None:
        return [(None, at or utc_now())]
    if at is not None:
        raise InvalidRequestError.of("at", "give at, or from and to, not both")
    if first is None or last is None:
        raise InvalidRequestError.of("from" if first is None else "to", "give from and to together")
    if last < first:
        raise InvalidRequestError.of("from", "must not be after `to`")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidRequestError.of("to", f"the period may be at most {MAX_DAYS} days")
    out: list[tuple[date | None, datetime]] = []
    for n in range(days):
        day = first + timedelta(days=n)
        out.append((day, datetime.combine(day, time(0), zone)))
    return out
