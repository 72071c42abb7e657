"""The read-model database on SQLite: ``<VAR_DIR>/read_models.db`` (WAL) with the event
store file attached as ``events``, so a worker still reads the log and writes its view in
one transaction, and a reader sees one consistent snapshot of both."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.readmodels.connection import (
    EVENTS_FILE,
    READ_MODELS_FILE,
    SQLITE_BUSY_TIMEOUT_MS,
    Dialect,
    ReadDatabase,
    Transaction,
    WorkerConnection,
)
from projections.shared.records import StoredRecord


def _sqlite_connect(var_dir: Path, *, attach_events: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(
        var_dir / READ_MODELS_FILE,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # explicit BEGIN/COMMIT below
        check_same_thread=False,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if attach_events:
        conn.execute("ATTACH DATABASE ? AS events", (str(var_dir / EVENTS_FILE),))
    return conn


@contextmanager
def sqlite_transaction(conn: sqlite3.Connection, begin: str) -> Iterator[Transaction]:
    cursor = conn.cursor()
    cursor.execute(begin)
    try:
        yield Transaction(cursor, "sqlite")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    else:
        cursor.execute("COMMIT")
    finally:
        cursor.close()


_SELECT_SQLITE_RECORDS = (
    "SELECT rowid, originator_id, originator_version, topic, state "
    "FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?"
)
_SELECT_SQLITE_SPAN = (
    "SELECT count(*), max(rowid) FROM (SELECT rowid FROM stored_events WHERE rowid > ? "
    "ORDER BY rowid LIMIT ?)"
)
#: The topics skipped are bound as one JSON array (any number of them, one statement).
_SELECT_SQLITE_WITHIN = (
    "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
    "WHERE rowid > ? AND rowid <= ? AND topic NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY rowid"
)
_SELECT_SQLITE_AGGREGATE = (
    "SELECT rowid, originator_id, originator_version, topic, state "
    "FROM stored_events WHERE originator_id = ? AND originator_version < ? "
    "ORDER BY originator_version"
)


def _sqlite_records(rows: list[tuple[Any, ...]]) -> list[StoredRecord]:
    # The library stores UUIDs as 32 hex digits on SQLite.
    return [
        StoredRecord(position, UUID(originator_id), version, topic, state)
        for position, originator_id, version, topic, state in rows
    ]


class _Wants:
    """Readers' requests for a read model, counted per (store, read model), for the workers
    of this process: SQLite has no notifications, and the workers run in the server's
    process with ``WORKERS=1`` (with more, in their own process, which this does not reach:
    there a waiting reader waits for the batch interval)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: dict[tuple[Path, str], int] = {}

    def count(self, key: tuple[Path, str]) -> int:
        with self._changed:
            return self._counts.get(key, 0)

    def want(self, key: tuple[Path, str]) -> None:
        with self._changed:
            self._counts[key] = self._counts.get(key, 0) + 1
            self._changed.notify_all()

    def wait(
        self, key: tuple[Path, str], since: int, seconds: float, stop: threading.Event
    ) -> None:
        """Until ``key`` is asked for past ``since``, ``seconds`` pass or ``stop`` is set."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while self._counts.get(key, 0) == since and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(min(left, STOP_CHECK_SECONDS))


#: How often a lingering worker looks at its stop event.
STOP_CHECK_SECONDS = 0.05
_WANTS = _Wants()


class SqliteWorkerConnection(WorkerConnection):
    dialect: Dialect = "sqlite"

    def __init__(self, var_dir: Path) -> None:
        self._var_dir = var_dir
        # Two connections, not one with the event store attached: BEGIN IMMEDIATE takes the
        # write lock of every attached database, which would stall the application's writers
        # for the length of each batch. The log is append-only and immutable, so reading it
        # outside the view's transaction is safe: tracking (read inside it) says where to.
        self._conn = _sqlite_connect(var_dir, attach_events=False)
        self._events = sqlite3.connect(
            var_dir / EVENTS_FILE, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        self._lock_files: list[int] = []

    def wanted_mark(self, name: str) -> int:
        return _WANTS.count((self._var_dir, name))

    def linger(self, seconds: float, stop: threading.Event, name: str, since: int) -> None:
        _WANTS.wait((self._var_dir, name), since, seconds, stop)

    def try_lead(self, lock_name: str) -> bool:
        # flock is per open file: other processes (and other workers here) see it held
        # until this descriptor is closed, which the kernel also does if the process dies.
        fd = os.open(self._var_dir / f"projection-{lock_name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_files.append(fd)
        return True

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        # IMMEDIATE takes the write lock up front: no deadlock upgrading a read later.
        with sqlite_transaction(self._conn, "BEGIN IMMEDIATE") as tx:
            yield tx

    def records_after(self, tx: Transaction, position: int, limit: int) -> list[StoredRecord]:
        return _sqlite_records(
            self._events.execute(_SELECT_SQLITE_RECORDS, (position, limit)).fetchall()
        )

    def span_after(self, tx: Transaction, position: int, limit: int) -> tuple[int, int]:
        count, last = self._events.execute(_SELECT_SQLITE_SPAN, (position, limit)).fetchone()
        return (count, last) if count else (0, position)

    def records_within(
        self, tx: Transaction, position: int, last: int, skipped: Sequence[str]
    ) -> list[StoredRecord]:
        rows = self._events.execute(
            _SELECT_SQLITE_WITHIN, (position, last, json.dumps(list(skipped)))
        )
        return _sqlite_records(rows.fetchall())

    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        rows = self._events.execute(_SELECT_SQLITE_AGGREGATE, (originator_id.hex, below_version))
        return _sqlite_records(rows.fetchall())

    def close(self) -> None:
        self._conn.close()
        self._events.close()
        for fd in self._lock_files:
            os.close(fd)
        self._lock_files.clear()


class SqliteReadDatabase(ReadDatabase):
    dialect: Dialect = "sqlite"

    def __init__(self, var_dir: Path) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self._var_dir = var_dir
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._guard = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _sqlite_connect(self._var_dir)
            self._local.conn = conn
            with self._guard:
                self._opened.append(conn)
        return conn

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        conn = self._connection()
        if conn.in_transaction:
            # A read nested in another on this thread: a connection of its own.
            nested = _sqlite_connect(self._var_dir)
            try:
                with sqlite_transaction(nested, "BEGIN") as tx:
                    yield tx
            finally:
                nested.close()
            return
        with sqlite_transaction(conn, "BEGIN") as tx:
            yield tx

    def worker_connection(self) -> WorkerConnection:
        return SqliteWorkerConnection(self._var_dir)

    def head_position(self) -> int:
        with self.read() as tx:
            rows = tx.execute("SELECT max(rowid) FROM events.stored_events")
        return int(rows[0][0] or 0)

    def want(self, name: str) -> None:
        _WANTS.want((self._var_dir, name))

    def close(self) -> None:
        with self._guard:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
