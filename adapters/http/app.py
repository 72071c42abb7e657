"""The Litestar app factory: routes, authentication, the problem map, OpenAPI and the
:class:`~application.service.PatientServices` lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

import anyio.to_thread
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adapters.access_recording import AccessMetrics, AccessRecorder
from adapters.composition import start_runtime
from adapters.http.audit import audit_router
from adapters.http.budget import budget_routers
from adapters.http.capacity import capacity_routers
from adapters.http.complaint_reports import complaints_router
from adapters.http.complaint_settings import complaint_settings_router
from adapters.http.cors import cors_config
from adapters.http.fhir import fhir_routers
from adapters.http.flow import flow_router
from adapters.http.hl7 import hl7_route
from adapters.http.kit.access import ACCESS_RECORDER_STATE_KEY, commit_access
from adapters.http.kit.auth import BearerAuthMiddleware
from adapters.http.kit.compression import compression_config
from adapters.http.kit.correlation import (
    CORRELATION_HEADER,
    RequestLogContextMiddleware,
    echo_correlation_id,
)
from adapters.http.kit.fresh_keys import FreshKeysMiddleware
from adapters.http.kit.parameters import check_parameters
from adapters.http.kit.problems import PROBLEM_TYPE_BASE, problem_response
from adapters.http.kit.read_side import READ_DATABASE_STATE_KEY
from adapters.http.kit.resources import documented_header
from adapters.http.kit.services import SERVICES_STATE_KEY
from adapters.http.metrics import HttpMetrics, RequestTimerMiddleware
from adapters.http.openapi_assets import swagger_ui_assets_router, swagger_ui_plugin
from adapters.http.openapi_document import complete_openapi_of
from adapters.http.operations import health, ready
from adapters.http.privacy import privacy_router
from adapters.http.ui import ui_routers
from adapters.http.visits import visits_router
from adapters.policies import budget_rules_of
from adapters.readmodels.database import ReadDatabase
from adapters.settings import Settings
from application.service import PatientServices

API_TITLE = "Patient Services API"
API_VERSION = "1.0.0"
BEARER_SCHEME = "bearerAuth"

_API_DESCRIPTION = f"""\
Every `/api` route needs `Authorization: Bearer <JWT>` (HS256; claims `sub`, `roles`, `exp`).

**Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`,
`code` (stable: `VALIDATION`, `UNAUTHENTICATED`, `NOT_AUTHORISED`, `NOT_FOUND`,
`INVALID_TRANSITION`, `TIMESTAMP_ORDER`, `ALREADY_CANCELLED`, `ALREADY_EXISTS`,
`INSUFFICIENT_FUNDS`, `APPROVAL_REQUIRED`, `SEGREGATION_OF_DUTIES`, `EXTENSION_TOO_LATE`,
`RESPONSE_INCOMPLETE`, `VERSION_CONFLICT`, `PROJECTION_LAGGING`,
`IDEMPOTENCY_KEY_REUSED`, `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`, `METHOD_NOT_ALLOWED`,
`SERVICE_UNAVAILABLE`, `INTERNAL_ERROR`), `correlationId`, and for invalid input
`errors: [{{field, message}}]` with camelCase field paths (`field` is null when the body as a
whole is refused). `type` is `{PROBLEM_TYPE_BASE}<code in lower case with dashes>`.

**Correlation**: send `{CORRELATION_HEADER}` (up to 100 of `A-Z a-z 0-9 . _ : -`) to have it
recorded on the events and logs; otherwise one is generated (a value holding control
characters is a 400). It is echoed on every response.

**Bodies** are JSON: send `Content-Type: application/json` (a `*/*+json` type and a
`charset` parameter are accepted; a body without Content-Type is read as JSON). A non-empty
body with any other type (`text/plain`, `application/x-www-form-urlencoded`, curl's default
for `-d`) is a 415 `UNSUPPORTED_MEDIA_TYPE` and records nothing. An empty body counts as `{{}}`.

Times are RFC 3339 with an offset; a time without one is refused, as is one outside the
years 1900 to 2199 (a bound JSON Schema's `date-time` format cannot state). When a fact
happened (`occurredAt`) may not be more than 5 minutes ahead of the server's clock.
"""


def create_app(
    settings: Settings,
    services: PatientServices | None = None,
    read_database: ReadDatabase | None = None,
    *,
    access_recorder: AccessRecorder | None = None,
    access_recording: bool = True,
) -> Litestar:
    """The HTTP app. Without ``services`` it builds its own at start-up from ``settings``,
    with the read-model database, the access recorder and (if
    ``settings.projection_workers``) the projection workers, and closes them at shutdown.
    Tests pass theirs in and keep ownership of them; without a ``read_database`` the
    read-model routes answer 503, and without an ``access_recorder`` (which they start,
    flush and close) their reads are not recorded. ``access_recording=False`` builds the
    app's own runtime without a recorder: for the read benchmark's figure without it only."""
    metrics = HttpMetrics()
    # The recorder's counters beside the app's own (summed from files in multiprocess mode).
    access_metrics = AccessMetrics(None if metrics.multiprocess else metrics._registry)
    if access_recorder is not None:
        access_recorder.metrics = access_metrics
    # One for every authenticated router: one cache of verified tokens, one key client.
    authentication = BearerAuthMiddleware(settings)
    api = Router(
        path="/api/v1",
        route_handlers=[
            visits_router(),
            *capacity_routers(),
            complaints_router(settings.facility_zone),
            complaint_settings_router(),
            *budget_routers(budget_rules_of(settings)),
            audit_router(settings),
            flow_router(
                settings.facility_zone,
                settings.board_max_age_seconds,
                settings.board_stream_max_seconds,
            ),
            hl7_route(settings),
            privacy_router(),
        ],
        # Deny by default: every API route is behind the bearer token.
        middleware=[authentication],
        security=[{BEARER_SCHEME: []}],
    )
    app = Litestar(
        route_handlers=[
            api,
            *fhir_routers(authentication),
            health,
            ready,
            metrics.endpoint(),
            swagger_ui_assets_router(),
            *ui_routers(settings, authentication),
        ],
        exception_handlers={Exception: problem_response},
        cors_config=cors_config(settings),
        compression_config=compression_config(),
        # Query times and header text that parameter declarations cannot check.
        before_request=check_parameters,
        middleware=[RequestTimerMiddleware(), RequestLogContextMiddleware(), FreshKeysMiddleware()],
        before_send=[echo_correlation_id, metrics.record_response, commit_access],
        response_headers=[
            documented_header(
                CORRELATION_HEADER, "The request's correlation id (the caller's, or a new one)"
            )
        ],
        request_max_body_size=settings.max_body_bytes,
        state=State(
            {
                SERVICES_STATE_KEY: services,
                READ_DATABASE_STATE_KEY: read_database,
                ACCESS_RECORDER_STATE_KEY: access_recorder,
            }
        ),
        lifespan=[]
        if services is not None
        else [_owned_services(settings, access_recording, access_metrics)],
        openapi_config=OpenAPIConfig(
            title=API_TITLE,
            version=API_VERSION,
            description=_API_DESCRIPTION,
            path="/schema",
            render_plugins=[swagger_ui_plugin()],
            components=Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="HS256 JWT with claims sub, roles, exp",
                    )
                }
            ),
        ),
        # Never a debug page: a 500 carries only the correlation id (see problems.py).
        debug=False,
        # Logging is configured by adapters.logging (structlog); Litestar's default config
        # would replace it when the app is built.
        logging_config=None,
    )
    complete_openapi_of(app)
    return app


def _owned_services(
    settings: Settings, access_recording: bool, access_metrics: AccessMetrics
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Opening the application may create tables: off the event loop.
        runtime = await anyio.to_thread.run_sync(
            partial(start_runtime, settings, access_recording=access_recording)
        )
        if runtime.access_recorder is not None:
            runtime.access_recorder.metrics = access_metrics
        app.state[SERVICES_STATE_KEY] = runtime.services
        app.state[READ_DATABASE_STATE_KEY] = runtime.read_database
        app.state[ACCESS_RECORDER_STATE_KEY] = runtime.access_recorder
        try:
            yield
        finally:
            app.state[SERVICES_STATE_KEY] = None
            app.state[READ_DATABASE_STATE_KEY] = None
            app.state[ACCESS_RECORDER_STATE_KEY] = None
            # Saves the accesses still pending before the application closes.
            await anyio.to_thread.run_sync(runtime.stop)

    return lifespan
