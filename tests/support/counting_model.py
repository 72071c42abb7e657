"""A deliberately simple read model for testing the worker machinery itself.

It counts, per aggregate, the records applied to it and remembers the positions, so a
record applied twice or lost shows up as a wrong count. ``pause_after`` makes ``apply`` stop
halfway through a batch (for killing a worker mid-batch). ``catch_up`` runs it to the end of
the log, ``applied_positions`` says what it applied.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from adapters.readmodels import tracking as tr
from adapters.readmodels.base import LogReader
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.worker import ProjectionWorker
from projections.shared.records import StoredRecord


class CountingReadModel:
    name = "counting"

    def __init__(self) -> None:
        self.resets = 0
        # Seconds to sleep after applying the first half of a batch (set in a child process).
        self.pause_after_half = float(os.environ.get("COUNTING_PAUSE", "0"))

    def wants(self, topic: str) -> bool:
        return topic.startswith("domain.")

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {prefix}applied ("
            " position BIGINT PRIMARY KEY, aggregate_id TEXT NOT NULL)"
        )

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        tx.execute(f"DROP TABLE IF EXISTS {prefix}applied")

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        half = len(records) // 2
        # Not ON CONFLICT: applying a record twice must fail loudly here.
        statement = f"INSERT INTO {prefix}applied (position, aggregate_id) VALUES (?, ?)"
        tx.executemany(statement, [(r.position, str(r.originator_id)) for r in records[:half]])
        if self.pause_after_half:
            print("paused", flush=True)
            time.sleep(self.pause_after_half)
        tx.executemany(statement, [(r.position, str(r.originator_id)) for r in records[half:]])

    def reset(self) -> None:
        self.resets += 1


def applied_positions(database: ReadDatabase, generation: int = 1) -> list[int]:
    prefix = tr.table_prefix(CountingReadModel.name, generation)
    with database.read() as tx:
        return [row[0] for row in tx.execute(f"SELECT position FROM {prefix}applied ORDER BY 1")]


def catch_up(database: ReadDatabase, batch_size: int = 7) -> ProjectionWorker:
    worker = ProjectionWorker(database, CountingReadModel, batch_size=batch_size)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        worker.catch_up(conn)
    return worker
