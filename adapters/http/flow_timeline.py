"""A visit's timeline: ``GET /api/v1/visits/{id}/timeline``, its history from the ``flow``
read model with corrections marked (nurses, clinicians)."""

from typing import Annotated, Any

from litestar import Request, Response
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME
from adapters.http.kit.auth import may_read
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_MS,
    Limit,
    MinPosition,
    WaitMs,
    query_view,
    read_route,
)
from adapters.http.kit.resources import AggregateId, parse_id
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits import store as flow_store
from application.shared.access import READ_VISIT_TIMELINE
from application.shared.errors import NotFoundError
from application.shared.permissions import TIMELINE_READERS
from projections.visits.flow_views import Timeline

Cursor = Annotated[
    str | None,
    QueryParameter(
        required=False,
        max_length=20,
        pattern=QUERY_TEXT_PATTERN,
        description="The `nextCursor` of the previous page (opaque).",
    ),
]


@read_route(
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
    responses=problem_responses(400, 401, 403, 404, 500, 503),
    access=READ_VISIT_TIMELINE,
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
