"""The patient-flow read model over HTTP (domain-spec §1): ``GET /api/v1/flow/board``,
``/flow/census``, ``/flow/metrics`` and ``GET /api/v1/visits/{id}/timeline``.

Every route reads the ``flow`` read model through :func:`~adapters.http.kit.read_side.query_view`:
``minPosition``/``waitMs`` for read-your-writes (503 ``PROJECTION_LAGGING`` past the wait) and
``X-Projection-Position`` on every answer. Roles (domain-spec §5): the board for clerks,
nurses, clinicians and managers; census and timelines for nurses and clinicians; metrics for
managers. Times are RFC 3339 with an offset.
"""

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio.to_thread
import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.commands import AggregateId, parse_id
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.problems import InvalidRequestError, problem_responses
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_MS,
    POSITION_HEADER,
    POSITION_RESPONSE_HEADER,
    Limit,
    MinPosition,
    WaitMs,
    aware,
    query_view,
)
from adapters.readmodels.database import Transaction
from adapters.readmodels.status import active_position
from adapters.readmodels.visits import store as flow_store
from application.shared.errors import NotFoundError
from application.shared.permissions import (
    CENSUS_READERS,
    FLOW_BOARD_READERS,
    FLOW_METRICS_READERS,
    TIMELINE_READERS,
)
from projections.visits.flow_metrics import FlowMetrics
from projections.visits.flow_views import Board, Census, Timeline

NAME = flow_store.NAME
#: The longest metrics period: a year and a day (a leap year's worth, plus slack).
MAX_PERIOD = timedelta(days=367)
DEFAULT_PERIOD = timedelta(hours=24)

# ---- parameters ---------------------------------------------------------------------------
Unit = Annotated[
    str | None,
    QueryParameter(
        required=False,
        min_length=1,
        max_length=64,
        pattern=QUERY_TEXT_PATTERN,
        description="One unit (its code, e.g. `ED`); every unit when left out.",
    ),
]
At = Annotated[
    datetime | None,
    QueryParameter(
        required=False,
        description="The instant, RFC 3339 with an offset (URL-encode `+` as `%2B`); "
        "defaults to now.",
    ),
]
From = Annotated[
    datetime | None,
    QueryParameter(
        name="from",
        required=False,
        description="The period's start (inclusive), RFC 3339 with an offset; defaults to "
        "24 hours before `to`.",
    ),
]
To = Annotated[
    datetime | None,
    QueryParameter(
        required=False,
        description="The period's end (exclusive), RFC 3339 with an offset; defaults to now. "
        "At most 367 days after `from`.",
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        required=False,
        max_length=20,
        pattern=QUERY_TEXT_PATTERN,
        description="The `nextCursor` of the previous page (opaque).",
    ),
]

_PROBLEMS = problem_responses(400, 401, 403, 500, 503)


# ---- routes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodedBoard:
    at: datetime
    position: int
    body: bytes
    #: The body gzip-compressed once, when built: every screen polling it (browsers send
    #: ``Accept-Encoding: gzip``) gets a seventh of the bytes without a compression each.
    gzipped: bytes | None = None


#: Level 6 (zlib's default): a 228 KB board becomes 31 KB in ~3 ms, once per build.
GZIP_LEVEL = 6


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3): named, or ``*``, with a
    quality above 0; an explicit ``gzip`` entry outranks ``*``."""
    qualities: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[coding.lower()] = quality
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding] > 0
    return False


class EncodedBoards:
    """Recent boards, already encoded, per unit (per app process).

    Flow boards are wall displays polled by many screens; a board is a function of the
    view's position, the unit and ``at`` (to the second). A board built less than
    ``max_age`` seconds ago (1: during this second) is served again without touching the
    database, as long as it satisfies the request's ``minPosition`` (read-your-writes still
    holds: a newer write makes it go to the database). One request per unit builds the next
    board; while it does, the others get the previous one if it is less than
    :data:`STALE_SECONDS` past its age and satisfies their ``minPosition``, instead of all
    building the same board at once. ``X-Projection-Position`` and the body's ``at`` always
    say which board it is."""

    STALE_SECONDS = 2

    def __init__(self, size: int = 256, max_age: int = 1) -> None:
        self.size = size
        self.max_age = max_age
        self._boards: OrderedDict[str | None, EncodedBoard] = OrderedDict()
        self._building: set[str | None] = set()
        self._lock = threading.Lock()

    def fresh(
        self, unit: str | None, at: datetime, min_position: int | None
    ) -> tuple[EncodedBoard | None, bool]:
        """A board to serve, if any; else whether this request should build the next one."""
        with self._lock:
            board = self._boards.get(unit)
            usable = board is not None and board.position >= (min_position or 0)
            age = (at - board.at).total_seconds() if board is not None else None
            if usable and age is not None and age < self.max_age:
                return board, False
            if unit in self._building:
                if usable and age is not None and age < self.max_age + self.STALE_SECONDS:
                    return board, False
                return None, False  # build one of its own (rare: a new minPosition)
            self._building.add(unit)
            return None, True

    def keep(self, unit: str | None, board: EncodedBoard | None, *, built_by_us: bool) -> None:
        with self._lock:
            if built_by_us:
                self._building.discard(unit)
            if board is None:
                return
            current = self._boards.get(unit)
            if current is None or (current.at, current.position) <= (board.at, board.position):
                self._boards[unit] = board
                self._boards.move_to_end(unit)
            while len(self._boards) > self.size:
                self._boards.popitem(last=False)


def _board_handler(boards: EncodedBoards) -> HTTPRouteHandler:
    async def get_board(
        request: Request[Any, Any, Any],
        unit: Unit = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[Board]:
        now = utc_now().replace(microsecond=0)
        board, ours = boards.fresh(unit, now, min_position)
        if board is None:
            board = await anyio.to_thread.run_sync(
                _read_board, request, boards, unit, now, min_position, wait_ms, ours
            )
        headers = {POSITION_HEADER: str(board.position), "Vary": "Accept-Encoding"}
        body = board.body
        if board.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
            body, headers["Content-Encoding"] = board.gzipped, "gzip"
        return Response(
            body,  # type: ignore[arg-type]
            media_type=MediaType.JSON,
            headers=headers,
        )

    return get(
        "/flow/board",
        operation_id="getFlowBoard",
        name="flow:board",
        summary="The flow board: who is where, waiting how long",
        description="Per unit (the visit's current location), the visits in each active "
        "state (arrived, triaged, withClinician, admitted), longest waiting first, with "
        "acuity, location, minutes since arrival and in the current state; `boarders` are the "
        "visits with a decision to admit not yet admitted (also listed under their state); "
        "admitted patients on leave of absence are listed apart in `onLeave`. Minutes count "
        "to `at`, the time the board was built (to the second); a board may be served again "
        "for `BOARD_MAX_AGE_SECONDS` (default 1: within its second) unless `minPosition` asks "
        "for a newer one (`X-Projection-Position` says which position it shows). Roles: "
        "clerk, nurse, clinician, manager.",
        guards=[may_read(FLOW_BOARD_READERS, "flow board")],
        response_headers=[POSITION_RESPONSE_HEADER],
        responses=_PROBLEMS,
    )(get_board)


def _read_board(
    request: Request[Any, Any, Any],
    boards: EncodedBoards,
    unit: str | None,
    now: datetime,
    min_position: int | None,
    wait_ms: int,
    ours: bool,
) -> EncodedBoard:
    def query(tx: Transaction, prefix: str) -> EncodedBoard:
        position = active_position(tx, NAME).position
        body = msgspec.json.encode(flow_store.board(tx, prefix, unit, now))
        return EncodedBoard(now, position, body)

    board = None
    try:
        board = query_view(request, NAME, min_position, wait_ms, query).content
        board = replace(board, gzipped=gzip.compress(board.body, compresslevel=GZIP_LEVEL))
    finally:
        boards.keep(unit, board, built_by_us=ours)
    return board


@get(
    "/flow/census",
    operation_id="getCensus",
    name="flow:census",
    summary="The census: who held a location in a unit at an instant",
    description="The visits with a location period in the unit that holds `at` (a period is "
    "`[since, until)`; a bed kept during a leave of absence still counts). Visits entered "
    "in error are never counted. Roles: nurse, clinician.",
    guards=[may_read(CENSUS_READERS, "census")],
    sync_to_thread=True,
    response_headers=[POSITION_RESPONSE_HEADER],
    responses=_PROBLEMS,
)
def get_census(
    request: Request[Any, Any, Any],
    unit: Unit = None,
    at: At = None,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[Census]:
    instant = aware("at", at) or utc_now()

    def query(tx: Transaction, prefix: str) -> Census:
        return flow_store.census(tx, prefix, unit, instant)

    return query_view(request, NAME, min_position, wait_ms, query)


@get(
    "/visits/{id:str}/timeline",
    operation_id="getVisitTimeline",
    name="flow:timeline",
    summary="A visit's history, corrections marked",
    description="Every recorded fact of the visit in order: who (actor, role, on behalf "
    "of), what (`eventType`, `details`), when (`occurredAt` in the hospital, `recordedAt` "
    "in the system), why (`reason`) and from where (source system and message). A fact "
    "cancelled by a compensation has `effective: false` and `correctedBy` (the "
    "compensating event's id); the compensation names it in `corrects`. The effective "
    "history is the entries with `effective: true`. 404 if the read model does not know "
    "the visit (after waiting for `minPosition`). Roles: nurse, clinician.",
    guards=[may_read(TIMELINE_READERS, "visit timelines", target_type="PatientVisit")],
    sync_to_thread=True,
    response_headers=[POSITION_RESPONSE_HEADER],
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)
def get_timeline(
    request: Request[Any, Any, Any],
    id: AggregateId,  # noqa: A002 - the contract's name for it
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[Timeline]:
    visit_id = parse_id(id)
    after = 0
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidRequestError.of("cursor", "not a cursor this service returned")
        after = int(cursor)

    def query(tx: Transaction, prefix: str) -> Timeline:
        timeline = flow_store.timeline(tx, prefix, visit_id, after_version=after, limit=limit)
        if timeline is None:
            raise NotFoundError("visit", visit_id)
        return timeline

    return query_view(request, NAME, min_position, wait_ms, query)


def _metrics_handler(zone: ZoneInfo) -> HTTPRouteHandler:
    def get_metrics(
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        unit: Unit = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[FlowMetrics]:
        end = aware("to", to) or utc_now()
        start = aware("from", from_) or end - DEFAULT_PERIOD
        if start >= end:
            raise InvalidRequestError.of("from", "must be before `to`")
        if end - start > MAX_PERIOD:
            raise InvalidRequestError.of("to", "the period may be at most 367 days")

        def query(tx: Transaction, prefix: str) -> FlowMetrics:
            return flow_store.metrics(tx, prefix, start, end, unit, zone)

        return query_view(request, NAME, min_position, wait_ms, query)

    return get(
        "/flow/metrics",
        operation_id="getFlowMetrics",
        name="flow:metrics",
        summary="Patient-flow metrics over a period",
        description=f"""Over `[from, to)`, optionally for one service unit, in minutes \
(medians and 90th percentiles by nearest rank, each statistic with its count `n`; `null` when \
`n` is 0): door-to-triage, door-to-provider, clinic wait (provider seen − the later of arrival \
and scheduled start, booked visits only; 0 if seen early), length of stay (departure − \
arrival; `byDisposition`, with `left_without_being_seen` for those who left), boarding time \
(departure from the ED, the end of the first location period − decision to admit); rates \
`numerator ÷ denominator` for LWBS (÷ arrivals), no-shows (÷ (no-shows + arrivals) among \
booked visits) and late cancellations (÷ booked visits); arrivals and departures per hour in \
the facility time zone ({zone.key}; hours with neither are left out).

A visit counts in the period where its clock anchors it: **arrival** for door-to-triage, \
door-to-provider, clinic wait, the LWBS rate and arrivals; **departure** for length of stay and \
departures; **departure from the ED** for boarding; **scheduled start** for the no-show and \
late-cancellation rates. Cancelled and entered-in-error visits are left out (cancelled ones \
count only in the late-cancellation rate). Role: manager.""",
        guards=[may_read(FLOW_METRICS_READERS, "flow metrics")],
        sync_to_thread=True,
        response_headers=[POSITION_RESPONSE_HEADER],
        responses=_PROBLEMS,
    )(get_metrics)


def flow_router(zone: ZoneInfo, board_max_age: int = 1) -> Router:
    """The flow routes; ``zone`` is the facility's time zone (hourly buckets of metrics);
    a board is served again for ``board_max_age`` seconds (see :class:`EncodedBoards`)."""
    handlers: list[HTTPRouteHandler] = [
        _board_handler(EncodedBoards(max_age=board_max_age)),
        get_census,
        _metrics_handler(zone),
        get_timeline,
    ]
    return Router(path="/", route_handlers=handlers, tags=["Patient flow"])
