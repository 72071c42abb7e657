"""Logging: one JSON record per line, stdlib loggers included, never local variables."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
import structlog

from adapters.logging import configure_logging
from adapters.settings import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    # configure_logging changes process-wide state: put it back for the other tests.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _fail_while_holding(body: str) -> None:
    raise ValueError("refused")


def test_json_records_carry_context_and_tracebacks_but_no_locals(
    settings: Settings, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(replace(settings, log_format="json"))
    structlog.contextvars.bind_contextvars(request_id="req-1")
    try:
        logging.getLogger("eventsourcing").warning("from %s", "stdlib")
        try:
            _fail_while_holding("Jane Doe, NHS 943 476 5919")
        except ValueError:
            structlog.get_logger("commands").exception("command.failed")
    finally:
        structlog.contextvars.clear_contextvars()

    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["event"], r["request_id"]) for r in records] == [
        ("eventsourcing", "from stdlib", "req-1"),
        ("commands", "command.failed", "req-1"),
    ]
    assert records[1]["exception"][0]["exc_type"] == "ValueError"
    assert "Jane Doe" not in "\n".join(lines)
