"""The read-model database on PostgreSQL: the tables sit in the events' schema, so a worker
reads the log and writes its view on one connection, in one transaction; queries share a
pool."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from adapters.postgres.channels import WANTED_CHANNEL, events_channel
from adapters.readmodels.connection import (
    Dialect,
    ReadDatabase,
    Transaction,
    WorkerConnection,
)
from adapters.settings import PostgresConnection
from adapters.storage import APPLICATION_NAME
from projections.shared.records import StoredRecord


def _events_table(schema: str) -> pgsql.Composed:
    return pgsql.SQL("{}.{}").format(
        pgsql.Identifier(schema), pgsql.Identifier(f"{APPLICATION_NAME}_events")
    )


def pg_conninfo(connection: PostgresConnection) -> dict[str, Any]:
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
        self._conn = psycopg.connect(**pg_conninfo(connection), autocommit=True)
        self._listening = False
        schema = connection.schema or "public"
        self._schema = schema
        self._events_channel = events_channel(schema)
        #: The read models a reader asked for (WANTED_CHANNEL) while this worker was busy
        #: or asleep: its next linger ends at once.
        self._wanted: set[str] = set()
        self._select_records = pgsql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(_events_table(schema))
        self._select_span = pgsql.SQL(
            "SELECT count(*), max(notification_id) FROM (SELECT notification_id FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s) AS span"
        ).format(_events_table(schema))
        self._select_within = pgsql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE notification_id > %s AND notification_id <= %s "
            "AND topic <> ALL(%s::text[]) ORDER BY notification_id"
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
            for channel in (self._events_channel, WANTED_CHANNEL):
                self._conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))
            self._listening = True
        for notice in self._conn.notifies(timeout=self.LISTEN_TIMEOUT):
            self._note(notice)
            if notice.channel == self._events_channel:
                break  # a write committed (or one did while the last batch ran)
        for notice in self._conn.notifies(timeout=0):
            self._note(notice)  # the others queued meanwhile: the next batch reads them all

    def linger(self, seconds: float, stop: threading.Event, name: str, since: int) -> None:
        # Notifications are queued on the connection, so one sent while the batch ran is
        # seen here (by _note, or below): none is lost between the batch and the linger.
        wanted = f"{self._schema}:{name}"
        if not self._listening:
            stop.wait(seconds)
            return
        if wanted in self._wanted:
            self._wanted.discard(wanted)
            return
        for notice in self._conn.notifies(timeout=seconds):
            if notice.channel == WANTED_CHANNEL and notice.payload == wanted:
                return  # new records wait for the next batch either way
            self._note(notice)

    def _note(self, notice: psycopg.Notify) -> None:
        if notice.channel == WANTED_CHANNEL and notice.payload.startswith(f"{self._schema}:"):
            self._wanted.add(notice.payload)

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

    def span_after(self, tx: Transaction, position: int, limit: int) -> tuple[int, int]:
        row = self._conn.execute(self._select_span, (position, limit)).fetchone()
        if row is None or not row[0]:
            return 0, position
        return int(row[0]), int(row[1])

    def records_within(
        self, tx: Transaction, position: int, last: int, skipped: Sequence[str]
    ) -> list[StoredRecord]:
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(self._select_within, (position, last, list(skipped)))
            return [StoredRecord(*row) for row in cursor.fetchall()]

    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(self._select_aggregate, (originator_id, below_version))
            return [StoredRecord(*row) for row in cursor.fetchall()]

    def close(self) -> None:
        # Released here, not by the end of the session: the server ends a closed
        # connection's backend in its own time, and until then the lock still looks held,
        # so a worker taking over at once (a restart, the next test) would find it taken.
        try:
            if not self._conn.closed:
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass  # a broken connection: its locks go with its session
        finally:
            self._conn.close()


class PostgresReadDatabase(ReadDatabase):
    dialect: Dialect = "postgres"

    def __init__(self, connection: PostgresConnection, pool_size: int = 4) -> None:
        self._connection = connection
        self._pool = ConnectionPool(
            kwargs={**pg_conninfo(connection), "autocommit": True},
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

    def want(self, name: str) -> None:
        # Channels are database-wide: the payload names this store's schema and the model.
        payload = f"{self._connection.schema or 'public'}:{name}"
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (WANTED_CHANNEL, payload))

    def close(self) -> None:
        self._pool.close()
