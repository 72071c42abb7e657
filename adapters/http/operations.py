"""Operations endpoints, outside ``/api`` and without authentication: ``/health`` says the
process answers, ``/ready`` that the event store answers too (load balancers and the
benchmark poll it before sending traffic)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from adapters.http.kit.context import services_of
from adapters.http.kit.problems import ServiceUnavailableError, problem_responses
from adapters.http.kit.read_side import READ_DATABASE_STATE_KEY
from adapters.http.kit.schemas import HealthStatus, ReadModelLag, ReadyStatus
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.status import read_model_status


@get("/health", operation_id="health", tags=["Operations"], summary="The process is alive")
async def health() -> HealthStatus:
    return HealthStatus()


@get(
    "/ready",
    operation_id="ready",
    tags=["Operations"],
    summary="The event store answers; gives the newest log position and the read models' lag",
    description="200 while the event store answers, even when read models lag (commands "
    "still work; queries wait or answer PROJECTION_LAGGING): the lag is reported for "
    "dashboards and alerts, not used to take the process out of rotation.",
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
    database = request.app.state.get(READ_DATABASE_STATE_KEY)
    if database is None:
        return ReadyStatus(status="ready", position=position or 0)
    try:
        statuses = read_model_status(database, read_model_factories())
    except Exception as e:  # noqa: BLE001 - same as above, for the read-model database
        raise ServiceUnavailableError("the read-model database does not answer") from e
    return ReadyStatus(
        status="ready",
        position=position or 0,
        read_models=[
            ReadModelLag(
                name=s.name,
                generation=s.generation,
                position=s.position,
                lag_events=s.lag_events,
                lag_seconds=s.lag_seconds,
                rebuilding_generation=s.rebuilding_generation,
                rebuilding_position=s.rebuilding_position,
                state=s.state,
                parked=s.parked,
                parked_positions=list(s.parked_positions),
            )  # fmt: skip
            for s in statuses
        ],
    )
