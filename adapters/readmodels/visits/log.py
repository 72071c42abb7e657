"""The stored records of a few visits as known at a time, read inside a query's own
transaction (the read-model connection sees the events table: the same schema on PostgreSQL,
the attached ``events`` database on SQLite), so an as-of answer folds exactly the log its read
model had read.

One statement per answer whatever the number of visits: for each visit, the events table's
primary key (originator id, version) up to the first version the flow model's timeline says
was recorded after the time asked about. The cost grows with the visits folded and their
events, never with the length of the log.
"""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

import msgspec

from adapters.readmodels.database import Transaction
from adapters.storage import APPLICATION_NAME
from projections.shared.records import StoredRecord

#: Beyond every version and every instant (the stores' columns are signed 64-bit).
_BEYOND = 2**63 - 1


def _postgres(prefix: str) -> str:
    # Per visit (LATERAL, kept apart by OFFSET 0): an index range of the visit's records,
    # whatever the planner thinks of the table (a join could read the log from its start).
    # The position bound is applied to the rows, not here, for the same reason.
    return (
        "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
        " FROM unnest(CAST(string_to_array(%s, ',') AS uuid[])) AS v(id)"
        " CROSS JOIN LATERAL (SELECT notification_id, originator_id, originator_version,"
        f" topic, state FROM {APPLICATION_NAME}_events WHERE originator_id = v.id"
        " AND originator_version < COALESCE((SELECT min(t.version) FROM"
        f" {prefix}timeline t WHERE t.visit_id = CAST(v.id AS text) AND t.recorded_at > %s),"
        f" {_BEYOND}) ORDER BY originator_version OFFSET 0) e"
    )


def _sqlite(prefix: str) -> str:
    return (
        "SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state"
        " FROM json_each(?) AS v JOIN events.stored_events e ON e.originator_id = v.key"
        " WHERE e.originator_version < COALESCE((SELECT min(t.version) FROM"
        f" {prefix}timeline t WHERE t.visit_id = v.value AND t.recorded_at > ?), {_BEYOND})"
        " ORDER BY e.originator_id, e.originator_version"
    )


def visit_records(
    tx: Transaction,
    prefix: str,
    visit_ids: Collection[str],
    through: int,
    known_at: int | None = None,
) -> dict[str, list[StoredRecord]]:
    """Each visit's records at positions up to ``through``, in version order, by the visit's
    id (canonical text), up to the first one recorded after ``known_at`` (µs; None: all):
    the flow model's timeline (``prefix``) holds each record's recorded time. A visit with
    none is left out."""
    if not visit_ids:
        return {}
    known = _BEYOND if known_at is None else known_at
    found: dict[str, list[StoredRecord]] = {}
    if tx.dialect == "postgres":
        # JIT compiling takes hundreds of milliseconds for a statement that runs in ten.
        tx.cursor.execute("SET LOCAL jit = off")
        # A binary cursor in the query's transaction: several times faster for bytea and uuid.
        with tx.cursor.connection.cursor(binary=True) as cursor:
            cursor.execute(_postgres(prefix), (",".join(visit_ids), known), prepare=True)
            rows = cursor.fetchall()
        last, records = None, []
        for position, originator, version, topic, state in rows:  # grouped by visit
            if originator != last:
                last, records = originator, found.setdefault(str(originator), [])
            if position <= through:
                records.append(StoredRecord(position, originator, version, topic, state))
        return {visit: records for visit, records in found.items() if records}
    # The library stores UUIDs as 32 hex digits on SQLite.
    ids = msgspec.json.encode({UUID(visit_id).hex: visit_id for visit_id in visit_ids}).decode()
    for position, originator, version, topic, state in tx.execute(_sqlite(prefix), (ids, known)):
        if position <= through:
            visit = UUID(originator)
            found.setdefault(str(visit), []).append(
                StoredRecord(position, visit, version, topic, state)
            )
    return found
