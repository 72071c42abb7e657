"""The Visits resource: ``POST /api/v1/visits``, ``/walk-ins``, one ``POST`` per action of
:data:`application.visits.commands.VISIT_ACTIONS`, and ``GET /api/v1/visits/{id}`` (now, as of
a version, or as of a time)."""

from __future__ import annotations

from litestar import Router
from litestar.handlers import HTTPRouteHandler

from adapters.http.kit.commands import (
    Resource,
    action_handler,
    state_handler,
    untargeted_handler,
)
from adapters.http.kit.schemas import VisitState
from application.shared.permissions import VISIT_READERS
from application.visits.commands import VISIT_ACTIONS, RegisterWalkIn, ScheduleVisit
from domain.visits.visit import PatientVisit

VISITS = Resource(path="/api/v1/visits", noun="visit", name="visits")
_CREATED = "Visit created: its id, version and log position"


get_visit = state_handler(
    VISITS, PatientVisit, VisitState, VISIT_READERS,
    operation_id="getVisit", summary="A visit now, as of a version, or as of a time",
)  # fmt: skip


def visits_router() -> Router:
    handlers: list[HTTPRouteHandler] = [
        untargeted_handler(VISITS, "/", ScheduleVisit, _CREATED),
        untargeted_handler(VISITS, "/walk-ins", RegisterWalkIn, _CREATED),
        *(action_handler(VISITS, action, command) for action, command in VISIT_ACTIONS.items()),
        get_visit,
    ]
    return Router(path="/visits", route_handlers=handlers, tags=["Visits"])
