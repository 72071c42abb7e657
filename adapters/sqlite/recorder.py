"""The SQLite application recorder, extended with :meth:`position_of`.

Selected with ``APPLICATION_RECORDER_TOPIC=adapters.sqlite.recorder:SQLiteEventRecorder``
(see :func:`adapters.storage.eventsourcing_env`).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


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

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id (global position) of one stored event, or None if absent."""
        # The library stores UUIDs as 32-digit hex (no dashes): match its encoding.
        key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_position_statement, (key, version))
            row = c.fetchone()
        return None if row is None else row[0]
