"""The audit trail's queries: filtered pages of entries, oldest first, and every entry for
an export.

Each filter of :class:`AuditFilters` has its own index (``adapters.readmodels.audit.tables``)
with the position second, so a filtered page is an index range read in order however large
the trail is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from adapters.readmodels.audit.tables import ENTRY_COLUMNS, NAME
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.tracking import active_position, table_prefix
from projections.audit.entries import BOOKKEEPING_TYPES, RECORDED, AuditEntry, entry_from_row


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
