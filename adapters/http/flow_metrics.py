"""Patient-flow metrics over a period: ``GET /api/v1/flow/metrics`` (managers)."""

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME, KnownAt, Unit, known_time
from adapters.http.kit.auth import may_read, utc_now
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    MinPosition,
    WaitMs,
    aware,
    query_view,
    read_route,
)
from adapters.readmodels import tracking as tr
from adapters.readmodels.capacity import store as capacity_store
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits import store as flow_store
from application.shared.access import READ_FLOW_METRICS
from application.shared.permissions import FLOW_METRICS_READERS
from projections.capacity.beds import snapshot
from projections.visits.flow_metrics import FlowMetrics

#: The longest metrics period: a year and a day (a leap year's worth, plus slack).
MAX_PERIOD = timedelta(days=367)
DEFAULT_PERIOD = timedelta(hours=24)

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
        description="The period's end (exclusive), RFC 3339 with an offset; defaults to now "
        "(to `knownAt`, when that is given). At most 367 days after `from`.",
    ),
]


def capacity_prefix(tx: Transaction) -> str | None:
    """The capacity model's active tables, or None where it is not kept (an app built with
    a subset of the read models)."""
    if not tr.generations_known(tx, capacity_store.NAME):
        return None
    return tr.table_prefix(
        capacity_store.NAME, tr.active_position(tx, capacity_store.NAME).generation
    )


def metrics_handler(zone: ZoneInfo) -> HTTPRouteHandler:
    def get_metrics(
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        unit: Unit = None,
        known_at: KnownAt = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[FlowMetrics]:
        now = utc_now()
        known = known_time("knownAt", known_at, now)
        end = aware("to", to) or known or now
        start = aware("from", from_) or end - DEFAULT_PERIOD
        if start >= end:
            raise InvalidRequestError.of("from", "must be before `to`")
        if end - start > MAX_PERIOD:
            raise InvalidRequestError.of("to", "the period may be at most 367 days")

        def query(tx: Transaction, prefix: str) -> FlowMetrics:
            found = flow_store.metrics(tx, prefix, start, end, unit, zone, known_at=known)
            # The configured beds as the capacity model holds them (not waited for: the
            # configuration changes seldom; minPosition is the flow model's).
            capacity = capacity_prefix(tx)
            units = capacity_store.units(tx, capacity, unit) if capacity else []
            if not any(u.beds for u in units):
                return found
            census = flow_store.census(tx, prefix, unit, end, known_at=known).items
            beds = snapshot(units, census, end).hospital
            return msgspec.structs.replace(found, bed_occupancy=beds)

        return query_view(request, NAME, min_position, wait_ms, query)

    return read_route(
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
the facility time zone ({zone.key}; hours with neither are left out); `bedOccupancy`: the \
configured beds (of the unit, or of every configured unit) held at `to`.

A visit counts in the period where its clock anchors it: **arrival** for door-to-triage, \
door-to-provider, clinic wait, the LWBS rate and arrivals; **departure** for length of stay and \
departures; **departure from the ED** for boarding; **scheduled start** for the no-show and \
late-cancellation rates. Cancelled and entered-in-error visits are left out (cancelled ones \
count only in the late-cancellation rate).

With `knownAt`, the metrics as the system knew them then: each visit as recorded by that \
time (a late entry recorded afterwards does not count; a fact cancelled afterwards still \
does). Role: manager.""",
        guards=[may_read(FLOW_METRICS_READERS, "flow metrics")],
        access=READ_FLOW_METRICS,
    )(get_metrics)
