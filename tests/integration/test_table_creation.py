"""Several processes starting at once on a fresh PostgreSQL schema (``serve`` with WORKERS
above 1, or several hosts) each create the missing tables: they must take turns, since
PostgreSQL refuses concurrent ``CREATE TABLE IF NOT EXISTS`` of one table (a duplicate
``pg_type`` key, or "tuple concurrently updated"), which made a worker fail to start."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from adapters.composition import start_runtime
from adapters.settings import Settings
from adapters.storage import ensure_schema

STARTING_AT_ONCE = 4


def test_processes_starting_at_once_on_a_fresh_schema_all_start(
    postgres_settings: Settings,
) -> None:
    ensure_schema(postgres_settings)  # as `serve` does before its workers start
    together = threading.Barrier(STARTING_AT_ONCE)

    def start() -> int:
        together.wait()
        runtime = start_runtime(postgres_settings, workers=False)
        try:
            return runtime.services.recorder.max_notification_id() or 0
        finally:
            runtime.stop()

    with ThreadPoolExecutor(STARTING_AT_ONCE) as pool:
        heads = list(pool.map(lambda _: start(), range(STARTING_AT_ONCE)))

    assert heads == [0] * STARTING_AT_ONCE
