"""What the flow model knew, and when: per visit and unit, two small *hulls* over every state
the record has been in, kept by the fold so that a question about a past moment of knowledge
("the board as the system had it at 14:00", "the census as known then") finds the few visits
that could be in the answer without reading the log.

Recorded time is the stored event's ``timestamp`` (when the system wrote the fact), never its
``occurred_at`` (when it happened in the hospital): a late entry recorded at 16:00 about
13:00 was not known at 14:00. A visit's recorded clock is the running maximum of its events'
timestamps, so the prefix of events "recorded by T" is well defined even if two servers'
clocks disagree.

One row per visit and unit (:class:`HistoryRow`, the ``history`` table):

* **known** (recorded time): the interval ``[known_from, known_until)`` during which the visit
  was on that unit's board (a board state; its current unit, else its service unit). One
  interval per unit: a visit that left and came back is a candidate for the gap too (the fold
  of its events then says it was not on the board). None if it never was.
* **occurred** (occurred time): an interval ``[start_at, end_at)`` holding every location period
  in the unit that any state of the record gave the visit (``end_at`` None while one is open
  now) and, for a service unit the visit had, every instant a metric anchored it to in any
  state (scheduled start, arrival, departure from the ED, departure). A period that was open
  in some state counts up to the recorded time it stopped being open (a record after every
  ``knownAt`` at which it was open), so a census known at ``knownAt`` finds it among the hulls
  that end after ``at`` or, for an ``at`` after ``knownAt``, after ``knownAt``.

Each interval is stored with its *length class* (:func:`length_class`), so the hulls that meet
an instant or a period are found through one index range per class (see
``adapters.readmodels.visits.as_of.meeting``), never by reading a whole table.

Hulls only grow, and are a superset: an as-of query folds the candidates' events up to its
time with the very reducers the live model uses (:mod:`projections.visits.flow_as_of`) and
keeps those the folded state puts in the answer.
"""

from __future__ import annotations

from typing import NamedTuple

from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    ENTERED_IN_ERROR,
    ON_LEAVE,
    TRIAGED,
    WITH_CLINICIAN,
)
from projections.shared.records import key_text
from projections.visits.flow_state import Knowledge, VisitState

#: The states that put a visit on the board (the board's lists and ``onLeave``).
ON_BOARD = frozenset({ARRIVED, TRIAGED, WITH_CLINICIAN, ADMITTED, ON_LEAVE})
#: A closed board interval of length L (µs) is in class ``(L >> CLASS_SHIFT).bit_length()``,
#: so L < 2 ** (CLASS_SHIFT + class): a query for an instant T need only look, per class, at
#: the intervals that began after T - 2 ** (CLASS_SHIFT + class), and those are at least half
#: as long as that window (for classes above 0), so it reads at most a few times the visits
#: it finds. Classes of single microseconds: coarser ones would let class 0 cover minutes,
#: which a store written quickly (a benchmark, a bulk import) fills with every interval.
CLASS_SHIFT = 0
#: Enough classes for any interval between two 64-bit instants.
MAX_CLASS = 64 - CLASS_SHIFT
#: The class of an interval still open (the visit is on that board now).
OPEN_CLASS = -1


def length_class(since: int, until: int | None) -> int:
    return OPEN_CLASS if until is None else (max(0, until - since) >> CLASS_SHIFT).bit_length()


class HistoryRow(NamedTuple):
    """One visit's hulls in one unit (see the module's docstring); None where it has none."""

    visit_id: str
    unit: str
    known_from: int | None
    known_until: int | None
    known_class: int | None
    start_at: int | None
    end_at: int | None
    length_class: int | None


def note(state: VisitState, recorded: int) -> None:
    """Record what the state just folded means for the hulls; ``recorded`` is the record's
    timestamp (µs)."""
    known = state.known
    if recorded > known.recorded_at:
        known.recorded_at = recorded
    else:
        recorded = known.recorded_at
    status = state.status
    periods = state.periods
    if status in ON_BOARD:
        last = periods[-1] if periods else None
        unit = last[0] if last is not None and last[3] is None else key_text(state.service_unit)
    else:
        unit = None
    if unit != known.board_unit:
        _move_board(known, unit, recorded)
    if state.locations_revision != known.locations_revision:
        known.locations_revision = state.locations_revision
        _note_locations(known, [] if status == ENTERED_IN_ERROR else periods, recorded)
    departed = state.discharged_at
    anchors = (
        state.scheduled_start, state.arrival_at, periods[0][3] if periods else None,
        departed if departed is not None else state.left_at, state.service_unit,
    )  # fmt: skip
    if anchors != known.anchors:
        known.anchors = anchors
        _note_span(known, anchors)


def _move_board(known: Knowledge, unit: str | None, recorded: int) -> None:
    if known.board_unit is not None:
        known.board[known.board_unit][1] = recorded
    if unit is not None:
        interval = known.board.get(unit)
        if interval is None:
            known.board[unit] = [recorded, None]
        else:
            interval[1] = None  # back on it: the interval spans the time away
    known.board_unit = unit
    known.revision += 1


def _note_locations(
    known: Knowledge, periods: list[tuple[str, str | None, int, int | None]], recorded: int
) -> None:
    census = known.census
    open_now = None
    changed = False
    for unit, _, start, end in periods:
        hull = census.get(unit)
        if hull is None:
            hull = census[unit] = [start, start, 0]
            changed = True
        elif start < hull[0]:
            hull[0] = start
            changed = True
        if end is None:
            open_now = unit
        elif end > hull[1]:
            hull[1] = end
            changed = True
    for unit, hull in census.items():
        if unit == open_now:
            if not hull[2]:
                hull[2], changed = 1, True
        elif hull[2]:  # open until this record: it held every instant up to now
            hull[2], changed = 0, True
            if recorded > hull[1]:
                hull[1] = recorded
    if changed:
        known.revision += 1


def _note_span(
    known: Knowledge, anchors: tuple[int | None, int | None, int | None, int | None, str]
) -> None:
    span = known.span
    changed = False
    for instant in anchors[:4]:
        if instant is None:
            continue
        if span is None:
            span = known.span = [instant, instant]
        elif instant < span[0]:
            span[0] = instant
        elif instant > span[1]:
            span[1] = instant
        else:
            continue
        changed = True
    unit = key_text(anchors[4]) if anchors[4] else None
    if unit is not None and unit not in known.units:
        known.units.add(unit)
        changed = True
    if changed:
        known.revision += 1


def history_rows(state: VisitState) -> list[HistoryRow]:
    """The visit's rows of the ``history`` table: one per unit it has a hull in."""
    known = state.known
    span = known.span
    rows = []
    for unit in sorted({*known.board, *known.census, *(known.units if span else ())}):
        since, until = known.board.get(unit) or (None, None)
        start: int | None = None
        end: int | None = None
        hull = known.census.get(unit)
        if hull is not None:
            start, end = hull[0], None if hull[2] else hull[1]
        if span is not None and unit in known.units:
            # Half-open as the rest: the last anchor is in it.
            last = span[1] + 1
            start = span[0] if start is None else min(start, span[0])
            end = last if hull is None else None if end is None else max(end, last)
        rows.append(HistoryRow(
            state.id, unit, since, until, None if since is None else length_class(since, until),
            start, end, None if start is None else length_class(start, end),
        ))  # fmt: skip
    return rows
