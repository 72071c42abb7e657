"""The Visits resource: ``POST /api/v1/visits``, ``/walk-ins``, one ``POST`` per action of
:data:`application.visit_commands.VISIT_ACTIONS`, and ``GET /api/v1/visits/{id}`` (now, as of
a version, or as of a time)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler

from adapters.http.auth import may_read
from adapters.http.commands import (
    ETAG_HEADER,
    AggregateId,
    AsOf,
    AsOfVersion,
    IfNoneMatch,
    Resource,
    action_handler,
    state_response,
    untargeted_handler,
)
from adapters.http.problems import problem_responses
from adapters.http.schemas import VisitState
from application.permissions import VISIT_READERS
from application.visit_commands import VISIT_ACTIONS, RegisterWalkIn, ScheduleVisit
from domain.visits import PatientVisit

VISITS = Resource(path="/api/v1/visits", noun="visit", name="visits")
_CREATED = "Visit created: its id, version and log position"


@get(
    "/{id:str}",
    operation_id="getVisit",
    name="visits:get",
    summary="A visit now, as of a version, or as of a time",
    guards=[may_read(VISIT_READERS, "visits")],
    sync_to_thread=True,
    response_headers=[ETAG_HEADER],
    responses=problem_responses(400, 401, 403, 404, 500, 503),
)
def get_visit(
    request: Request[Any, Any, Any],
    id: AggregateId,  # noqa: A002 - the contract's name for it
    as_of_version: AsOfVersion = None,
    as_of: AsOf = None,
    if_none_match: IfNoneMatch = None,
) -> Response[VisitState]:
    return state_response(
        request, id, PatientVisit, VisitState.of,
        as_of_version=as_of_version, as_of=as_of, if_none_match=if_none_match,
    )  # fmt: skip


def visits_router() -> Router:
    handlers: list[HTTPRouteHandler] = [
        untargeted_handler(VISITS, "/", ScheduleVisit, _CREATED),
        untargeted_handler(VISITS, "/walk-ins", RegisterWalkIn, _CREATED),
        *(action_handler(VISITS, action, command) for action, command in VISIT_ACTIONS.items()),
        get_visit,
    ]
    return Router(path="/visits", route_handlers=handlers, tags=["Visits"])
