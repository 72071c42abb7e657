"""Helpers for tests of any read model: which ones a test asked for, a table's rows, and the
leader lock taken patiently."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase, WorkerConnection


def marked_read_models(request: pytest.FixtureRequest) -> list[Callable[[], ReadModel]]:
    """The read models listed by the nearest ``@pytest.mark.read_models([...])`` (a module's
    ``pytestmark`` or a test's own), or none: the fixtures that open a read database prepare
    these, so each module picks its models without defining a fixture of its own. A list,
    since a mark given one class alone would take it for the class it decorates."""
    marker = request.node.get_closest_marker("read_models")
    return list(marker.args[0]) if marker else []


def table(database: ReadDatabase, name: str) -> list[tuple[Any, ...]]:
    with database.read() as tx:
        return tx.execute(f"SELECT * FROM {name} ORDER BY 1")


def lead(conn: WorkerConnection, lock_name: str) -> None:
    """Take the leader lock; a connection just closed may hold it a moment longer (PostgreSQL
    releases it when the server process ends, after the client has gone)."""
    deadline = time.monotonic() + 10
    while not conn.try_lead(lock_name):
        assert time.monotonic() < deadline, f"{lock_name} is still led by another worker"
        time.sleep(0.02)
