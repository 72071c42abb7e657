"""Helpers for tests of any read model: a table's rows, and the leader lock taken patiently."""

from __future__ import annotations

import time
from typing import Any

from adapters.readmodels.database import ReadDatabase, WorkerConnection


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
