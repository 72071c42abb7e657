"""``GET /metrics`` in the Prometheus text format: requests, commands by outcome, and how far
the read models have read.

Counting happens in one place, :meth:`HttpMetrics.record_response`, a ``before_send`` hook:
Litestar calls it for every response, including its own 404/405 (which never reach any
middleware) and the 401s that the API router's authentication middleware raises (answered by
the app's exception handler, outside the route's middleware). :class:`RequestTimerMiddleware`
only notes when a routed request started, so the latency histogram covers every routed request
and leaves out unroutable ones (``route="unmatched"``), which no code of ours has timed.

Labels carry route templates (``/api/v1/visits/{id}/arrive``), never raw paths: no ids and no
patient data in labels (domain-spec: minimum PHI), and bounded cardinality.

Several uvicorn worker processes (``serve --workers N``) are summed with prometheus_client's
multiprocess mode: ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the
workers start; each worker writes its counters to files there and whichever worker answers a
scrape adds them all up. The read-model gauges are not kept per process: they are computed
from the read-model database at scrape time (:class:`ReadModelCollector`), so any worker
gives the same answer.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Any

from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from adapters.http.kit.read_side import READ_DATABASE_STATE_KEY
from adapters.http.metrics_commands import command_of, command_outcome, problem_code
from adapters.http.metrics_read_models import ReadModelCollector
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.registry import read_model_factories

#: The Prometheus text format, version 0.0.4 (what every Prometheus server reads). Litestar
#: adds the ``charset=utf-8`` of a text type itself, giving exactly ``CONTENT_TYPE_PLAIN_0_0_4``.
METRICS_MEDIA_TYPE = CONTENT_TYPE_PLAIN_0_0_4.removesuffix("; charset=utf-8")
METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"
#: Methods are labels too: anything else a client may send is counted as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Litestar's templates carry the parameter's type (``{id:str}``); the label does not.
_PARAMETER_TYPE = re.compile(r"\{(\w+):[^}]*\}")
#: Where the request's start time is kept (the ASGI scope's state), for the hook.
_STARTED_KEY = "patient_services.metrics.started"
_RESPONSE_KEY = "patient_services.metrics.response"
#: Seconds; from a cached read (milliseconds) to a slow command under load.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_mode() -> bool:
    """Whether prometheus_client keeps values in ``PROMETHEUS_MULTIPROC_DIR`` files. It decides
    once, when first imported, from that variable; asking it (rather than the environment
    now) keeps the metrics and the scrape in agreement."""
    return values.ValueClass is not values.MutexValue


class RequestTimerMiddleware(ASGIMiddleware):
    """Notes when a routed request started; :meth:`HttpMetrics.record_response` counts it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope.setdefault("state", {})[_STARTED_KEY] = time.perf_counter()
        await next_app(scope, receive, send)


class _ResponseSeen:
    """What the hook has seen of a response so far (status line, then the body)."""

    __slots__ = ("status", "replayed", "body")

    def __init__(self, status: int, replayed: bool) -> None:
        self.status = status
        self.replayed = replayed
        self.body = b""


class HttpMetrics:
    """The metrics of one app (one per process in production).

    In a single process (tests, ``uvicorn`` without workers) they live in a registry of
    their own, with the process's CPU, memory and GC; in multiprocess mode in files, which
    each scrape sums (per-process collectors make no sense summed, so they are left out)."""

    def __init__(self) -> None:
        # The `*_created` series (one timestamp per label set) would double the output and
        # are not written in multiprocess mode: left out in both, so the modes match.
        # prometheus_client ships py.typed, but these two (disable_created_metrics and
        # MultiProcessCollector.__init__) have no annotations: untyped calls, nothing to check.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess = multiprocess_mode()
        self._registry = CollectorRegistry()
        if self.multiprocess:
            MultiProcessCollector(self._registry)  # type: ignore[no-untyped-call]
        else:
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=self._registry)
        own = None if self.multiprocess else self._registry
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from routing a request to sending its response, by method and route "
            "template (unroutable requests are not timed).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.commands = Counter(
            "commands",
            "Commands received over HTTP, by command and outcome: accepted, replayed, "
            "refused, conflict, denied, unauthenticated, not_found, invalid, error.",
            ["command", "outcome"],
            registry=own,
        )
        #: Route handler (by id; handlers live as long as the app) → its command, or None.
        self._command_of: dict[int, str | None] = {}

    # ---- counting ----------------------------------------------------------------------------
    async def record_response(self, message: Message, scope: Scope) -> None:
        """``before_send`` hook: counts the response once its last body part is sent."""
        if scope["type"] != ScopeType.HTTP:
            return
        state = scope.setdefault("state", {})
        if message["type"] == "http.response.start":
            replayed = any(
                name.lower() == b"idempotent-replayed" and value.lower() == b"true"
                for name, value in message.get("headers", ())
            )
            state[_RESPONSE_KEY] = _ResponseSeen(message["status"], replayed)
            return
        seen: _ResponseSeen | None = state.get(_RESPONSE_KEY)
        if message["type"] != "http.response.body" or seen is None:
            return
        if seen.status == 409:  # refused or conflict: the problem's code tells
            seen.body += message.get("body", b"")
        if message.get("more_body", False):
            return
        del state[_RESPONSE_KEY]
        self._count(scope, seen, state.get(_STARTED_KEY))

    def _count(self, scope: HTTPScope, seen: _ResponseSeen, started: float | None) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        template = scope.get("path_template")
        route = route_label(template) if template else UNMATCHED_ROUTE
        self.requests.labels(method, route, str(seen.status)).inc()
        if started is not None and template:
            self.latency.labels(method, route).observe(time.perf_counter() - started)
        handler = scope.get("route_handler")
        command = self._command(handler) if template and handler is not None else None
        if command is not None:
            code = problem_code(seen.body) if seen.body else ""
            self.commands.labels(command, command_outcome(seen.status, seen.replayed, code)).inc()

    def _command(self, handler: BaseRouteHandler) -> str | None:
        key = id(handler)
        if key not in self._command_of:
            self._command_of[key] = command_of(handler)
        return self._command_of[key]

    # ---- scraping ----------------------------------------------------------------------------
    def exposition(self, database: ReadDatabase | None) -> bytes:
        """The text a scrape gets; the read-model gauges only when there is a database."""
        scrape = CollectorRegistry()
        scrape.register(self._registry)
        if database is not None:
            scrape.register(ReadModelCollector(database, list(read_model_factories())))
        return generate_latest(scrape)

    def endpoint(self) -> HTTPRouteHandler:
        """``GET /metrics`` for this app, outside ``/api`` and without authentication, like
        ``/health``: for the Prometheus server on the operator's network."""

        @get(
            METRICS_PATH,
            operation_id="metrics",
            tags=["Operations"],
            summary="Prometheus metrics (text format 0.0.4)",
            description="Requests (`http_requests_total`, `http_request_duration_seconds`), "
            "commands by outcome (`commands_total`), and per read model its position, lag "
            "in events and seconds, and generation, with the log's head position. "
            "No authentication; labels carry route templates, never ids.",
            media_type=METRICS_MEDIA_TYPE,
            response_description="Prometheus text exposition format 0.0.4",
            sync_to_thread=True,  # reads the read-model database and the metric files
        )
        def metrics(request: Request[Any, Any, Any]) -> Response[str]:
            body = self.exposition(request.app.state.get(READ_DATABASE_STATE_KEY))
            return Response(body.decode(), media_type=METRICS_MEDIA_TYPE)

        return metrics


@lru_cache(maxsize=1024)
def route_label(path_template: str) -> str:
    """``/api/v1/visits/{id:str}/arrive`` → ``/api/v1/visits/{id}/arrive``."""
    return _PARAMETER_TYPE.sub(r"{\1}", path_template)
