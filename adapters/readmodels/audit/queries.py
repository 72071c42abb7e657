"""The audit trail's queries: filtered pages of entries, oldest or newest first, one entry by
its position with its chain hashes, and every entry for an export.

Each filter of :class:`AuditFilters` has its own index (``adapters.readmodels.audit.tables``)
with the position second, so a filtered page is an index range read in order, either way,
however large the trail is. The patient filter reads ``entry_patients`` (one row per patient
an entry is about) and joins the entries to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from adapters.readmodels.audit.tables import ATTEMPT_PREDICATE, ENTRY_COLUMNS, NAME
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.tracking import active_position, table_prefix
from projections.audit.entries import (
    ATTEMPT_OUTCOMES,
    BOOKKEEPING_TYPES,
    ENTRY_FIELDS,
    AuditEntry,
    entry_from_row,
)

#: What the queries select of an entry (the entries table is aliased ``e``): every column by
#: name, so that tables an older release built (fewer columns) keep answering the queries
#: they can while the healing job rebuilds them (see :func:`entries_of`).
SELECTED = "e.*"
_DEFAULTS = {f.name: f.default for f in msgspec.structs.fields(AuditEntry)}


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the trail; all given ones must hold.

    ``recorded_from``/``recorded_to`` bound ``recorded_at`` (when the system stored the event,
    not the business time ``occurred_at``, which may be back-dated), as microseconds since
    the epoch: from inclusive, to exclusive. Idempotency bookkeeping (``CommandRecord``) is
    left out unless ``include_bookkeeping``. ``patient_ref`` finds every entry about the
    patient, an access that returned several patients included.
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
    #: ``access`` or ``change``.
    kind: str | None = None
    purpose_of_use: str | None = None
    source_system: str | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        """The clauses on the entries table (aliased ``e``) and their parameters; the patient
        filter is the join of :func:`audit_events`, not a clause here."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.aggregate_id is not None:
            # The aggregate's own events, and the attempts refused or denied on it.
            clauses.append("(e.aggregate_id = ? OR e.target_id = ?)")
            params.extend([self.aggregate_id, self.aggregate_id])
        for column, value in (
            ("actor_id", self.actor_id),
            ("action", self.action),
            ("outcome", self.outcome),
            ("kind", self.kind),
            ("purpose_of_use", self.purpose_of_use),
            ("source_system", self.source_system),
        ):
            if value is not None:
                clauses.append(f"e.{column} = ?")
                params.append(value)
        if self.outcome in ATTEMPT_OUTCOMES:
            clauses.append(f"e.{ATTEMPT_PREDICATE}")  # lets the partial index serve it
        if self.recorded_from is not None:
            clauses.append("e.recorded_at >= ?")
            params.append(self.recorded_from)
        if self.recorded_to is not None:
            clauses.append("e.recorded_at < ?")
            params.append(self.recorded_to)
        if self.before_position is not None:
            clauses.append("e.position < ?")
            params.append(self.before_position)
        if not self.include_bookkeeping:
            for aggregate_type in sorted(BOOKKEEPING_TYPES):
                clauses.append("e.aggregate_type <> ?")
                params.append(aggregate_type)
        return clauses, params


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    #: The position of the page's last entry when more may follow, else None.
    next_after: int | None


def audit_events(
    tx: Transaction,
    prefix: str,
    filters: AuditFilters,
    after: int | None,
    limit: int,
    *,
    descending: bool = False,
) -> AuditPage:
    """Entries matching ``filters`` after position ``after``, oldest first, at most ``limit``;
    or, ``descending``, newest first before position ``after`` (None: from the newest)."""
    clauses, params = filters.where()
    source = f"{prefix}entries e"
    # The position bound goes on the table the page is read in order from.
    position = "e.position"
    if filters.patient_ref is not None:
        source = f"{prefix}entry_patients l JOIN {prefix}entries e ON e.position = l.position"
        position = "l.position"
        clauses.insert(0, "l.patient_ref = ?")
        params.insert(0, filters.patient_ref)
    if descending:
        if after is not None:
            clauses.append(f"{position} < ?")
            params.append(after)
    else:
        clauses.append(f"{position} > ?")
        params.append(after or 0)
    rows = tx.execute(
        f"SELECT {SELECTED} FROM {source} WHERE {' AND '.join(clauses) or 'TRUE'}"
        f" ORDER BY {position}{' DESC' if descending else ''} LIMIT ?",
        (*params, limit + 1),
    )
    entries = entries_of(tx, rows[:limit])
    more = len(rows) > limit
    return AuditPage(entries, entries[-1].position if more and entries else None)


def entries_of(tx: Transaction, rows: list[tuple[Any, ...]]) -> list[AuditEntry]:
    """The entries of rows just selected with :data:`SELECTED`. Rows of this release's tables
    are in :data:`ENTRY_COLUMNS` order; an older generation's lack the newer fields, which get
    their defaults until the rebuild fills them."""
    names = tuple(column[0] for column in tx.cursor.description or ())
    if not rows or names == ENTRY_COLUMNS:
        return [entry_from_row(row) for row in rows]
    return [entry_from_row([named.get(f, _DEFAULTS[f]) for f in ENTRY_FIELDS])
            for named in (dict(zip(names, row, strict=True)) for row in rows)]  # fmt: skip


@dataclass(frozen=True)
class ChainedEntry:
    """One entry with the chain's hashes: its own and the one before it."""

    entry: AuditEntry
    hash: str
    prev_hash: str


def audit_entry(tx: Transaction, prefix: str, position: int) -> ChainedEntry | None:
    """The entry at ``position``, if the trail has chained one there."""
    rows = tx.execute(f"SELECT {SELECTED} FROM {prefix}entries e WHERE e.position = ?", (position,))
    if not rows:
        return None
    names = [column[0] for column in tx.cursor.description]
    row = rows[0]
    hashes = row[names.index("hash")], row[names.index("prev_hash")]
    return ChainedEntry(entries_of(tx, rows)[0], *hashes)


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
