"""The audit read model: the trail's entries and hash chain in tables, its queries, verify.

Tables (``<prefix>`` is ``audit_g<generation>_``):

* ``<prefix>entries``: one row per stored event, keyed by its log position, with the chain
  hash (``hash``, and ``prev_hash`` for whoever reads a row alone) and every field of
  :class:`~projections.audit.trail.AuditEntry`; instants are integer microseconds (UTC). Indexed
  for each filter of :func:`audit_events`, with the position second so that a filtered page
  is read in order.
* ``<prefix>patients``: aggregate id → patient_ref, from each creation event, so later
  events (and attempts aimed at the aggregate) inherit the patient. Cached in memory.

The model wants every topic: the chain covers the whole stored log, idempotency bookkeeping
(``CommandRecord``) included, or removing such a row would go unnoticed. Each batch reads the
last entry (one query) for the previous hash and the position already chained, skips records
at or below it (a redelivered batch changes nothing) and appends with ``insert_rows`` (COPY on
PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import UUID

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.tracking import active_position, parked_records, table_prefix
from projections.audit.trail import (
    BOOKKEEPING_TYPES,
    ENTRY_FIELDS,
    GENESIS_HASH,
    RECORDED,
    TIME_FIELDS,
    AuditEntry,
    ChainLink,
    VerifyResult,
    chained_rows,
    derive_rows,
    entry_from_row,
    verify_chain,
)
from projections.shared.records import StoredRecord

NAME = "audit"
#: Patient refs kept in memory (aggregate id → ref, or None for "has none"); beyond it the
#: oldest quarter is dropped and read again from the table when needed.
PATIENT_REFS_CACHED = 200_000
#: Rows per query when verify streams the log and the chain (memory stays bounded).
VERIFY_BATCH = 5000

ENTRY_COLUMNS = (*ENTRY_FIELDS, "hash", "prev_hash")
_INTEGER_COLUMNS = frozenset({"position", "version", *TIME_FIELDS})
_REQUIRED = frozenset({"aggregate_type", "aggregate_id", "version", "action", "outcome"})


def _column(name: str) -> str:
    if name == "position":
        return "position BIGINT PRIMARY KEY"
    kind = "BIGINT" if name in _INTEGER_COLUMNS else "TEXT"
    return f"{name} {kind}{' NOT NULL' if name in _REQUIRED else ''}"


_DDL = (
    "CREATE TABLE IF NOT EXISTS {p}entries ("
    + ", ".join(_column(name) for name in ENTRY_FIELDS)
    + ", hash TEXT NOT NULL, prev_hash TEXT NOT NULL)",
    # One index per filter of audit_events, position second, so a filtered page is an index
    # range read in order however large the trail is.
    "CREATE INDEX IF NOT EXISTS {p}entries_patient ON {p}entries (patient_ref, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_actor ON {p}entries (actor_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_aggregate ON {p}entries (aggregate_id, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_target ON {p}entries (target_id, position)"
    " WHERE target_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS {p}entries_action ON {p}entries (action, position)",
    "CREATE INDEX IF NOT EXISTS {p}entries_recorded ON {p}entries (recorded_at, position)",
    # Attempts are few among recorded facts: a partial index finds them without costing
    # every insert (queries for them repeat its predicate, see AuditFilters.where).
    "CREATE INDEX IF NOT EXISTS {p}entries_attempts ON {p}entries (outcome, position)"
    f" WHERE outcome <> '{RECORDED}'",
    "CREATE TABLE IF NOT EXISTS {p}patients ("
    " aggregate_id TEXT PRIMARY KEY, patient_ref TEXT NOT NULL)",
)

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
        for statement in _DDL:
            tx.execute(statement.format(p=prefix))

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("entries", "patients"):
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
        rows, new_refs = derive_rows(records, lambda keys: self._patient_refs(tx, prefix, keys))
        # Lazy: on PostgreSQL each row is sent as it is made, so the server inserts and
        # indexes while the next rows are derived and hashed.
        tx.insert_rows(f"{prefix}entries", ENTRY_COLUMNS, chained_rows(rows, records, previous))
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


# ---- the trail ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilters:
    """Filters of the trail; all given ones must hold.

    ``recorded_from``/``recorded_to`` bound ``recorded_at`` (when the system stored the event,
    not the business time ``occurred_at``, which may be back-dated), as microseconds since
    the epoch: from inclusive, to exclusive. Idempotency bookkeeping (``CommandRecord``) is
    left out unless ``include_bookkeeping``.
    """

    patient_ref: str | None = None
    actor_id: str | None = None
    aggregate_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    recorded_from: int | None = None
    recorded_to: int | None = None
    include_bookkeeping: bool = False
    #: Only entries before this log position (an export stops before its own record).
    before_position: int | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.aggregate_id is not None:
            # The aggregate's own events, and the attempts refused or denied on it.
            clauses.append("(aggregate_id = ? OR target_id = ?)")
            params.extend([self.aggregate_id, self.aggregate_id])
        for column, value in (
            ("patient_ref", self.patient_ref),
            ("actor_id", self.actor_id),
            ("action", self.action),
            ("outcome", self.outcome),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.outcome is not None and self.outcome != RECORDED:
            clauses.append(f"outcome <> '{RECORDED}'")  # lets the partial index serve it
        if self.recorded_from is not None:
            clauses.append("recorded_at >= ?")
            params.append(self.recorded_from)
        if self.recorded_to is not None:
            clauses.append("recorded_at < ?")
            params.append(self.recorded_to)
        if self.before_position is not None:
            clauses.append("position < ?")
            params.append(self.before_position)
        if not self.include_bookkeeping:
            for aggregate_type in sorted(BOOKKEEPING_TYPES):
                clauses.append("aggregate_type <> ?")
                params.append(aggregate_type)
        return clauses, params


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    #: The position of the page's last entry when more may follow, else None.
    next_after: int | None


def audit_events(
    tx: Transaction, prefix: str, filters: AuditFilters, after: int | None, limit: int
) -> AuditPage:
    """Entries matching ``filters`` after position ``after``, oldest first, at most ``limit``."""
    clauses, params = filters.where()
    clauses.insert(0, "position > ?")
    params.insert(0, after or 0)
    rows = tx.execute(
        f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {prefix}entries"
        f" WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ?",
        (*params, limit + 1),
    )
    entries = [entry_from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(entries, entries[-1].position if more and entries else None)


def iter_audit_events(
    database: ReadDatabase, filters: AuditFilters, page_size: int = 1000
) -> Iterator[AuditEntry]:
    """Every matching entry of the active generation, page by page (for exports): each page
    is its own short read, so a long export holds no transaction open."""
    after: int | None = 0
    while after is not None:
        with database.read() as tx:
            prefix = table_prefix(NAME, active_position(tx, NAME).generation)
            page = audit_events(tx, prefix, filters, after, page_size)
        yield from page.entries
        after = page.next_after


# ---- verify -------------------------------------------------------------------------------
_LOG_QUERIES = {
    "postgres": "SELECT notification_id, originator_id, originator_version, topic, state"
    " FROM patient_services_events WHERE notification_id > ? AND notification_id <= ?"
    " ORDER BY notification_id LIMIT ?",
    "sqlite": "SELECT rowid, originator_id, originator_version, topic, state"
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
        return verify_chain(
            _log_rows(tx, up_to, batch_size),
            _chain_links(tx, prefix, batch_size),
            head=head,
            chained_up_to=up_to,
            parked=parked,
        )


def _log_rows(tx: Transaction, up_to: int, batch_size: int) -> Iterator[StoredRecord]:
    statement = _LOG_QUERIES[tx.dialect]
    after = 0
    while True:
        rows = tx.execute(statement, (after, up_to, batch_size))
        for position, originator_id, version, topic, state in rows:
            if not isinstance(originator_id, UUID):
                originator_id = UUID(originator_id)  # SQLite: 32 hex digits
            yield StoredRecord(position, originator_id, version, topic, state)
        if len(rows) < batch_size:
            return
        after = rows[-1][0]


def _chain_links(tx: Transaction, prefix: str, batch_size: int) -> Iterator[ChainLink]:
    after = 0
    while True:
        rows = tx.execute(
            f"SELECT position, hash FROM {prefix}entries WHERE position > ?"
            " ORDER BY position LIMIT ?",
            (after, batch_size),
        )
        for position, entry_hash in rows:
            yield ChainLink(position, entry_hash)
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
