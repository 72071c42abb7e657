"""Visits as the system knew them at a past time, folded from their stored records with the
live model's own :func:`~projections.visits.flow.fold` (one set of reducers for the live view
and for every "as of" answer), and the board, census and metric rows made from them.

"Known at T" is the prefix of a visit's records whose recorded clock (the running maximum of
the stored events' ``timestamp``) is at most T: a late entry recorded after T about an earlier
instant is left out, however far back its ``occurred_at`` goes. The candidates to fold come
from the history tables (:mod:`projections.visits.flow_knowledge`); the rules that decide
what is on the board or in the census are applied to the folded state, exactly as the live
rows are made from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import NamedTuple

import msgspec

from projections.shared.records import StoredRecord, without_nul
from projections.visits.flow import VISIT_COLUMNS, fold, location_values, visit_values
from projections.visits.flow_events import When, micros_of
from projections.visits.flow_knowledge import ON_BOARD
from projections.visits.flow_metrics import METRIC_COLUMNS, MetricVisit
from projections.visits.flow_rows import BOARD_COLUMNS, BoardRow, CensusRow, VisitRow
from projections.visits.flow_state import VisitState


class _Stamp(msgspec.Struct):
    timestamp: When


_decode_stamp = msgspec.json.Decoder(_Stamp).decode

#: (version that began it, start (occurred, µs), status, visit class).
Segment = tuple[int, int, str, str]
#: The columns of a visit row a board row and a metric row are made of, by position.
_board_columns = itemgetter(*(VISIT_COLUMNS.index(name) for name in BOARD_COLUMNS))
_metric_columns = itemgetter(*(VISIT_COLUMNS.index(name) for name in METRIC_COLUMNS))


class KnownVisit(NamedTuple):
    """A visit folded as known at a time, and its effective status history: one segment per
    change of status or class, by occurred time; a compensation removes the segments of the
    fact it cancels (and of what followed it), as it restores the state before that fact."""

    state: VisitState
    statuses: list[Segment]

    def row(self) -> VisitRow:
        return visit_values(self.state)

    def status_at(self, at: int) -> tuple[str, str]:
        """The visit's status and class at the occurred instant ``at`` (µs); before its
        first segment, the first."""
        found = self.statuses[0]
        for segment in self.statuses:
            if segment[1] > at:
                break
            found = segment
        return found[2], found[3]


def recorded_micros(record: StoredRecord) -> int:
    """The stored event's ``timestamp`` (µs): when the system recorded it."""
    return micros_of(_decode_stamp(without_nul(record.state)).timestamp.data)


def fold_known(records: Iterable[StoredRecord], known_at: int | None) -> KnownVisit | None:
    """The visit from its records (in version order) as known at ``known_at`` (µs; None: all
    of them); None if none had been recorded by then."""
    state: VisitState | None = None
    statuses: list[Segment] = []
    clock = 0
    for record in records:
        if known_at is not None:
            clock = max(clock, recorded_micros(record))
            if clock > known_at:
                break
        state, _ = fold(state, record, live=False)
        cancelled = state.cancelled_version
        if cancelled is not None:
            while statuses and statuses[-1][0] >= cancelled:
                statuses.pop()
        shown = (state.status, state.visit_class)
        if not statuses or statuses[-1][2:] != shown:
            at = state.last_event_at or 0
            # Never backwards: a fact dated before the segment it ends starts with it.
            start = max(at, statuses[-1][1]) if statuses else at
            statuses.append((record.originator_version, start, *shown))
    return None if state is None else KnownVisit(state, statuses)


# ---- the answers made of folded visits ----------------------------------------------------
def board_rows(visits: Iterable[KnownVisit], unit: str | None) -> list[BoardRow]:
    """The visits on the board (of ``unit``, or of every unit), in board order: the live
    board's rule (a board state; the current unit) applied to each folded visit's row."""
    rows = []
    for visit in visits:
        row = visit.row()
        if row.status not in ON_BOARD or (unit is not None and row.current_unit != unit):
            continue
        rows.append(BoardRow._make(_board_columns(row)))
    rows.sort(key=lambda r: (r.arrival_at or 0, r.id))
    return rows


def census_rows(visits: Iterable[KnownVisit], unit: str | None, at: int) -> list[CensusRow]:
    """The location periods (in ``unit``, or any) holding the instant ``at`` (µs), with each
    visit's status and class at ``at``, in the live census's order (unit, bed, since, visit).
    An entered-in-error visit holds none (it never happened), as in the live census."""
    rows = []
    for visit in visits:
        state = visit.state
        for period in location_values(state):
            if (unit is None or period.unit == unit) and period.start_at <= at:
                if period.end_at is None or period.end_at > at:
                    status, visit_class = visit.status_at(at)
                    rows.append(CensusRow(
                        state.id, state.patient_ref, status, visit_class, period.unit,
                        period.bed, period.start_at, period.end_at, state.last_event_at,
                    ))  # fmt: skip
    rows.sort(key=lambda row: (row.unit, row.bed or "", row.start_at, row.visit_id))
    return rows


def metric_visits(visits: Iterable[KnownVisit], unit: str | None) -> list[MetricVisit]:
    """The metrics' columns of each folded visit (of service unit ``unit``, if given)."""
    found = []
    for visit in visits:
        row = visit.row()
        if unit is None or row.service_unit == unit:
            found.append(MetricVisit(*_metric_columns(row)))
    return found
