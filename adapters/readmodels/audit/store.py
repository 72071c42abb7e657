"""The audit read model: the trail's entries and hash chain kept in tables, and verify.

Tables (:mod:`adapters.readmodels.audit.tables`; ``<prefix>`` is ``audit_g<generation>_``):

* ``<prefix>entries``: one row per stored event, keyed by its log position, with the chain
  hash (``hash``, and ``prev_hash`` for whoever reads a row alone) and every field of
  :class:`~projections.audit.trail.AuditEntry`; instants are integer microseconds (UTC). Indexed
  for each filter of :func:`audit_events`, with the position second so that a filtered page
  is read in order.
* ``<prefix>patients``: aggregate id → patient_ref, from each creation event, so later
  events (and attempts aimed at the aggregate) inherit the patient. Cached in memory.
* ``<prefix>entry_patients``: one row per patient an entry is about (an access may name
  several), for the ``patientRef`` filter and the accounting of disclosures.

The model wants every topic: the chain covers the whole stored log, idempotency bookkeeping
(``CommandRecord``) included, or removing such a row would go unnoticed. Each batch reads the
last entry (one query) for the previous hash and the position already chained, skips records
at or below it (a redelivered batch changes nothing) and appends with ``insert_rows`` (COPY on
PostgreSQL).

The trail's queries (:func:`audit_events`, :func:`audit_entry`, :func:`iter_audit_events`)
are in :mod:`adapters.readmodels.audit.queries`, re-exported here; :func:`verify` stays here, where
the CLI looks it up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from itertools import islice
from typing import Any
from uuid import UUID

from adapters.readmodels.audit.queries import (
    AuditFilters,
    AuditPage,
    ChainedEntry,
    audit_entry,
    audit_events,
    iter_audit_events,
)
from adapters.readmodels.audit.tables import DDL, ENTRY_COLUMNS, NAME, PATIENT_LINK_COLUMNS
from adapters.readmodels.base import LogReader
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.tracking import active_position, parked_records, table_prefix
from projections.audit.trail import (
    GENESIS_HASH,
    ChainLink,
    LinkRow,
    LogRow,
    PatientLink,
    VerifyResult,
    chained_rows,
    derive_rows,
    state_bytes,
    verify_rows,
)
from projections.shared.records import StoredRecord

#: The queries live in their own module; re-exported as the read model's one entry point.
__all__ = [
    "ENTRY_COLUMNS", "NAME", "PATIENT_REFS_CACHED", "VERIFY_BATCH", "AuditFilters",
    "AuditPage", "AuditReadModel", "ChainedEntry", "audit_entry", "audit_events", "chain_head",
    "iter_audit_events", "verify",
]  # fmt: skip

#: Patient refs kept in memory (aggregate id → ref, or None for "has none"); beyond it the
#: oldest quarter is dropped and read again from the table when needed.
PATIENT_REFS_CACHED = 200_000
#: Rows per query when verify streams the log and the chain (memory stays bounded).
VERIFY_BATCH = 5000

#: IN lists are padded to these sizes, so a handful of statements are prepared, not one
#: per batch size.
_LOOKUP_SIZES = (1, 8, 64, 512)


class AuditReadModel:
    name = NAME

    def __init__(self) -> None:
        self._refs: dict[str, str | None] = {}

    def wants(self, topic: str) -> bool:
        return True

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        for statement in DDL:
            tx.execute(statement.format(p=prefix))

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("entries", "patients", "entry_patients"):
            tx.execute(f"DROP TABLE IF EXISTS {prefix}{table}")

    def reset(self) -> None:
        self._refs.clear()

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        head = chain_head(tx, prefix)
        last_position, previous = (head.position, head.hash) if head else (0, GENESIS_HASH)
        records = [r for r in records if r.position > last_position]
        if not records:
            return
        links: list[PatientLink] = []
        rows, new_refs = derive_rows(
            records, lambda keys: self._patient_refs(tx, prefix, keys), links
        )
        # Lazy: on PostgreSQL each row is sent as it is made, so the server inserts and
        # indexes while the next rows are derived and hashed (filling ``links`` as it goes).
        tx.insert_rows(f"{prefix}entries", ENTRY_COLUMNS, chained_rows(rows, records, previous))
        tx.insert_rows(f"{prefix}entry_patients", PATIENT_LINK_COLUMNS, links)
        tx.insert_rows(f"{prefix}patients", ("aggregate_id", "patient_ref"), new_refs.items())
        self._remember(new_refs)

    # ---- patient refs ----------------------------------------------------------------
    def _patient_refs(
        self, tx: Transaction, prefix: str, keys: Collection[str]
    ) -> dict[str, str | None]:
        found = {key: self._refs[key] for key in keys if key in self._refs}
        missing = [key for key in keys if key not in self._refs]
        while missing:
            chunk, missing = missing[: _LOOKUP_SIZES[-1]], missing[_LOOKUP_SIZES[-1] :]
            size = next(n for n in _LOOKUP_SIZES if n >= len(chunk))
            padded = chunk + [chunk[-1]] * (size - len(chunk))
            marks = ", ".join("?" for _ in padded)
            rows = tx.execute(
                f"SELECT aggregate_id, patient_ref FROM {prefix}patients"
                f" WHERE aggregate_id IN ({marks})",
                padded,
            )
            known = dict(rows)
            for key in chunk:
                found[key] = known.get(key)
            self._remember({key: known.get(key) for key in chunk})
        return found

    def _remember(self, refs: dict[str, Any]) -> None:
        if len(self._refs) + len(refs) > PATIENT_REFS_CACHED:
            for key in list(islice(self._refs, PATIENT_REFS_CACHED // 4)):
                del self._refs[key]
        self._refs.update(refs)


def chain_head(tx: Transaction, prefix: str) -> ChainLink | None:
    rows = tx.execute(f"SELECT position, hash FROM {prefix}entries ORDER BY position DESC LIMIT 1")
    return ChainLink(*rows[0]) if rows else None


# ---- verify -------------------------------------------------------------------------------
# The id as its 16 bytes and the topic as UTF-8, as the chain hashes them: no object per row.
_LOG_QUERIES = {
    "postgres": "SELECT notification_id, uuid_send(originator_id), originator_version,"
    " convert_to(topic, 'UTF8'), state"
    " FROM patient_services_events WHERE notification_id > ? AND notification_id <= ?"
    " ORDER BY notification_id LIMIT ?",
    "sqlite": "SELECT rowid, originator_id, originator_version, CAST(topic AS BLOB), state"
    " FROM events.stored_events WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?",
}


def verify(database: ReadDatabase, batch_size: int = VERIFY_BATCH) -> VerifyResult:
    """Recompute the active generation's hash chain from the stored log and compare.

    Reads one snapshot (REPEATABLE READ on PostgreSQL; SQLite's read transaction is one),
    streaming the log and the chain in batches of ``batch_size``."""
    with database.read() as tx:
        if tx.dialect == "postgres":
            tx.cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        tracked = active_position(tx, NAME)
        prefix = table_prefix(NAME, tracked.generation)
        head = chain_head(tx, prefix)
        # Every record is chained, so the chain ends at the tracked position: log rows up to
        # it that the chain lacks mean a forged row, or a chain whose tail was cut off.
        up_to = max(tracked.position, head.position if head else 0)
        parked = {r.position for r in parked_records(tx, NAME, tracked.generation, limit=None)}
        return verify_rows(
            _log_rows(tx, up_to, batch_size),
            _chain_links(tx, prefix, batch_size),
            head=head,
            chained_up_to=up_to,
            parked=parked,
        )


def _log_rows(tx: Transaction, up_to: int, batch_size: int) -> Iterator[LogRow]:
    statement = _LOG_QUERIES[tx.dialect]
    after = 0
    while True:
        rows = tx.execute(statement, (after, up_to, batch_size), binary=True)
        if tx.dialect == "postgres":
            yield from rows  # the query's columns are a LogRow's
        else:
            for position, originator_id, version, topic, state in rows:
                yield position, _id_bytes(originator_id), version, topic, state_bytes(state)
        if len(rows) < batch_size:
            return
        after = rows[-1][0]


def _id_bytes(stored: Any) -> bytes:
    """SQLite keeps the id as 32 hex digits (any other text a UUID takes is read too)."""
    if isinstance(stored, str) and len(stored) == 32:
        return bytes.fromhex(stored)
    return stored.bytes if isinstance(stored, UUID) else UUID(str(stored)).bytes


def _chain_links(tx: Transaction, prefix: str, batch_size: int) -> Iterator[LinkRow]:
    after = 0
    while True:
        rows = tx.execute(
            f"SELECT position, hash FROM {prefix}entries WHERE position > ?"
            " ORDER BY position LIMIT ?",
            (after, batch_size),
            binary=True,
        )
        yield from rows  # (position, hash)
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
