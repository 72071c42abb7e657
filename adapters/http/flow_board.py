"""The flow board: ``GET /api/v1/flow/board`` (clerks, nurses, clinicians, managers), a wall
display polled by many screens, so recent boards are kept encoded (and gzipped) per unit and
served again (:class:`EncodedBoards`)."""

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import anyio.to_thread
import msgspec
from litestar import MediaType, Request, Response, get
from litestar.handlers import HTTPRouteHandler

from adapters.http.flow_parameters import NAME, AsOf, Unit, known_time
from adapters.http.kit.access import recorded
from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.compression import PRECOMPRESSED
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    POSITION_HEADER,
    POSITION_RESPONSE_HEADER,
    READ_PROBLEMS,
    MinPosition,
    WaitMs,
    query_view,
)
from adapters.readmodels.database import Transaction
from adapters.readmodels.status import active_position
from adapters.readmodels.visits import store as flow_store
from application.shared.access import READ_BOARD
from application.shared.permissions import FLOW_BOARD_READERS
from projections.visits.flow_views import Board


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


def board_handler(boards: EncodedBoards) -> HTTPRouteHandler:
    async def get_board(
        request: Request[Any, Any, Any],
        unit: Unit = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[Board]:
        moment = known_time("asOf", as_of, utc_now())
        if moment is not None:  # a past board: folded for this request, never kept
            return await anyio.to_thread.run_sync(
                _read_board_as_of, request, unit, moment, min_position, wait_ms
            )
        board = await current_board(request, boards, unit, min_position, wait_ms)
        headers = {POSITION_HEADER: str(board.position), "Vary": "Accept-Encoding"}
        body = board.body
        if board.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
            body, headers["Content-Encoding"] = board.gzipped, "gzip"
        # The body is the Board already encoded (bytes); the return annotation stays
        # Response[Board] because Litestar documents the 200 (the Board schema) from it.
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
        "for a newer one (`X-Projection-Position` says which position it shows). With "
        "`asOf`, the board as the system had it then: only what had been recorded by that "
        "time, minutes counted to it (`at` and `asOf` are that time). Roles: "
        "clerk, nurse, clinician, manager.",
        guards=[may_read(FLOW_BOARD_READERS, "flow board")],
        response_headers=[POSITION_RESPONSE_HEADER],
        responses=READ_PROBLEMS,
        # Gzipped once per board, not per request (EncodedBoard.gzipped).
        opt={PRECOMPRESSED: True},
    )(recorded(READ_BOARD)(get_board))


async def current_board(
    request: Request[Any, Any, Any],
    boards: EncodedBoards,
    unit: str | None,
    min_position: int | None = None,
    wait_ms: int = DEFAULT_WAIT_MS,
) -> EncodedBoard:
    """The board now: one ``boards`` keeps, or a new one built (and kept)."""
    now = utc_now().replace(microsecond=0)
    board, ours = boards.fresh(unit, now, min_position)
    if board is None:
        board = await anyio.to_thread.run_sync(
            _read_board, request, boards, unit, now, min_position, wait_ms, ours
        )
    return board


def _read_board_as_of(
    request: Request[Any, Any, Any],
    unit: str | None,
    moment: datetime,
    min_position: int | None,
    wait_ms: int,
) -> Response[Board]:
    def query(tx: Transaction, prefix: str) -> Board:
        return flow_store.board_as_of(tx, prefix, unit, moment)

    return query_view(request, NAME, min_position, wait_ms, query)


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
