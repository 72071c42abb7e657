"""structlog configuration: JSON lines in production, readable lines on a terminal.

Standard-library loggers (uvicorn, litestar, eventsourcing, psycopg) are routed through the
same processors, so every line in one process has one format. Context bound with
``structlog.contextvars.bind_contextvars`` (request id, actor, command, aggregate id) is added
to every line. Log identifiers and outcomes only, never request bodies or patient data.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
import structlog.tracebacks

from adapters.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the root logger; safe to call again (replaces handlers)."""
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    level = logging.getLevelName(settings.log_level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks without local variables (structlog shows them by default): locals hold
    # request bodies and patient data. In JSON, tracebacks are structured: one record, one line.
    renderer: list[Any] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
        if use_json
        else [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    )

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Litestar's default LoggingConfig, applied when an app is built, gives its logger a handler
    # of its own; send it through ours instead (see adapters.http.asgi).
    framework = logging.getLogger("litestar")
    framework.handlers.clear()
    framework.propagate = True
    # One line per request would repeat what the command outcome lines already say.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
