"""The flow read model's queries: :func:`board`, :func:`census`, :func:`timeline`,
:func:`metrics` and :func:`find_visits` select rows (the columns named by the row types they
are read into) and leave the rules to :mod:`projections.visits.flow_views`,
:mod:`projections.visits.flow_metrics` and :mod:`projections.visits.visit_search`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from adapters.readmodels.database import Transaction
from adapters.readmodels.visits.as_of import (
    census_known_at,
    fold_visits,
    metrics_known_at,
    read_through,
    without_cyclic_gc,
)
from adapters.readmodels.visits.tables import ON_THE_BOARD
from domain.visits.vocabulary import ENTERED_IN_ERROR
from projections.shared.records import key_text, to_micros
from projections.visits import flow_views as views
from projections.visits import visit_search
from projections.visits.flow_metrics import (
    METRIC_COLUMNS,
    FlowMetrics,
    MetricVisit,
    compute_metrics,
)
from projections.visits.flow_rows import CensusRow


def board(tx: Transaction, prefix: str, unit: str | None, now: datetime) -> views.Board:
    """Per unit, the visits in each active state and those on leave, longest waiting first."""
    statement = f"SELECT {', '.join(views.BOARD_COLUMNS)} FROM {prefix}visits WHERE {ON_THE_BOARD}"
    params: list[Any] = []
    if unit is not None:
        statement += " AND current_unit = ?"
        params.append(unit)
    rows = tx.execute(statement + " ORDER BY arrival_at, id", params)
    return views.board_of(rows, unit, now)


@without_cyclic_gc
def census(
    tx: Transaction,
    prefix: str,
    unit: str | None,
    at: datetime,
    known_at: datetime | None = None,
) -> views.Census:
    """The visits with a location period in ``unit`` (every unit if None) holding ``at``,
    with the status and class each had at ``at``; as known at ``known_at`` if given (see
    :func:`~adapters.readmodels.visits.as_of.census_known_at`)."""
    if known_at is not None:
        return census_known_at(tx, prefix, unit, at, known_at)
    at_us = to_micros(at)
    assert at_us is not None
    statement = (
        f"SELECT {', '.join(views.CENSUS_COLUMNS)} FROM {prefix}locations l"
        f" JOIN {prefix}visits v ON v.id = l.visit_id"
        " WHERE l.start_at <= ? AND (l.end_at IS NULL OR l.end_at > ?)"
    )
    params: list[Any] = [at_us, at_us]
    if unit is not None:
        statement += " AND l.unit = ?"
        params.append(unit)
    order = " ORDER BY l.unit, COALESCE(l.bed, ''), l.start_at, l.visit_id"
    rows = tx.execute(statement + order, params)
    # A visit's row holds its status now, which is its status at ``at`` unless something
    # occurred after ``at``: those few are folded from the log (to the model's position).
    last = views.CENSUS_COLUMNS.index("v.last_event_at")
    later = [row[0] for row in rows if row[last] is not None and row[last] > at_us]
    folded = fold_visits(tx, prefix, later, None, read_through(tx)) if later else {}

    def status_at(row: CensusRow) -> tuple[str, str] | None:
        visit = folded.get(row.visit_id)
        return None if visit is None else visit.status_at(at_us)

    return views.census_of(rows, unit, at, status_at)


def timeline(
    tx: Transaction, prefix: str, visit_id: UUID, *, after_version: int = 0, limit: int = 500
) -> views.Timeline | None:
    """The visit's recorded facts in order, corrections marked; None if the view has no
    such visit."""
    key = str(visit_id)
    found = tx.execute(f"SELECT status, version FROM {prefix}visits WHERE id = ?", (key,))
    if not found:
        return None
    status, version = found[0]
    rows = tx.execute(
        f"SELECT {', '.join(views.TIMELINE_ENTRY_COLUMNS)} FROM {prefix}timeline"
        " WHERE visit_id = ? AND version > ? ORDER BY version LIMIT ?",
        (key, after_version, limit + 1),
    )
    items = [views.timeline_entry(row) for row in rows[:limit]]
    more = len(rows) > limit
    return views.Timeline(
        visit_id=key,
        status=status,
        version=version,
        items=items,
        next_cursor=str(items[-1].version) if more else None,
    )


def metrics(
    tx: Transaction,
    prefix: str,
    start: datetime,
    end: datetime,
    unit: str | None,
    zone: ZoneInfo,
    known_at: datetime | None = None,
) -> FlowMetrics:
    """The metrics of domain-spec §1 over ``[start, end)`` (see
    :mod:`projections.visits.flow_metrics`); as known at ``known_at`` if given (see
    :func:`~adapters.readmodels.visits.as_of.metrics_known_at`)."""
    if known_at is not None:
        return metrics_known_at(tx, prefix, start, end, unit, zone, known_at)
    low, high = to_micros(start), to_micros(end)
    statement = (
        f"SELECT {', '.join(METRIC_COLUMNS)} FROM {prefix}visits"
        " WHERE span_end >= ? AND span_start < ? AND status <> ?"
    )
    params: list[Any] = [low, high, ENTERED_IN_ERROR]
    if unit is not None:
        statement += " AND service_unit = ?"
        params.append(unit)
    rows = tx.execute(statement, params)
    return compute_metrics((MetricVisit(*row) for row in rows), start, end, zone, unit)


def find_visits(
    tx: Transaction,
    prefix: str,
    *,
    visit_number: str | None = None,
    visit_number_authority: str | None = None,
    patient_ref: str | None = None,
    status: str | Collection[str] | None = None,
    after: UUID | None = None,
    limit: int = 50,
) -> visit_search.VisitPage:
    """The visits with this visit number (under this assigning authority, if one is given)
    and/or of this patient, in one status or any of several (every status when None: visits
    entered in error too), a page of at most ``limit`` in id order after the visit ``after``
    (the previous page's ``next_cursor``). All the filters given must hold; a visit number or
    a patient is required (the search reads one of their indexes), else ``ValueError``."""
    if visit_number is None and patient_ref is None:
        raise ValueError("find_visits needs a visit number or a patient ref")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    clauses: list[str] = []
    params: list[Any] = []
    # The indexed columns hold long identifiers clipped (records.key_text): so must the filter.
    for column, value in (
        ("visit_number", None if visit_number is None else key_text(visit_number)),
        ("visit_number_authority", visit_number_authority),
        ("patient_ref", None if patient_ref is None else key_text(patient_ref)),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if status is not None:
        statuses = [status] if isinstance(status, str) else sorted(set(status))
        if not statuses:
            return visit_search.VisitPage(items=[], next_cursor=None)
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    if after is not None:
        clauses.append("id > ?")
        params.append(str(after))
    statement = (
        f"SELECT {', '.join(visit_search.SEARCH_COLUMNS)} FROM {prefix}visits"
        f" WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
    )
    rows = tx.execute(statement, [*params, limit + 1])
    return visit_search.page_of(rows, limit)
