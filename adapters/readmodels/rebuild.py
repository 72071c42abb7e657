"""``patient-services rebuild NAME``: a read model rebuilt from zero, blue/green.

The rebuild fills the next generation's tables beside the serving ones, reading the log
from the start in batches, while the live workers keep the active generation current and
readers keep reading it. Once the new generation has caught up, its last batch and the
switch of ``active`` commit in one transaction: readers move to the new tables atomically,
and the live worker carries on from the new generation's position. The old tables are
dropped after a short grace period.

A rebuild that is interrupted (Ctrl-C, a kill, a crash of the machine) resumes where it
stopped when run again. One that fails with an error removes what it built of the new
generation (tables, tracking, its reservation), so the next run starts clean, and the
serving generation is untouched either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from adapters.readmodels import tracking as tr
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase, Transaction, WorkerConnection
from adapters.readmodels.fingerprint import fingerprint
from adapters.readmodels.worker import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    BatchOutcome,
    ProjectionWorker,
)

log = structlog.get_logger("projections")

#: Seconds the old generation's tables outlive the switch, for queries already reading them.
DROP_GRACE_SECONDS = 2.0


class RebuildBusyError(RuntimeError):
    """Another rebuild of the same read model is running."""


@dataclass(frozen=True)
class RebuildProgress:
    name: str
    generation: int
    position: int
    head: int
    records: int  # read by this run
    elapsed: float

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        return min(1.0, self.position / self.head) if self.head else 1.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.rate:
            return None
        return max(0.0, (self.head - self.position) / self.rate)


@dataclass(frozen=True)
class RebuildResult:
    name: str
    generation: int
    replaced_generation: int
    position: int
    records: int
    seconds: float


def rebuild(
    database: ReadDatabase,
    factory: Callable[[], ReadModel],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[RebuildProgress], None] = lambda _: None,
    drop_grace: float = DROP_GRACE_SECONDS,
) -> RebuildResult:
    name = factory().name
    started = time.perf_counter()
    with database.worker_connection() as conn:
        if not conn.try_lead(f"{name}.rebuild"):
            raise RebuildBusyError(f"a rebuild of {name} is already running")
        with conn.transaction() as tx:
            tr.create_tracking_tables(tx)
            generation = tr.start_building(tx, name)
            _forget_if_built_by_other_code(tx, factory, generation)
        worker = ProjectionWorker(
            database, factory, generation=generation, batch_size=batch_size,
            max_batch_size=max(batch_size, MAX_BATCH_SIZE),
        )  # fmt: skip
        if not conn.try_lead(worker.lock_name):
            raise RebuildBusyError(f"generation {generation} of {name} is being written")
        log.info("projection.rebuild_started", projection=name, generation=generation)
        try:
            final, records = _fill_and_switch(database, conn, worker, progress, started)
        except Exception as error:
            # Failed, not interrupted (Ctrl-C and a kill skip this and resume next time):
            # resuming would only meet the same error, so the next run starts clean.
            log.error(
                "projection.rebuild_failed", projection=name, generation=generation,
                error=type(error).__name__,
            )  # fmt: skip
            _abandon_generation(conn, factory, generation)
            raise
        replaced = final.replaced_generation
        assert replaced is not None
    switched_after = time.perf_counter() - started  # the rate excludes the drop's grace
    log.info(
        "projection.rebuild_switched", projection=name, generation=generation,
        replaced=replaced, position=final.position, records=records,
    )  # fmt: skip
    if replaced != generation:
        time.sleep(drop_grace)
        _drop_generation(database, factory, replaced)
    return RebuildResult(name, generation, replaced, final.position, records, switched_after)


def _fill_and_switch(
    database: ReadDatabase,
    conn: WorkerConnection,
    worker: ProjectionWorker,
    progress: Callable[[RebuildProgress], None],
    started: float,
) -> tuple[BatchOutcome, int]:
    """Load the generation from the log's start, then switch to it: the switching batch's
    outcome, and the records this run read."""
    name, generation = worker.name, worker.fixed_generation
    assert generation is not None
    records = 0
    head = database.head_position()
    prefix = tr.table_prefix(name, generation)
    indexes: list[tuple[str, str]] | None = None
    while True:
        outcome = worker.step(conn)
        if indexes is None:  # the first batch made the tables; load the rest unindexed
            with conn.transaction() as tx:
                indexes = _drop_secondary_indexes(tx, prefix)
        records += outcome.read
        head = max(head, outcome.position)
        progress(
            RebuildProgress(
                name, generation, outcome.position, head, records,
                time.perf_counter() - started,
            )
        )  # fmt: skip
        if worker.caught_up:
            break

    # Caught up: what is left (written meanwhile), the indexes, fresh planner statistics
    # and the switch, in one transaction.
    def finish(tx: Transaction) -> int:
        _index_and_analyze(tx, prefix, indexes or [])
        return tr.switch_to(tx, name, generation)

    final = worker.step(conn, then=finish)
    return final, records + final.read


def _forget_if_built_by_other_code(
    tx: Transaction, factory: Callable[[], ReadModel], generation: int
) -> None:
    """A reserved generation that an interrupted rebuild of another release left half
    built cannot be resumed by this code: it starts again from zero."""
    model = factory()
    if tr.built_by_other_code(tx, model.name, generation, fingerprint(model)):
        model.drop_tables(tx, tr.table_prefix(model.name, generation))
        tr.forget_generation(tx, model.name, generation)


def _abandon_generation(
    conn: WorkerConnection, factory: Callable[[], ReadModel], generation: int
) -> None:
    """Remove a failed rebuild's generation: its tables, its tracking and parked rows and
    its reservation, while this run still holds the generation's locks (they go when
    ``conn`` closes). Best effort: if the database cannot be reached now, the generation
    stays reserved and the next rebuild resumes it."""
    model = factory()
    try:
        with conn.transaction() as tx:
            if tr.generations(tx, model.name).active == generation:
                return  # the switch did commit (only its reply was lost): it serves now
            model.drop_tables(tx, tr.table_prefix(model.name, generation))
            tr.forget_generation(tx, model.name, generation)
            tr.stop_building(tx, model.name, generation)
    except Exception as error:  # noqa: BLE001 - the rebuild's own error is the one to raise
        log.warning(
            "projection.rebuild_cleanup_failed", projection=model.name, generation=generation,
            error=type(error).__name__,
        )  # fmt: skip
        return
    log.info("projection.rebuild_abandoned", projection=model.name, generation=generation)


def _drop_secondary_indexes(tx: Transaction, prefix: str) -> list[tuple[str, str]]:
    """Drop the generation's secondary indexes; returns them (name, definition) to recreate.

    Loading into unindexed tables and indexing once at the end is several times cheaper
    than maintaining each index row by row. Primary keys stay: they keep the load exact.
    An interrupted rebuild finds the indexes again (its first batch recreates the tables'
    indexes), so nothing is lost by dropping them here."""
    if tx.dialect == "postgres":
        # Joined by oid, never by casting names to regclass: the planner may evaluate such a
        # cast for any index in the catalog before the filters (so it failed on every new
        # database, on a system index whose name does not resolve in our schema).
        rows = tx.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE n.nspname = current_schema()"
            " AND left(t.relname, length(?)) = ?"
            " AND NOT x.indisprimary AND NOT x.indisunique",
            (prefix, prefix),
        )
    else:
        rows = tx.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND substr(tbl_name, 1, length(?)) = ?",
            (prefix, prefix),
        )
    indexes = [(name, definition) for name, definition in rows]
    for name, _ in indexes:
        tx.execute(f"DROP INDEX IF EXISTS {name}")
    return indexes


def _index_and_analyze(tx: Transaction, prefix: str, indexes: list[tuple[str, str]]) -> None:
    for _, definition in indexes:
        tx.execute(definition)
    if tx.dialect == "postgres":
        tables = tx.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND left(tablename, length(?)) = ?",
            (prefix, prefix),
        )
    else:
        tables = tx.execute(
            "SELECT name FROM sqlite_master"
            " WHERE type = 'table' AND substr(name, 1, length(?)) = ?",
            (prefix, prefix),
        )
    for (table,) in tables:
        # Statistics of the freshly loaded tables, so the first queries plan well.
        tx.execute(f"ANALYZE {table}")


def _drop_generation(
    database: ReadDatabase, factory: Callable[[], ReadModel], generation: int
) -> None:
    model = factory()
    with database.worker_connection() as conn, conn.transaction() as tx:
        model.drop_tables(tx, tr.table_prefix(model.name, generation))
        tr.forget_generation(tx, model.name, generation)
