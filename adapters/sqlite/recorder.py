"""The SQLite application recorder, extended with :meth:`position_of` and the aggregates'
snapshots (one row per aggregate, kept by :mod:`adapters.snapshots`).

Selected with ``APPLICATION_RECORDER_TOPIC=adapters.sqlite.recorder:SQLiteEventRecorder``
(see :func:`adapters.storage.eventsourcing_env`).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

SNAPSHOTS_TABLE = "aggregate_snapshots"


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        # SQLite's rowid is the notification id here; the primary key's index on
        # (originator_id, originator_version) makes this one lookup.
        self._select_position_statement = (
            f"SELECT rowid FROM {self.events_table_name} "
            "WHERE originator_id=? AND originator_version=?"
        )
        self.create_table_statements.append(
            f"CREATE TABLE IF NOT EXISTS {SNAPSHOTS_TABLE} (aggregate_id TEXT PRIMARY KEY, "
            "version INTEGER NOT NULL, code TEXT NOT NULL, state BLOB NOT NULL) WITHOUT ROWID"
        )

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id (global position) of one stored event, or None if absent."""
        # The library stores UUIDs as 32-digit hex (no dashes): match its encoding.
        key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_position_statement, (key, version))
            row = c.fetchone()
        return None if row is None else row[0]

    def select_snapshot(self, aggregate_id: UUID) -> tuple[int, str, bytes] | None:
        """The aggregate's snapshot row: ``(version, code fingerprint, state)``."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT version, code, state FROM {SNAPSHOTS_TABLE} WHERE aggregate_id=?",
                (aggregate_id.hex,),
            )
            row = c.fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    def upsert_snapshot(self, aggregate_id: UUID, version: int, code: str, state: bytes) -> None:
        """Keep this snapshot unless a newer one of the same code is kept already."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {SNAPSHOTS_TABLE} (aggregate_id, version, code, state) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (aggregate_id) DO UPDATE SET "
                "version=excluded.version, code=excluded.code, state=excluded.state "
                f"WHERE excluded.version > {SNAPSHOTS_TABLE}.version "
                f"OR excluded.code <> {SNAPSHOTS_TABLE}.code",
                (aggregate_id.hex, version, code, state),
            )
