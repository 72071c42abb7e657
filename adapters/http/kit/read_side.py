"""Queries of read models over HTTP: read-your-writes and ``X-Projection-Position``.

A client that has just written gets the write's ``position``; sending it back as
``minPosition`` makes the query wait (up to ``waitMs``) until the read model has read that
far, so the client sees its own write. Past the wait the answer is 503
``PROJECTION_LAGGING`` with ``Retry-After``. Every answer carries the position the view had
when it was read, in ``X-Projection-Position``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.kit.access import AccessSpec, recorded
from adapters.http.kit.errors import (
    InvalidRequestError,
    ProjectionLaggingError,
    ProjectionRebuildingError,
    ServiceUnavailableError,
)
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.resources import documented_header
from adapters.readmodels.database import DATABASE_ERRORS, ReadDatabase, Transaction
from adapters.readmodels.healing import is_outdated
from adapters.readmodels.status import active_position, wait_for_position
from adapters.readmodels.tracking import table_prefix
from application.shared.commands import EARLIEST, LATEST

T = TypeVar("T")

#: Where the app keeps its :class:`ReadDatabase` (``app.state``).
READ_DATABASE_STATE_KEY = "read_database"
POSITION_HEADER = "X-Projection-Position"
DEFAULT_WAIT_MS = 2000
MAX_WAIT_MS = 10_000

MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="minPosition",
        ge=0,
        # Litestar's document leaves out a bound of 0 (it tests the bound for truth).
        schema_extra={"minimum": 0},
        required=False,
        description="Read-your-writes: wait until the read model has processed this log "
        "position (the `position` a command returned). A position beyond the newest in the "
        "log is a 400 at once.",
    ),
]
WaitMs = Annotated[
    int,
    QueryParameter(
        name="waitMs",
        ge=0,
        le=MAX_WAIT_MS,
        required=False,
        description="How long to wait for `minPosition`, in milliseconds (default 2000, at "
        "most 10000); past it, 503 PROJECTION_LAGGING with Retry-After.",
    ),
]

#: Lists (domain-spec conventions): ``limit`` defaults to 50, at most 500.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIMIT, required=False, description="Entries per page (1-500)."),
]

POSITION_RESPONSE_HEADER = documented_header(
    POSITION_HEADER,
    "The log position the read model had processed when this answer was read",
    integer=True,
)

#: The problems a query of a read model may answer with.
READ_PROBLEMS = problem_responses(400, 401, 403, 500, 503)


def read_route(
    path: str, *, access: AccessSpec | str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """A ``GET`` route that queries a read model: run in a thread (the query blocks),
    documenting ``X-Projection-Position`` and, unless ``responses`` says otherwise, the
    :data:`READ_PROBLEMS`. With ``access`` (an action such as ``read census``, or an
    :class:`~adapters.http.kit.access.AccessSpec`), every successful read of it is recorded
    (:mod:`adapters.http.kit.access`). The other ``options`` are ``litestar.get``'s."""
    options.setdefault("responses", READ_PROBLEMS)
    route = get(path, sync_to_thread=True, response_headers=[POSITION_RESPONSE_HEADER], **options)
    if access is None:
        return route
    return lambda fn: route(recorded(access)(fn))


def aware(name: str, moment: datetime | None) -> datetime | None:
    """A query's instant must carry its offset (a local time would be read as UTC) and lie
    within the times a record can hold: beyond them, the period arithmetic of a report
    would overflow (a 500) instead of answering 400."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidRequestError.of(name, "must be an RFC 3339 time with an offset")
    if not EARLIEST <= moment < LATEST:
        raise InvalidRequestError.of(name, "must be between 1900 and 2200")
    return moment


def refuse_beyond_head(database: ReadDatabase, min_position: int) -> None:
    """A position no command has returned yet can never be reached by waiting: say so at
    once (a 400) rather than wait ``waitMs`` and answer 503. Positions may have gaps (on
    PostgreSQL), so only a position past the newest one is refused, never one in a gap."""
    head = database.head_position()
    if min_position > head:
        raise InvalidRequestError.of(
            "minPosition",
            f"is beyond the log: the head of the log is position {head} (send a position "
            "a command returned)",
        )


def read_database_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ReadDatabase:
    database = connection.app.state.get(READ_DATABASE_STATE_KEY)
    if database is None:  # only between process start and the end of start-up
        raise ServiceUnavailableError("the read models are starting")
    return cast(ReadDatabase, database)


def query_view(
    request: Request[Any, Any, Any],
    name: str,
    min_position: int | None,
    wait_ms: int | None,
    query: Callable[[Transaction, str], T],
) -> Response[T]:
    """Run ``query(tx, table_prefix)`` on the active generation of read model ``name``.

    The position is read first, in the same transaction as the view, so the view holds at
    least what the header says (on SQLite exactly: one snapshot)."""
    return query_views(
        request, (name,), min_position, wait_ms, lambda tx, prefixes: query(tx, prefixes[0])
    )


def query_views(
    request: Request[Any, Any, Any],
    names: tuple[str, ...],
    min_position: int | None,
    wait_ms: int | None,
    query: Callable[[Transaction, tuple[str, ...]], T],
) -> Response[T]:
    """:func:`query_view` over several read models read together (the bed board: the
    configured beds and the census), each waited for; the header is the least position."""
    database = read_database_of(request)
    if min_position:
        refuse_beyond_head(database, min_position)
        wait = (DEFAULT_WAIT_MS if wait_ms is None else wait_ms) / 1000
        for name in names:
            if wait_for_position(database, name, min_position, wait) is None:
                raise ProjectionLaggingError(name, min_position)
    try:
        with database.read() as tx:
            positions = [active_position(tx, name) for name in names]
            prefixes = tuple(
                table_prefix(name, p.generation) for name, p in zip(names, positions, strict=True)
            )
            result = query(tx, prefixes)
    except DATABASE_ERRORS:
        # Tables an older release built may lack what this code asks for: while the
        # rebuild runs that is a 503 to retry, never a 500.
        for name in names:
            if is_outdated(database, name):
                raise ProjectionRebuildingError(name) from None
        raise
    position = min(p.position for p in positions)
    return Response(result, headers={POSITION_HEADER: str(position)})
