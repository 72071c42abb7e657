"""Operations endpoints, outside ``/api`` and without authentication: ``/health`` says the
process answers, ``/ready`` that the event store answers too (load balancers and the
benchmark poll it before sending traffic)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from adapters.http.context import services_of
from adapters.http.problems import ServiceUnavailableError, problem_responses
from adapters.http.schemas import HealthStatus, ReadyStatus


@get("/health", operation_id="health", tags=["Operations"], summary="The process is alive")
async def health() -> HealthStatus:
    return HealthStatus()


@get(
    "/ready",
    operation_id="ready",
    tags=["Operations"],
    summary="The event store answers; gives the newest log position",
    sync_to_thread=True,
    responses=problem_responses(503),
)
def ready(request: Request[Any, Any, Any]) -> ReadyStatus:
    services = services_of(request)
    try:
        # One cheap query (max of the primary key) proves the store is reachable.
        position = services.recorder.max_notification_id()
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"; logged by the problem map
        raise ServiceUnavailableError("the event store does not answer") from e
    return ReadyStatus(status="ready", position=position or 0)
