"""The accounting of disclosures of one patient's data (HIPAA 164.528), from the trail.

A disclosure is every read of the patient's data (an ``AccessRecord`` that returned them, or
asked for them by ``patientRef``) and every export of the trail that held their entries:

* ``named``: the read or the export names the patient (found through ``entry_patients``);
* ``unfilteredExport``: an export not filtered by patient discloses every patient whose
  entries it held. It is listed for a patient with at least one entry recorded before the
  export and inside the export's ``from``/``to`` (whatever its other filters: it *could*
  have held them, and an accounting must not leave a disclosure out).

Denied reads are not disclosures (nothing was returned). Oldest first (log position), and
``occurred_from``/``occurred_to`` bound when the read or export happened (``occurredAt``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from adapters.readmodels.audit.queries import SELECTED, entries_of
from adapters.readmodels.audit.tables import NAME
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.tracking import active_position, table_prefix
from projections.audit.entries import ACCESS_TYPE, EXPORT_TYPE, AuditEntry
from projections.shared.records import to_micros

NAMED = "named"
UNFILTERED_EXPORT = "unfilteredExport"
#: The export entries' action (the event's class name).
_EXPORTED = "Exported"


class Disclosure(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One disclosure: who, when, what and why (identifiers only; camelCase in JSON)."""

    #: The trail entry's log position (``GET /audit/events/{position}`` shows it whole).
    position: int
    #: The patient accounted for (the query's ``patientRef``).
    patient_ref: str
    #: ``named`` (the read or export names the patient) or ``unfilteredExport``.
    basis: str
    occurred_at: datetime | None
    recorded_at: datetime | None
    actor_id: str | None
    #: The roles the actor's token held (an export: the role it acted in).
    actor_roles: list[str]
    on_behalf_of: str | None
    #: ``read visit``, ``read board``…, or ``Exported`` for an export of the trail.
    action: str
    #: The read's route template (null for an export).
    route: str | None
    #: The records the read returned (visit ids and the like); null for an export.
    record_ids: list[str] | None
    #: How many records the read returned (null for an export, or when not counted).
    result_count: int | None
    #: The read's query parameters, or the export's filters.
    query: dict[str, str] | None
    #: An export's format.
    format: str | None
    purpose_of_use: str | None
    correlation_id: str | None

    @classmethod
    def of(cls, entry: AuditEntry, patient_ref: str, basis: str) -> Disclosure:
        return cls(
            position=entry.position, patient_ref=patient_ref, basis=basis,
            occurred_at=entry.occurred_at, recorded_at=entry.recorded_at, actor_id=entry.actor_id,
            actor_roles=[r for r in (entry.actor_role or "").split(",") if r],
            on_behalf_of=entry.on_behalf_of, action=entry.action, route=entry.route,
            record_ids=entry.record_ids, result_count=entry.result_count, query=entry.query,
            format=entry.format, purpose_of_use=entry.purpose_of_use,
            correlation_id=entry.correlation_id,
        )  # fmt: skip


@dataclass(frozen=True)
class DisclosurePeriod:
    patient_ref: str
    #: Microseconds since the epoch: from inclusive, to exclusive (``occurred_at``).
    occurred_from: int | None = None
    occurred_to: int | None = None

    def clauses(self) -> tuple[list[str], list[Any]]:
        clauses, params = [], []
        if self.occurred_from is not None:
            clauses.append("e.occurred_at >= ?")
            params.append(self.occurred_from)
        if self.occurred_to is not None:
            clauses.append("e.occurred_at < ?")
            params.append(self.occurred_to)
        return clauses, params


@dataclass(frozen=True)
class DisclosurePage:
    items: list[Disclosure]
    #: The position of the page's last item when more may follow, else None.
    next_after: int | None


def disclosures(
    tx: Transaction, prefix: str, period: DisclosurePeriod, after: int | None, limit: int
) -> DisclosurePage:
    """The patient's disclosures after position ``after``, oldest first, at most ``limit``."""
    after = after or 0
    named = _named(tx, prefix, period, after, limit + 1)
    # Only exports before the first named item a page cannot hold can be on this page.
    before = named[limit].position if len(named) > limit else None
    exports = _unfiltered_exports(tx, prefix, period, after, before, limit + 1)
    merged = sorted(
        [Disclosure.of(e, period.patient_ref, NAMED) for e in named]
        + [Disclosure.of(e, period.patient_ref, UNFILTERED_EXPORT) for e in exports],
        key=lambda d: d.position,
    )
    items = merged[:limit]
    more = len(merged) > limit
    return DisclosurePage(items, items[-1].position if more and items else None)


def iter_disclosures(
    database: ReadDatabase, period: DisclosurePeriod, page_size: int = 1000
) -> Iterator[Disclosure]:
    """Every disclosure in the period, page by page, each page its own short read (for CSV)."""
    after: int | None = 0
    while after is not None:
        with database.read() as tx:
            prefix = table_prefix(NAME, active_position(tx, NAME).generation)
            page = disclosures(tx, prefix, period, after, page_size)
        yield from page.items
        after = page.next_after


def _named(
    tx: Transaction, prefix: str, period: DisclosurePeriod, after: int, count: int
) -> list[AuditEntry]:
    clauses, params = period.clauses()
    rows = tx.execute(
        f"SELECT {SELECTED} FROM {prefix}entry_patients l"
        f" JOIN {prefix}entries e ON e.position = l.position"
        " WHERE l.patient_ref = ? AND l.position > ? AND e.aggregate_type IN (?, ?)"
        + "".join(f" AND {c}" for c in clauses)
        + " ORDER BY l.position LIMIT ?",
        (period.patient_ref, after, ACCESS_TYPE, EXPORT_TYPE, *params, count),
    )
    return entries_of(tx, rows)


def _unfiltered_exports(
    tx: Transaction,
    prefix: str,
    period: DisclosurePeriod,
    after: int,
    before: int | None,
    count: int,
) -> list[AuditEntry]:
    """Up to ``count`` exports not filtered by patient, between the positions, that could
    have held the patient's entries. Exports are few: they are read in pages of ``count``
    and each is checked by one indexed query."""
    clauses, params = period.clauses()
    if before is not None:
        clauses.append("e.position < ?")
        params.append(before)
    found: list[AuditEntry] = []
    while len(found) < count:
        rows = tx.execute(
            f"SELECT {SELECTED} FROM {prefix}entries e"
            " WHERE e.action = ? AND e.aggregate_type = ? AND e.patient_ref IS NULL"
            " AND e.position > ?"
            + "".join(f" AND {c}" for c in clauses)
            + " ORDER BY e.position LIMIT ?",
            (_EXPORTED, EXPORT_TYPE, after, *params, count),
        )
        # Made into entries before _could_hold runs other statements on the cursor.
        candidates = entries_of(tx, rows)
        found += [e for e in candidates if _could_hold(tx, prefix, period.patient_ref, e)]
        if len(rows) < count:
            break
        after = candidates[-1].position
    return found[:count]


def _could_hold(tx: Transaction, prefix: str, patient_ref: str, export: AuditEntry) -> bool:
    """Whether the patient has an entry the export could have held: recorded before it,
    inside its ``from``/``to`` (a bound it does not state, or cannot be read, is no bound)."""
    clauses = ["l.patient_ref = ?", "l.position < ?"]
    params: list[Any] = [patient_ref, export.position]
    for name, clause in (("from", "e.recorded_at >= ?"), ("to", "e.recorded_at < ?")):
        bound = _instant((export.query or {}).get(name))
        if bound is not None:
            clauses.append(clause)
            params.append(bound)
    rows = tx.execute(
        f"SELECT 1 FROM {prefix}entry_patients l JOIN {prefix}entries e"
        f" ON e.position = l.position WHERE {' AND '.join(clauses)} LIMIT 1",
        params,
    )
    return bool(rows)


def _instant(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return to_micros(moment) if moment.tzinfo is not None else None
