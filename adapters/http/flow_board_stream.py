"""The live flow board: ``GET /api/v1/flow/board/events?unit=`` (server-sent events).

A wall screen keeps one connection open instead of polling the board. One
:class:`BoardWatcher` per app process reads the flow read model's position (and lag) a few
times a second while anyone listens, whatever the number of listeners; when the position
moves, each stream sends its unit's board, built once per unit and second and shared with
the polling route (:class:`~adapters.http.flow_board.EncodedBoards`).

Each ``board`` event carries the projection position as its ``id``. A board is the whole
state of the unit, not a change, so nothing can be missed across a dropped connection: the
browser's ``EventSource`` reconnects by itself sending ``Last-Event-ID``, and a stream that
is behind the current position (or has no id) starts with the board as it is now. A
``status`` event says how far behind the writes the read model is (``lagEvents``,
``lagSeconds``), so a screen can show that it is stale. The stream ends when the caller's
token expires (an ``expired`` event first: the browser then signs in again), and after
``BOARD_STREAM_MAX_SECONDS`` (the browser reconnects at once, and its roles are checked
again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
import msgspec
import structlog
from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from adapters.http.flow_board import EncodedBoard, EncodedBoards, current_board
from adapters.http.flow_parameters import NAME, Unit
from adapters.http.kit.access import (
    AccessSpec,
    OnBehalfOfHeader,
    PurposeOfUseHeader,
    checked_access_headers,
    pending_access,
)
from adapters.http.kit.auth import claims_of, may_read, utc_now
from adapters.http.kit.compression import PRECOMPRESSED
from adapters.http.kit.read_side import READ_PROBLEMS, read_database_of
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.status import read_model_status
from application.shared.access import READ_BOARD
from application.shared.permissions import FLOW_BOARD_READERS

log = structlog.get_logger("http")

#: How often the watcher reads the read model's position while anyone listens.
WATCH_SECONDS = 0.25
#: A board is sent at least this often even when nothing changed: its minutes move on.
REFRESH_SECONDS = 30.0
#: What the browser waits before it reconnects (the SSE ``retry`` field), in milliseconds.
RETRY_MS = 1000
MEDIA_TYPE = "text/event-stream"


class StreamStatus(msgspec.Struct, frozen=True, rename="camel"):
    """A ``status`` event's data: how far behind the writes the board is."""

    position: int
    head: int
    lag_events: int
    lag_seconds: float
    state: str


@dataclass
class BoardWatcher:
    """The flow read model's status, read every :data:`WATCH_SECONDS` by one task per app
    process while at least one stream listens; streams wait on :meth:`changed` and share
    the boards :meth:`board` builds."""

    interval: float = WATCH_SECONDS

    def __post_init__(self) -> None:
        self.status: StreamStatus | None = None
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None
        self._moved = asyncio.Event()
        self._building: dict[str | None, asyncio.Future[EncodedBoard]] = {}

    async def join(self, database: ReadDatabase) -> StreamStatus:
        """The status now, read for the joining stream itself: the watcher's may be a tick
        old, and a stream that started from it would show a board older than a write its
        screen has just made, until the next write moved the position."""
        status = await anyio.to_thread.run_sync(_status_of, database)
        self._listeners += 1  # after the read: a failed one leaves nothing to undo
        if self._task is None or self._task.done():
            self.status = status
            self._task = asyncio.get_running_loop().create_task(self._watch(database))
        return status

    def leave(self) -> None:
        self._listeners -= 1

    @property
    def listeners(self) -> int:
        return self._listeners

    async def board(
        self,
        request: Request[Any, Any, Any],
        boards: EncodedBoards,
        unit: str | None,
        min_position: int,
    ) -> EncodedBoard:
        """The unit's board at ``min_position`` or later, built once for all the streams
        that ask while it is being built: when the position moves, every stream of the
        unit wakes at once, and each building its own board cost a build per stream."""
        while True:
            build = self._building.get(unit)
            if build is None:
                build = asyncio.ensure_future(current_board(request, boards, unit, min_position))
                self._building[unit] = build
                build.add_done_callback(partial(self._built, unit))
            # Shielded: a stream that goes away must not cancel the others' board.
            board = await asyncio.shield(build)
            if board.position >= min_position:
                return board
            # Begun before this stream's position was reached: the next build will be.

    def _built(self, unit: str | None, build: asyncio.Future[EncodedBoard]) -> None:
        if self._building.get(unit) is build:
            del self._building[unit]
        if not build.cancelled():
            build.exception()  # retrieved here, so a failure nobody awaited is not logged

    async def changed(self, timeout: float) -> StreamStatus | None:
        """The status once it changes, or None after ``timeout`` seconds."""
        moved = self._moved
        try:
            await asyncio.wait_for(moved.wait(), timeout)
        except TimeoutError:
            return None
        return self.status

    async def _watch(self, database: ReadDatabase) -> None:
        while self._listeners > 0:
            await asyncio.sleep(self.interval)
            try:
                status = await anyio.to_thread.run_sync(_status_of, database)
            except Exception:  # a database hiccup: the streams keep their last board
                log.exception("board_stream.status_failed")
                continue
            if status != self.status:
                self.status = status
                # Wake every stream waiting now; later waiters wait for the next change.
                self._moved.set()
                self._moved = asyncio.Event()
        self._task = None


def _status_of(database: ReadDatabase) -> StreamStatus:
    [status] = read_model_status(database, [NAME])
    return StreamStatus(
        position=status.position, head=status.head, lag_events=status.lag_events,
        lag_seconds=status.lag_seconds, state=status.state,
    )  # fmt: skip


#: The same, for a client that opens a new stream itself (a browser's EventSource cannot
#: set the header): ``?lastEventId=``.
LastEventIdQuery = Annotated[
    int | None,
    QueryParameter(
        name="lastEventId",
        required=False,
        ge=0,
        le=2**62,
        description="As `Last-Event-ID`, for a client that cannot send the header.",
    ),
]
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        required=False,
        description="The id of the last board event received (a projection position): sent "
        "by the browser when it reconnects. A stream behind the current position starts "
        "with the board as it is now.",
        max_length=20,
    ),
]


def board_stream_handler(
    boards: EncodedBoards, watcher: BoardWatcher, max_seconds: float = 300
) -> HTTPRouteHandler:
    async def board_events(
        request: Request[Any, Any, Any],
        unit: Unit = None,
        last_event_id: LastEventId = None,
        last_event_id_query: LastEventIdQuery = None,
        purpose_of_use: PurposeOfUseHeader = None,
        on_behalf_of: OnBehalfOfHeader = None,
    ) -> ServerSentEvent:
        purpose, behalf = checked_access_headers(purpose_of_use, on_behalf_of)
        database = read_database_of(request)
        resumed_at = (
            int(last_event_id)
            if last_event_id is not None and last_event_id.isdigit()
            else last_event_id_query
        )
        events = _events(
            request, boards, watcher, database, unit, resumed_at, purpose, behalf, max_seconds
        )
        return ServerSentEvent(events, retry_duration=RETRY_MS, headers=_NO_BUFFERING)

    return get(
        "/flow/board/events",
        operation_id="streamFlowBoard",
        name="flow:board-events",
        summary="The flow board, live (server-sent events)",
        description="A `text/event-stream` that sends the unit's board (the same JSON as "
        "`GET /flow/board`) as a `board` event whenever the flow read model moves, and at "
        "least every 30 s; each board event's `id` is the projection position it shows. A "
        "`status` event (`position`, `head`, `lagEvents`, `lagSeconds`, `state`) says how far "
        "behind the writes the board is. On reconnecting, send `Last-Event-ID` (browsers "
        "do): a stream behind the current position starts with the current board, so no "
        "change is missed. The stream ends with an `expired` event when the token expires, "
        "and after `BOARD_STREAM_MAX_SECONDS` (default 300) without one: reconnect. "
        "Browsers authenticate with the screens' session cookie (EventSource cannot send "
        "headers); other clients send the bearer token. Roles: clerk, nurse, clinician, "
        "manager.",
        guards=[may_read(FLOW_BOARD_READERS, "flow board")],
        responses=READ_PROBLEMS,
        media_type=MEDIA_TYPE,
        # Never compressed by the middleware: it would hold events back to fill a block.
        opt={PRECOMPRESSED: True},
    )(board_events)


#: Proxies (nginx) must pass each event on as it comes, not buffer the stream.
_NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _events(
    request: Request[Any, Any, Any],
    boards: EncodedBoards,
    watcher: BoardWatcher,
    database: ReadDatabase,
    unit: str | None,
    resumed_at: int | None,
    purpose: str | None,
    on_behalf_of: str | None,
    max_seconds: float,
) -> AsyncIterator[ServerSentEventMessage]:
    expires_at = claims_of(request).expires_at
    ends_at = time.monotonic() + max_seconds
    spec = AccessSpec(READ_BOARD)
    shown: EncodedBoard | None = None
    recorded_refs: frozenset[str] | None = None
    sent_status: StreamStatus | None = None
    status = await watcher.join(database)
    try:
        due = resumed_at is None or resumed_at < status.position
        refreshed = time.monotonic()
        while True:
            if due or time.monotonic() - refreshed >= REFRESH_SECONDS:
                shown = await watcher.board(request, boards, unit, status.position)
                refreshed, due = time.monotonic(), False
                yield ServerSentEventMessage(
                    data=shown.body.decode(), event="board", id=shown.position
                )
                recorded_refs = _record(request, shown, spec, purpose, on_behalf_of,
                                        recorded_refs)  # fmt: skip
            if status != sent_status:
                sent_status = status
                yield ServerSentEventMessage(
                    data=msgspec.json.encode(status).decode(), event="status"
                )
            left = (expires_at - utc_now()).total_seconds()
            if left <= 0:
                yield ServerSentEventMessage(data="the session has expired", event="expired")
                return
            remaining = ends_at - time.monotonic()
            if remaining <= 0:  # the browser reconnects at once, with Last-Event-ID
                return
            wait = min(left, remaining, REFRESH_SECONDS - (time.monotonic() - refreshed))
            changed = await watcher.changed(max(wait, 0.0))
            if changed is not None:
                due = shown is None or changed.position > shown.position
                status = changed
    finally:
        watcher.leave()


def _record(
    request: Request[Any, Any, Any],
    board: EncodedBoard,
    spec: AccessSpec,
    purpose: str | None,
    on_behalf_of: str | None,
    recorded_refs: frozenset[str] | None,
) -> frozenset[str] | None:
    """Record the board just shown as an access when it shows patients this stream had not
    recorded as shown on the board before it (every board would be one record per screen
    per change; the first record already names the patients a screen keeps showing)."""
    noted = pending_access(request, board.body, spec, purpose, on_behalf_of)
    if noted is None:
        return recorded_refs
    recorder, pending = noted
    refs = frozenset(pending.access.patient_refs)
    if recorded_refs is not None and refs <= recorded_refs:
        return recorded_refs
    recorder.add(pending)
    return refs
