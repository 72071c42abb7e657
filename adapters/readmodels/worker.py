"""Projection workers: a batch of records per transaction, one active worker per read model.

Each batch reads up to ``batch_size`` records after the tracked position, applies the wanted
ones to the view and advances tracking to the last record read, all in one transaction on
the worker's own connection: a crash at any instant leaves either the whole batch or none of
it, and the next leader resumes from the committed position (nothing lost, nothing doubled).

Leadership: a worker first takes the read model's leader lock (a PostgreSQL session advisory
lock, or ``flock`` on a file in ``VAR_DIR`` for SQLite); the others wait as standbys and
retry every ``standby_retry`` seconds. The lock lives and dies with the worker's connection,
so a dead process or a dropped connection hands leadership over by itself. A worker whose
connection fails logs it, drops its caches, reconnects and competes again.

No record can stop a worker: when a batch fails for any other reason, the records that fail
on their own are found (halving the batch, each part in a savepoint) and *parked* with their
error in ``read_model_parked``; the rest of the batch is applied and the position moves on.
The read model is then reported degraded (``/ready``, ``/metrics``, ``patient-services
parked``) until a rebuild, after the fix, applies them in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from adapters.readmodels import tracking as tr
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase, Transaction, WorkerConnection
from adapters.readmodels.failures import CONNECTION_ERRORS, is_connection_error
from adapters.readmodels.fingerprint import fingerprint
from projections.shared.records import StoredRecord

log = structlog.get_logger("projections")

DEFAULT_BATCH_SIZE = 2000
#: How far a worker that is behind grows its batches (doubling from ``batch_size``). A larger
#: batch folds more of each visit's records into one row write: catching up over 210,000
#: records measured 18-20k records/s at 2,000 and 32-34k at 20,000 (one transaction of ~0.6 s).
MAX_BATCH_SIZE = 20_000


def ensure_tables(tx: Transaction, model: ReadModel, generation: int) -> None:
    model.create_tables(tx, tr.table_prefix(model.name, generation))


@dataclass
class BatchOutcome:
    read: int  # records read (processed or skipped)
    applied: int  # records the read model wanted
    position: int  # tracking position after the batch
    generation: int
    replaced_generation: int | None = None  # set by a batch that switched generations
    parked: int = 0  # records the read model could not apply, kept aside (see _apply_or_park)
    outdated: bool = False  # the generation was built by other code: nothing was applied


class ProjectionWorker:
    """Keeps one read model up to date.

    ``generation=None`` follows the active generation (the live worker); a number writes
    that generation only (``rebuild``), under its own lock.
    """

    def __init__(
        self,
        database: ReadDatabase,
        model_factory: Callable[[], ReadModel],
        *,
        generation: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_size: int | None = None,
        idle_wait: float = 0.05,
        standby_retry: float = 1.0,
        batch_interval: float = 0.0,
    ) -> None:
        self.database = database
        self.model_factory = model_factory
        self.model = model_factory()
        self.name = self.model.name
        self.fixed_generation = generation
        self.batch_size = batch_size
        #: While behind (a batch came back full), the next batch doubles up to this; once
        #: caught up it is ``batch_size`` again, so a live worker commits small batches soon.
        self.max_batch_size = max(batch_size, max_batch_size or batch_size)
        self._limit = batch_size
        self.idle_wait = idle_wait
        self.standby_retry = standby_retry
        #: The least time from one live batch's start to the next one's (seconds). Under
        #: load each commit wakes every worker, and a batch per commit is a transaction per
        #: read model per command: waiting out the rest of the interval lets the commits
        #: of that time share one batch. When writes are rarer than this, no wait is added.
        self.batch_interval = batch_interval
        self._generation: int | None = None  # the generation self.model holds state for
        self.fingerprint = fingerprint(self.model)
        self._outdated = False  # whether self._generation was built with another shape
        self._caught_up = False
        self.leading = threading.Event()
        #: Topics the model said it does not want (see :meth:`_read_batch`).
        self._skipped: set[str] = set()

    @property
    def caught_up(self) -> bool:
        """Whether the last batch found the log's end (fewer records than it asked for)."""
        return self._caught_up

    @property
    def lock_name(self) -> str:
        if self.fixed_generation is None:
            return self.name
        return f"{self.name}.g{self.fixed_generation}"

    # ---- one batch ------------------------------------------------------------------
    def step(
        self, conn: WorkerConnection, then: Callable[[Transaction], int] | None = None
    ) -> BatchOutcome:
        """Process one batch in one transaction (the caller must hold the leader lock).

        ``then`` runs last in the same transaction: ``rebuild`` switches generations with it
        (it returns the generation replaced)."""
        try:
            with conn.transaction() as tx:
                outcome = self._step(conn, tx)
                if then is not None:
                    outcome = replace(outcome, replaced_generation=then(tx))
        except BaseException:
            self._forget()
            raise
        return outcome

    def _step(self, conn: WorkerConnection, tx: Transaction) -> BatchOutcome:
        if self._generation is None:
            tr.create_tracking_tables(tx)
        generation = self.fixed_generation or tr.generations(tx, self.name).active
        if generation != self._generation:
            self._forget()
            tr.claim_fingerprint(tx, self.name, generation, self.fingerprint)
            self._outdated = tr.built_by_other_code(tx, self.name, generation, self.fingerprint)
            if not self._outdated or self.fixed_generation is not None:
                # Never this release's statements on tables an older release built: they
                # may name columns those tables lack (an index on a new column).
                ensure_tables(tx, self.model, generation)
            self._generation = generation
        position = tr.tracking(tx, self.name, generation).position
        if self._outdated and self.fixed_generation is None:
            # Tables an older release built: writing them with this code could corrupt them
            # (or fail on every record). The live worker waits while a rebuild makes the
            # current shape (see healing.py); it follows the switch when it commits.
            self._caught_up = True
            return BatchOutcome(0, 0, position, generation, outdated=True)
        limit = self._limit
        read, last, records = self._read_batch(conn, tx, position, limit)
        if not read:
            if not self._caught_up:
                tr.mark_caught_up(tx, self.name, generation)
                self._caught_up = True
            return BatchOutcome(0, 0, position, generation)
        wanted = []
        for record in records:
            if self.model.wants(record.topic):
                wanted.append(record)
            else:
                self._skipped.add(record.topic)
        parked = 0
        if wanted:
            prefix = tr.table_prefix(self.name, generation)
            parked = self._apply_or_park(tx, conn, prefix, generation, wanted)
        caught_up = read < limit
        tr.advance(tx, self.name, generation, position, last, caught_up=caught_up)
        self._caught_up = caught_up
        # Set only here, after the work: a batch that rolls back is retried at its own size.
        self._limit = self.batch_size if caught_up else min(limit * 2, self.max_batch_size)
        return BatchOutcome(read, len(wanted) - parked, last, generation, parked=parked)

    def _read_batch(
        self, conn: WorkerConnection, tx: Transaction, position: int, limit: int
    ) -> tuple[int, int, list[StoredRecord]]:
        """The next ``limit`` rows of the log: how many, the last one's position, and those
        of them the model may want. Topics it has refused are left in the database: the
        access records of busy read routes are most of the log and only the audit model
        reads them; fetching each only to drop it cost every other model more than its
        own work (``wants`` depends on the topic alone, so one refusal holds for all)."""
        if not self._skipped:
            records = conn.records_after(tx, position, limit)
            return len(records), records[-1].position if records else position, records
        read, last = conn.span_after(tx, position, limit)
        if not read:
            return 0, position, []
        return read, last, conn.records_within(tx, position, last, sorted(self._skipped))

    def _apply_or_park(
        self,
        tx: Transaction,
        conn: WorkerConnection,
        prefix: str,
        generation: int,
        records: list[StoredRecord],
    ) -> int:
        """Apply ``records``; if that fails, find the records that fail by halving the batch
        (each part in a savepoint, in log order), park each alone with its error and apply
        the rest. Returns how many were parked. A lost connection is not the records' fault:
        it is raised, and the whole batch is tried again after reconnecting."""
        try:
            with tx.savepoint():
                self.model.apply(tx, prefix, records, conn)
            return 0
        except Exception as error:  # noqa: BLE001 - any other error is the records' own
            if is_connection_error(error):
                raise
            # The model may have cached state of the undone part: it reads it again.
            self.model.reset()
            if len(records) > 1:
                middle = len(records) // 2
                return self._apply_or_park(
                    tx, conn, prefix, generation, records[:middle]
                ) + self._apply_or_park(tx, conn, prefix, generation, records[middle:])
            [record] = records
            tr.park(tx, self.name, generation, record, error)
            # The error's text stays in the table: a driver's message may quote a value.
            log.error(
                "projection.record_parked",
                projection=self.name,
                generation=generation,
                position=record.position,
                topic=record.topic,
                error=type(error).__name__,
            )
            return 1

    def _forget(self) -> None:
        self.model.reset()
        self._generation = None
        self._caught_up = False

    def catch_up(self, conn: WorkerConnection) -> int:
        """Process batches until the log has nothing newer; returns the records read."""
        total = 0
        while (outcome := self.step(conn)).read:
            total += outcome.read
        return total

    # ---- leading, standing by, reconnecting ----------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Lead (or stand by) and keep the view current until ``stop`` is set."""
        backoff = 0.5
        while not stop.is_set():
            try:
                conn = self.database.worker_connection()
            except CONNECTION_ERRORS as e:
                log.warning("projection.connect_failed", projection=self.name, error=str(e))
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            try:
                self._lead(conn, stop)
                backoff = 0.5
            except CONNECTION_ERRORS as e:
                log.warning("projection.connection_lost", projection=self.name, error=str(e))
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:
                # Not a record's fault (those are parked): the tracking tables or the view's
                # own DDL failed. The worker must not die silently: it retries (the lag in
                # /ready and /metrics grows, the log says why).
                log.exception("projection.failed", projection=self.name)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                self.leading.clear()
                self._forget()
                _close_quietly(conn)

    def _lead(self, conn: WorkerConnection, stop: threading.Event) -> None:
        while not conn.try_lead(self.lock_name):
            if stop.wait(self.standby_retry):
                return
        self.leading.set()
        log.info("projection.leading", projection=self.name, lock=self.lock_name)
        while not stop.is_set():
            started = time.perf_counter()
            # Before the batch: a reader who asks while it runs may want what it missed.
            mark = conn.wanted_mark(self.name)
            outcome = self.step(conn)
            if outcome.read:
                # DEBUG: one line per batch was a third of all lines at INFO; /ready and
                # /metrics carry the positions.
                log.debug(
                    "projection.batch",
                    projection=self.name,
                    generation=outcome.generation,
                    read=outcome.read,
                    applied=outcome.applied,
                    position=outcome.position,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
            if self._caught_up:
                conn.wait_for_records(self.idle_wait, stop)
                rest = self.batch_interval - (time.perf_counter() - started)
                if rest > 0:
                    conn.linger(rest, stop, self.name, mark)


def _close_quietly(conn: WorkerConnection) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail again; it is gone
        log.debug("projection.close_failed")
