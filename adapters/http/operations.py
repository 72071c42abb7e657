"""Operations endpoints, outside ``/api`` and without authentication: ``/health`` says the
process answers, ``/ready`` that the event store answers too (load balancers and the
benchmark poll it before sending traffic)."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, get_args

import msgspec
from litestar import Request, get

from adapters.http.kit.errors import ServiceUnavailableError
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import READ_DATABASE_STATE_KEY
from adapters.http.kit.services import services_of
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.status import read_model_status


class HealthStatus(msgspec.Struct, frozen=True):
    #: Always ok: the process is alive.
    status: Literal["ok"] = "ok"


#: What ``state`` says of a read model (see :class:`ReadModelLag`).
ReadModelState: TypeAlias = Literal["ok", "degraded", "rebuilding"]
#: :attr:`~adapters.readmodels.status.ReadModelStatus.state` (a ``str``) as one of them.
_STATES: dict[str, ReadModelState] = {state: state for state in get_args(ReadModelState)}


class ReadModelLag(msgspec.Struct, frozen=True, rename="camel"):
    """How far one read model has read the log, and how stale it may be."""

    #: The read model: flow, audit, budget or complaints.
    name: str
    #: The generation readers use (a rebuild fills the next one, then switches).
    generation: int
    #: The last log position it has processed.
    position: int
    #: Events in the log after ``position``.
    lag_events: int
    #: Seconds since it last had nothing newer to read (0 when caught up).
    lag_seconds: float
    #: The generation a rebuild is filling (null when none is running).
    rebuilding_generation: int | None = None
    #: The last log position the rebuild has processed (null when none runs or it has none yet).
    rebuilding_position: int | None = None
    #: ``degraded`` while records are parked: records it could not apply, kept aside with
    #: their error so the worker moves on; a rebuild after the fix applies them.
    #: ``rebuilding`` while the serving generation was built by an older release: it is
    #: rebuilt automatically (queries it cannot answer are 503 PROJECTION_REBUILDING).
    state: ReadModelState = "ok"
    #: How many records are parked, and the first of them by position.
    parked: int = 0
    #: The positions of the first parked records (at most 20).
    parked_positions: list[int] = msgspec.field(default_factory=list)


class ReadyStatus(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    #: Always ready: the event store answers.
    status: Literal["ready"]
    #: The newest position in the global event log (0 when it is empty).
    position: int
    #: Each read model's position and lag (absent when this process has no read models).
    read_models: list[ReadModelLag] | None = None


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
                state=_STATES[s.state],
                parked=s.parked,
                parked_positions=list(s.parked_positions),
            )  # fmt: skip
            for s in statuses
        ],
    )
