"""The complaints read model's table and queries (PostgreSQL and SQLite, one SQL).

Table (``<prefix>`` = ``complaints_g<generation>_``): ``cases``, one row per complaint case:
its status and classification now and the state of its two deadlines (see
:mod:`projections.complaints.case_state`). No narrative, finding or other free text is stored.

:class:`ComplaintsReadModel` folds each batch per case with
:func:`projections.complaints.worklist.fold`,
starting from the case's stored row. It is idempotent per case: records at or below a case's
stored version are skipped, so a redelivered record changes nothing. Complaints are few and
their events rare next to visits', so each batch simply replaces the rows of the cases it
touched.

Queries take the transaction and the active generation's prefix (as ``query_view`` in
``adapters/http/read_side.py`` passes them): :func:`worklist`, :func:`sla_by_month`,
:func:`themes`, and for the deadline watcher :func:`breach_candidates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import Transaction
from projections.complaints import worklist as complaints
from projections.complaints.worklist import CASE_COLUMNS, CaseState, SlaMonth, Theme, WorklistItem
from projections.shared.records import StoredRecord, to_micros

NAME = "complaints"
LONDON = ZoneInfo("Europe/London")
#: Where a case with nothing due sorts in the worklist: after every due date.
_NOTHING_DUE = 2**62
_TEXT = frozenset(
    {
        "id", "status", "kind", "policy", "service_unit", "primary_category", "categories",
        "risk_grade", "investigator_ref", "upheld", "late_deadlines", "flagged_deadlines",
    }
)  # fmt: skip
_NOT_NULL = frozenset({"id", "version", "position", "status", "policy", "received_at", "is_open"})
_COLUMNS = (*CASE_COLUMNS, "sort_due")


def _ddl(prefix: str) -> list[str]:
    def column(name: str) -> str:
        kind = "TEXT" if name in _TEXT else "BIGINT" if name.endswith("_at") else "INTEGER"
        if name in ("position", "sort_due"):
            kind = "BIGINT"
        return f"{name} {kind}{' NOT NULL' if name in _NOT_NULL else ''}"

    cases = f"{prefix}cases"
    columns = ", ".join(map(column, _COLUMNS))
    return [
        f"CREATE TABLE IF NOT EXISTS {cases} ({columns}, PRIMARY KEY (id))",
        f"CREATE INDEX IF NOT EXISTS {cases}_worklist ON {cases} (is_open, sort_due, id)",
        f"CREATE INDEX IF NOT EXISTS {cases}_received ON {cases} (received_at)",
    ]


def _row(state: CaseState) -> tuple[Any, ...]:
    due = state.next_due_at
    return (*state.row(), _NOTHING_DUE if due is None else due)


class ComplaintsReadModel:
    """The complaints worklist, SLA compliance by month and themes (domain-spec §2)."""

    name = NAME

    def wants(self, topic: str) -> bool:
        return complaints.wants(topic)

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        for statement in _ddl(prefix):
            tx.execute(statement)

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        tx.execute(f"DROP TABLE IF EXISTS {prefix}cases")

    def reset(self) -> None:
        """Nothing is cached between batches."""

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        by_case: dict[str, list[StoredRecord]] = {}
        for record in records:
            by_case.setdefault(str(record.originator_id), []).append(record)
        changed: list[CaseState] = []
        for case_id, batch in by_case.items():
            state = _load(tx, prefix, case_id)
            known = state.version if state is not None else 0
            new = [r for r in batch if r.originator_version > known]
            if not new:
                continue  # redelivered: already in the view
            for record in new:
                state = complaints.fold(state, record)
            assert state is not None
            changed.append(state)
        if not changed:
            return
        tx.executemany(f"DELETE FROM {prefix}cases WHERE id = ?", [(s.id,) for s in changed])
        tx.insert_rows(f"{prefix}cases", _COLUMNS, [_row(state) for state in changed])


def _load(tx: Transaction, prefix: str, case_id: str) -> CaseState | None:
    rows = tx.execute(
        f"SELECT {', '.join(CASE_COLUMNS)} FROM {prefix}cases WHERE id = ?", (case_id,)
    )
    return CaseState.from_row(rows[0]) if rows else None


# ---- queries ---------------------------------------------------------------------------------
class Worklist(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    items: list[WorklistItem]
    next_cursor: str | None


def worklist(
    tx: Transaction,
    prefix: str,
    *,
    now: datetime,
    status: str | None = None,
    overdue: bool | None = None,
    assignee: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    zone: ZoneInfo = LONDON,
) -> Worklist:
    """Open cases, soonest due first (cases with nothing due last). ``overdue``: only those
    whose next deadline has passed (true) or has not (false). ``cursor`` is the
    ``nextCursor`` of the page before; a malformed one raises ValueError."""
    now_us = to_micros(now)
    where = ["is_open = 1"]
    params: list[str | int | None] = []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if assignee is not None:
        where.append("investigator_ref = ?")
        params.append(assignee)
    if overdue is True:
        where.append("next_due_at < ?")
        params.append(now_us)
    elif overdue is False:
        where.append("(next_due_at IS NULL OR next_due_at >= ?)")
        params.append(now_us)
    if cursor is not None:
        after_due, after_id = _parse_cursor(cursor)
        where.append("(sort_due > ? OR (sort_due = ? AND id > ?))")
        params.extend([after_due, after_due, after_id])
    rows = tx.execute(
        f"SELECT {', '.join(CASE_COLUMNS)}, sort_due FROM {prefix}cases"
        f" WHERE {' AND '.join(where)} ORDER BY sort_due, id LIMIT ?",
        [*params, limit + 1],
    )
    page = rows[:limit]
    items = [complaints.worklist_item(CaseState.from_row(row[:-1]), now, zone) for row in page]
    more = len(rows) > limit
    return Worklist(items=items, next_cursor=f"{page[-1][-1]}~{page[-1][0]}" if more else None)


def _parse_cursor(cursor: str) -> tuple[int, str]:
    due, separator, case_id = cursor.partition("~")
    if not separator or not case_id:
        raise ValueError("not a worklist cursor")
    return int(due), case_id


def _cases_received(
    tx: Transaction, prefix: str, start: datetime, end: datetime
) -> list[CaseState]:
    rows = tx.execute(
        f"SELECT {', '.join(CASE_COLUMNS)} FROM {prefix}cases"
        " WHERE received_at >= ? AND received_at < ? ORDER BY received_at, id",
        (to_micros(start), to_micros(end)),
    )
    return [CaseState.from_row(row) for row in rows]


def sla_by_month(
    tx: Transaction,
    prefix: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    zone: ZoneInfo = LONDON,
) -> list[SlaMonth]:
    """Per month of receipt in ``[start, end)`` (facility time zone): % acknowledged on time,
    % responded on time (every response deadline in force met: an interim response meets a
    CMS deadline, an agreed extension replaces one)."""
    return complaints.sla_by_month(_cases_received(tx, prefix, start, end), start, end, now, zone)


def themes(
    tx: Transaction, prefix: str, start: datetime, end: datetime, *, zone: ZoneInfo = LONDON
) -> list[Theme]:
    """Category × unit × month of the cases received in ``[start, end)``: grade mix, % upheld."""
    return complaints.themes_of(_cases_received(tx, prefix, start, end), zone)


def breach_candidates(tx: Transaction, prefix: str, now: datetime, limit: int = 500) -> list[str]:
    """Ids of the cases with a breach not flagged yet at ``now``: a deadline that ended late,
    or one still running past its due instant, whose (kind, due instant) is not flagged.
    Counted per deadline, not per case, so a flag that a back-dated entry disproved never
    stands in for another deadline's breach. The watcher loads each and issues FlagSlaBreach
    for what ``ComplaintCase.breached_deadlines(now)`` returns."""
    rows = tx.execute(
        f"SELECT id FROM {prefix}cases"
        " WHERE unflagged_missed > 0 OR next_unflagged_due_at < ? ORDER BY id LIMIT ?",
        (to_micros(now), limit),
    )
    return [row[0] for row in rows]


def closed_between(
    tx: Transaction, prefix: str, after: datetime | None, up_to: datetime
) -> list[str]:
    """Ids of the cases closed after ``after`` (None: ever) and at or before ``up_to`` and
    not reopened since, oldest closure first (for the retention job)."""
    rows = tx.execute(
        f"SELECT id FROM {prefix}cases WHERE is_open = 0 AND closed_at IS NOT NULL"
        " AND closed_at > ? AND closed_at <= ? ORDER BY closed_at, id",
        (-(2**62) if after is None else to_micros(after), to_micros(up_to)),
    )
    return [row[0] for row in rows]
