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
    renderer: list[Any] = (
        # Tracebacks as structured data, so a JSON record stays one line.
        [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
        if use_json
        else [structlog.dev.ConsoleRenderer()]
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
    # One line per request would repeat what the command outcome lines already say.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
