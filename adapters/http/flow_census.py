"""The census: ``GET /api/v1/flow/census``, who held a location in a unit at an instant
(nurses, clinicians)."""

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME, KnownAt, Unit, known_time
from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    MinPosition,
    WaitMs,
    aware,
    query_view,
    read_route,
)
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits import store as flow_store
from application.shared.access import READ_CENSUS
from application.shared.permissions import CENSUS_READERS
from projections.visits.flow_views import Census

At = Annotated[
    datetime | None,
    QueryParameter(
        required=False,
        description="The instant, RFC 3339 with an offset (URL-encode `+` as `%2B`); "
        "defaults to now, or to `knownAt` when that is given.",
    ),
]


@read_route(
    "/flow/census",
    operation_id="getCensus",
    name="flow:census",
    summary="The census: who held a location in a unit at an instant",
    description="The visits with a location period in the unit that holds `at` (a period is "
    "`[since, until)`; a bed kept during a leave of absence still counts), each with its "
    "status and class at `at` (a fact a compensation cancelled never happened). Visits "
    "entered in error are never counted. With `knownAt`, the census as the system knew it "
    "then: only what had been recorded by that time (for an `at` after it, a patient "
    "there at `knownAt` is counted as still there). Roles: nurse, clinician.",
    guards=[may_read(CENSUS_READERS, "census")],
    access=READ_CENSUS,
)
def get_census(
    request: Request[Any, Any, Any],
    unit: Unit = None,
    at: At = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[Census]:
    now = utc_now()
    known = known_time("knownAt", known_at, now)
    instant = aware("at", at) or known or now

    def query(tx: Transaction, prefix: str) -> Census:
        return flow_store.census(tx, prefix, unit, instant, known_at=known)

    return query_view(request, NAME, min_position, wait_ms, query)
