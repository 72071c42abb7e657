"""Where read models live: one small SQL interface over PostgreSQL and SQLite (the
backends are :mod:`.postgres_backend` and :mod:`.sqlite_backend`).

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

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql as pgsql

from adapters.storage import APPLICATION_NAME
from projections.shared.records import StoredRecord

Dialect = Literal["postgres", "sqlite"]
#: What a read-model query raises when the database refuses it (either store).
DATABASE_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, sqlite3.Error)
READ_MODELS_FILE = "read_models.db"
EVENTS_FILE = f"{APPLICATION_NAME}.db"
#: Seconds a SQLite writer waits for the write lock (two workers may write at once).
SQLITE_BUSY_TIMEOUT_MS = 10_000


@lru_cache(maxsize=1024)
def to_pyformat(statement: str) -> str:
    # Read-model SQL never contains a literal '?' or '%': placeholders are the only ones.
    return statement.replace("?", "%s")


class Transaction:
    """A cursor inside one transaction, with ``?`` placeholders on both databases."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def execute(
        self, statement: str, params: Sequence[Any] = (), *, binary: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (empty for statements without a result).
        ``binary``: PostgreSQL sends the results in binary (a ``bytea`` as its bytes, not
        as hex text: half the bytes, nothing to decode, for a reader of the whole log)."""
        if self.dialect == "postgres":
            self.cursor.execute(to_pyformat(statement), params, prepare=True, binary=binary)
            return self.cursor.fetchall() if self.cursor.description else []
        self.cursor.execute(statement, params)
        rows: list[tuple[Any, ...]] = self.cursor.fetchall()
        return rows

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
            self.cursor.executemany(to_pyformat(statement), rows)
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
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    @abstractmethod
    def records_after(self, tx: Transaction, position: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` rows of the log after ``position``, in order."""

    @abstractmethod
    def span_after(self, tx: Transaction, position: int, limit: int) -> tuple[int, int]:
        """How many rows the next ``limit`` after ``position`` are, and the last one's
        position (``(0, position)`` when there are none). Reads the index only."""

    @abstractmethod
    def records_within(
        self, tx: Transaction, position: int, last: int, skipped: Sequence[str]
    ) -> list[StoredRecord]:
        """The rows after ``position`` up to ``last``, in order, but none of the ``skipped``
        topics: the database leaves out, unread and unsent, what a read model never wants."""

    @abstractmethod
    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        """One aggregate's rows with versions below ``below_version``, in order."""

    def wait_for_records(self, poll: float, stop: threading.Event) -> None:
        """Return when new records may be in the log: after ``poll`` seconds here (SQLite
        has no notifications), at once on PostgreSQL's NOTIFY; early when ``stop`` is set."""
        stop.wait(poll)

    def wanted_mark(self, name: str) -> int:
        """Taken before a batch and given to :meth:`linger`: a reader's request for read
        model ``name`` after this mark ends the linger at once (0 where not counted)."""
        return 0

    def linger(self, seconds: float, stop: threading.Event, name: str, since: int) -> None:
        """Wait out the rest of the batch interval before read model ``name``'s next batch,
        unless a reader has asked for it since ``since`` (:meth:`ReadDatabase.want`) or
        ``stop`` is set: the interval trades freshness for CPU only while nobody waits."""
        stop.wait(seconds)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> WorkerConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadDatabase(ABC):
    dialect: Dialect

    @abstractmethod
    def read(self) -> AbstractContextManager[Transaction]:
        """A read-only transaction (one consistent snapshot on SQLite)."""

    @abstractmethod
    def worker_connection(self) -> WorkerConnection: ...

    @abstractmethod
    def head_position(self) -> int:
        """The newest position in the log (0 when empty)."""

    @abstractmethod
    def want(self, name: str) -> None:
        """A read-your-writes request waits for read model ``name``: ask its worker to read
        now instead of at the end of its batch interval (:meth:`WorkerConnection.linger`)."""

    @abstractmethod
    def close(self) -> None: ...
