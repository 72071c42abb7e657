"""The PostgreSQL application recorder, extended with :meth:`position_of` and the
aggregates' snapshots (one row per aggregate, kept by :mod:`adapters.snapshots`).

Selected with ``APPLICATION_RECORDER_TOPIC=adapters.postgres.recorder:PostgresEventRecorder``
(see :func:`adapters.storage.eventsourcing_env`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from adapters.postgres.channels import events_channel


class PostgresEventRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # The library names the channel after the table, the same in every schema: the
        # read-model workers of every store in the database would wake for each insert.
        self.channel_name = events_channel(self.datastore.schema or "public")
        # Four plain arrays in binary, not the library's one array of a composite type: that
        # is sent as text, every field of every event escaped by regular expressions, which
        # took about a third of this process's time per event saved (cProfile of a save of
        # 5,000 access records). unnest keeps the arrays' order, so RETURNING gives the
        # positions in the events' order, as the library's statement does.
        self._insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::int8[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=SQL(self.datastore.originator_id_type),  # "uuid" or "text", checked
        )
        # The primary key (originator_id, originator_version) makes this one index lookup.
        self._select_position_statement = SQL(
            "SELECT notification_id FROM {schema}.{table} "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )

        # Not the library's snapshot table (``<app>_snapshots``, one row per snapshot taken):
        # one row per aggregate, replaced as the aggregate grows or the code changes.
        self.snapshots_table_name = (
            self.events_table_name.removesuffix("_events") + "_state_snapshots"
        )
        table = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.snapshots_table_name)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {table} (aggregate_id {id_type} PRIMARY KEY, "
                "version bigint NOT NULL, code text NOT NULL, state bytea NOT NULL)"
            ).format(table=table, id_type=SQL(self.datastore.originator_id_type))
        )
        self._select_snapshot_statement = SQL(
            "SELECT version, code, state FROM {table} WHERE aggregate_id = %s"
        ).format(table=table)
        self._upsert_snapshot_statement = SQL(
            "INSERT INTO {table} AS kept (aggregate_id, version, code, state) "
            "VALUES (%s, %s, %s, %b) ON CONFLICT (aggregate_id) DO UPDATE SET "
            "version = excluded.version, code = excluded.code, state = excluded.state "
            "WHERE excluded.version > kept.version OR excluded.code <> kept.code"
        ).format(table=table)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert in ONE round trip: BEGIN, LOCK TABLE, NOTIFY, INSERT …
        RETURNING and COMMIT are queued in the pipeline and sent together.

        The library syncs after the INSERT and sends COMMIT in a second round trip, so the
        table lock (which serialises every writer) is held while this process reads the
        reply; under load the thread may wait for the GIL first. Here the lock is held only
        while the server runs the statements. A conflict still raises IntegrityError: the
        failed INSERT aborts the queued COMMIT and the error surfaces at the sync.
        """
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn:
            with conn.pipeline(), conn.transaction():
                with conn.cursor() as curs:
                    self._insert_events(curs, stored_events, **kwargs)
                insert_cursor = conn.cursor()
                self._insert_stored_events(insert_cursor, stored_events, **kwargs)
            # Leaving the pipeline synced it: the INSERT's rows are in.
            return self._fetch_ids_after_insert_events(insert_cursor, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        # What the library's application recorder does (lock the table, notify the
        # channel, insert), with the insert above.
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_arrays_statement,
            (
                [event.originator_id for event in stored_events],
                [event.originator_version for event in stored_events],
                [event.topic for event in stored_events],
                [event.state for event in stored_events],
            ),
        )

    # Retried like the library's own reads: a dropped pooled connection is not an answer.
    # Few attempts, because the caller is usually a request waiting for its reply.
    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id (global position) of one stored event, or None if absent."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._select_position_statement, (self._key(originator_id), version), prepare=True
            )
            row = curs.fetchone()
        return None if row is None else row["notification_id"]

    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def select_snapshot(self, aggregate_id: UUID) -> tuple[int, str, bytes] | None:
        """The aggregate's snapshot row: ``(version, code fingerprint, state)``."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_snapshot_statement, (self._key(aggregate_id),), prepare=True)
            row = curs.fetchone()
        return None if row is None else (row["version"], row["code"], bytes(row["state"]))

    def upsert_snapshot(self, aggregate_id: UUID, version: int, code: str, state: bytes) -> None:
        """Keep this snapshot unless a newer one of the same code is kept already."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(
                self._upsert_snapshot_statement, (self._key(aggregate_id), version, code, state),
                prepare=True,
            )  # fmt: skip

    def _key(self, originator_id: UUID) -> UUID | str:
        return originator_id if self.datastore.originator_id_type == "uuid" else str(originator_id)
