"""Where read models live: one small SQL interface over PostgreSQL and SQLite.

Read-model SQL is written once, in the subset both databases share (``?`` placeholders,
``INSERT … ON CONFLICT … DO UPDATE``, ``BIGINT``/``TEXT`` columns, instants as integer
microseconds), and runs on either through :class:`Transaction`.

* On PostgreSQL the read-model tables sit in the events' schema, so a worker reads the
  log and writes its view on one connection, in one transaction.
* On SQLite they sit in ``<VAR_DIR>/read_models.db`` (WAL), with the event store file
  attached as ``events``: a worker still reads the log and writes its view in one
  transaction, and a reader sees one consistent snapshot of both.

Workers use a dedicated :class:`WorkerConnection` (it also holds the worker's leader lock);
queries use :meth:`ReadDatabase.read`, pooled.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from adapters.settings import PostgresConnection, Settings
from adapters.storage import APPLICATION_NAME
from projections.shared.records import StoredRecord

Dialect = Literal["postgres", "sqlite"]
#: What a read-model query raises when the database refuses it (either store).
DATABASE_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, sqlite3.Error)
READ_MODELS_FILE = "read_models.db"
EVENTS_FILE = f"{APPLICATION_NAME}.db"
#: The channel eventsourcing's PostgreSQL recorder notifies on each insert (its events
#: table's name; channels are database-wide, so other stores' writes wake us needlessly,
#: which costs one empty read).
EVENTS_CHANNEL = f"{APPLICATION_NAME}_events"
#: Seconds a SQLite writer waits for the write lock (two workers may write at once).
SQLITE_BUSY_TIMEOUT_MS = 10_000


@lru_cache(maxsize=1024)
def _to_pyformat(statement: str) -> str:
    # Read-model SQL never contains a literal '?' or '%': placeholders are the only ones.
    return statement.replace("?", "%s")


class Transaction:
    """A cursor inside one transaction, with ``?`` placeholders on both databases."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (empty for statements without a result)."""
        if self.dialect == "postgres":
            self.cursor.execute(_to_pyformat(statement), params, prepare=True)
            return self.cursor.fetchall() if self.cursor.description else []
        self.cursor.execute(statement, params)
        return self.cursor.fetchall()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that an error undoes alone (the rest stays)."""
        self.cursor.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self.cursor.execute("ROLLBACK TO SAVEPOINT part")
            self.cursor.execute("RELEASE SAVEPOINT part")
            raise
        self.cursor.execute("RELEASE SAVEPOINT part")

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.dialect == "postgres":
            self.cursor.executemany(_to_pyformat(statement), rows)
        else:
            self.cursor.executemany(statement, rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert of new rows (COPY on PostgreSQL). Fails on a duplicate key.

        ``rows`` may be a lazy iterator: on PostgreSQL each row is sent as it is produced,
        so the server inserts (and indexes) while the caller computes the next ones."""
        if self.dialect == "postgres":
            iterator = iter(rows)
            first = next(iterator, None)
            if first is None:
                return
            statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
                pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
            )
            with self.cursor.copy(statement) as copy:
                copy.write_row(first)
                for row in iterator:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        self.cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )


class WorkerConnection(ABC):
    """One projection worker's own connection: leader lock, log reads and view writes."""

    dialect: Dialect

    @abstractmethod
    def try_lead(self, lock_name: str) -> bool:
        """Take the named leader lock if free; held until :meth:`close` (or the process dies)."""

    @abstractmethod
    def transaction(self) -> Iterator[Transaction]: ...

    @abstractmethod
    def records_after(self, tx: Transaction, position: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` rows of the log after ``position``, in order."""

    @abstractmethod
    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        """One aggregate's rows with versions below ``below_version``, in order."""

    def wait_for_records(self, poll: float, stop: threading.Event) -> None:
        """Return when new records may be in the log: after ``poll`` seconds here (SQLite
        has no notifications), at once on PostgreSQL's NOTIFY; early when ``stop`` is set."""
        stop.wait(poll)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> WorkerConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadDatabase(ABC):
    dialect: Dialect

    @abstractmethod
    def read(self) -> Iterator[Transaction]:
        """A read-only transaction (one consistent snapshot on SQLite)."""

    @abstractmethod
    def worker_connection(self) -> WorkerConnection: ...

    @abstractmethod
    def head_position(self) -> int:
        """The newest position in the log (0 when empty)."""

    @abstractmethod
    def close(self) -> None: ...


# ---- PostgreSQL -------------------------------------------------------------------------
def _events_table(schema: str) -> pgsql.Composed:
    return pgsql.SQL("{}.{}").format(
        pgsql.Identifier(schema), pgsql.Identifier(f"{APPLICATION_NAME}_events")
    )


def _pg_conninfo(connection: PostgresConnection) -> dict[str, Any]:
    return dict(
        host=connection.host,
        port=connection.port,
        dbname=connection.dbname,
        user=connection.user,
        password=connection.password,
        connect_timeout=5,
        options=f"-c search_path={connection.schema or 'public'}",
    )


def advisory_lock_key(schema: str, lock_name: str) -> int:
    """The leader lock's key (32 bits, so ``pg_locks.objid`` shows it). Per schema: advisory
    locks are database-wide, and each schema is its own store."""
    return zlib.crc32(f"patient-services:{schema}:projection:{lock_name}".encode())


class PostgresWorkerConnection(WorkerConnection):
    dialect: Dialect = "postgres"

    def __init__(self, connection: PostgresConnection) -> None:
        self._conn = psycopg.connect(**_pg_conninfo(connection), autocommit=True)
        self._listening = False
        schema = connection.schema or "public"
        self._schema = schema
        self._select_records = pgsql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(_events_table(schema))
        self._select_aggregate = pgsql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE originator_id = %s AND originator_version < %s "
            "ORDER BY originator_version"
        ).format(_events_table(schema))

    #: The longest a caught-up worker waits for a NOTIFY before it looks anyway (and sees
    #: ``stop``): a lost notification costs at most this much delay, never a record.
    LISTEN_TIMEOUT = 1.0

    def wait_for_records(self, poll: float, stop: threading.Event) -> None:
        """Every insert into the events table sends ``NOTIFY <table>`` in its transaction
        (the recorder's), so a caught-up worker sleeps on LISTEN instead of polling: it
        wakes as soon as a write commits, and an idle service spends no queries on it."""
        if not self._listening:
            self._conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(EVENTS_CHANNEL)))
            self._listening = True
        for _ in self._conn.notifies(timeout=self.LISTEN_TIMEOUT):
            break  # a write committed (or one did while the last batch ran)
        for _ in self._conn.notifies(timeout=0):
            pass  # the others queued meanwhile: the next batch reads them all

    def try_lead(self, lock_name: str) -> bool:
        # Session-level advisory lock: released when this connection ends, however it ends.
        key = advisory_lock_key(self._schema, lock_name)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._conn.transaction(), self._conn.cursor() as cursor:
            yield Transaction(cursor, "postgres")

    def records_after(self, tx: Transaction, position: int, limit: int) -> list[StoredRecord]:
        # A binary cursor: several times faster than text for bytea and uuid columns.
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(self._select_records, (position, limit))
            return [StoredRecord(*row) for row in cursor.fetchall()]

    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(self._select_aggregate, (originator_id, below_version))
            return [StoredRecord(*row) for row in cursor.fetchall()]

    def close(self) -> None:
        self._conn.close()


class PostgresReadDatabase(ReadDatabase):
    dialect: Dialect = "postgres"

    def __init__(self, connection: PostgresConnection, pool_size: int = 4) -> None:
        self._connection = connection
        self._pool = ConnectionPool(
            kwargs={**_pg_conninfo(connection), "autocommit": True},
            min_size=1,
            max_size=pool_size,
            timeout=5,
            open=True,
            name="read-models",
        )
        self._select_head = pgsql.SQL("SELECT max(notification_id) FROM {}").format(
            _events_table(connection.schema or "public")
        )

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield Transaction(cursor, "postgres")

    def worker_connection(self) -> WorkerConnection:
        return PostgresWorkerConnection(self._connection)

    def head_position(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(self._select_head).fetchone()
        return int(row[0] or 0) if row else 0

    def close(self) -> None:
        self._pool.close()


# ---- SQLite -----------------------------------------------------------------------------
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
def _sqlite_transaction(conn: sqlite3.Connection, begin: str) -> Iterator[Transaction]:
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
        with _sqlite_transaction(self._conn, "BEGIN IMMEDIATE") as tx:
            yield tx

    def records_after(self, tx: Transaction, position: int, limit: int) -> list[StoredRecord]:
        return _sqlite_records(
            self._events.execute(_SELECT_SQLITE_RECORDS, (position, limit)).fetchall()
        )

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
                with _sqlite_transaction(nested, "BEGIN") as tx:
                    yield tx
            finally:
                nested.close()
            return
        with _sqlite_transaction(conn, "BEGIN") as tx:
            yield tx

    def worker_connection(self) -> WorkerConnection:
        return SqliteWorkerConnection(self._var_dir)

    def head_position(self) -> int:
        with self.read() as tx:
            rows = tx.execute("SELECT max(rowid) FROM events.stored_events")
        return int(rows[0][0] or 0)

    def close(self) -> None:
        with self._guard:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def open_read_database(settings: Settings) -> ReadDatabase:
    """The read-model database of the configured store (tables made by :mod:`.registry`)."""
    postgres = settings.postgres
    if postgres is None:
        return SqliteReadDatabase(settings.var_dir)
    return PostgresReadDatabase(postgres, pool_size=settings.postgres_pool_size)
