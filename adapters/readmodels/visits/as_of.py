"""The flow read model as the system had it at a past time: the board ``asOf``, the census
and the metrics ``knownAt``.

Each answer takes three steps: the history table (:mod:`projections.visits.flow_knowledge`)
names the few visits that could be in it (:func:`meeting`), one statement reads their stored
records (:mod:`adapters.readmodels.visits.log`, up to the read model's own position, cut at
the time asked about), and :mod:`projections.visits.flow_as_of` folds each with the live
model's reducers and keeps those the folded state puts in the answer. The cost grows with the
visits in the answer (and their events), not with the length of the log: the history is read
through its indexes over ranges the answer bounds.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from adapters.readmodels.database import Transaction
from adapters.readmodels.tracking import active_position
from adapters.readmodels.visits.log import visit_records
from projections.shared.records import key_text, to_micros
from projections.visits import flow_as_of as as_of
from projections.visits import flow_views as views
from projections.visits.flow_knowledge import CLASS_SHIFT, MAX_CLASS, OPEN_CLASS
from projections.visits.flow_metrics import FlowMetrics, compute_metrics

P = ParamSpec("P")
T = TypeVar("T")
#: The read model whose position bounds the records folded (the store's ``NAME``).
_MODEL = "flow"
#: The lowest bound a window may start at (a bound below a 64-bit integer cannot be sent).
_LOWEST = -(2**62)


def read_through(tx: Transaction) -> int:
    """The log position the flow model had read, in this transaction: an answer folds no
    record its history tables have not seen."""
    return active_position(tx, _MODEL).position


def fold_visits(
    tx: Transaction, prefix: str, visit_ids: Iterable[str], known_at: int | None, through: int
) -> dict[str, as_of.KnownVisit]:
    """The visits, each folded from its records up to position ``through`` as known at
    ``known_at`` (µs; None: all of them); those not yet recorded then are left out."""
    records = visit_records(tx, prefix, sorted(set(visit_ids)), through, known_at)
    folded = {}
    for visit_id, stored in records.items():
        # The log reader cut each visit's records at the first one recorded after
        # `known_at` (the prefix fold_known would keep: the timeline has their times).
        visit = as_of.fold_known(stored, None)
        if visit is not None:
            folded[visit_id] = visit
    return folded


def without_cyclic_gc(answer: Callable[P, T]) -> Callable[P, T]:
    """As in FlowReadModel.apply: an as-of answer allocates tens of thousands of objects
    and makes no reference cycles, while the cyclic collector would scan the process's whole
    heap (the workers' caches) over and over. Refcounting frees the answer's garbage as it
    returns; the collector resumes after that (unless another thread stopped it too)."""

    @functools.wraps(answer)
    def answered(*args: P.args, **kwargs: P.kwargs) -> T:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return answer(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return answered


# ---- the history table ----------------------------------------------------------------------
#: The history's recorded interval (on a unit's board) and its occurred one (census, metrics).
KNOWN = ("known_from", "known_until", "known_class")
OCCURRED = ("start_at", "end_at", "length_class")


def units_of(tx: Transaction, table: str) -> list[str]:
    """The units the history names, one index probe each (a loose scan of its index)."""
    statement = (
        f"WITH RECURSIVE u(unit) AS (SELECT min(unit) FROM {table} UNION ALL"
        f" SELECT (SELECT min(unit) FROM {table} WHERE unit > u.unit) FROM u"
        " WHERE u.unit IS NOT NULL) SELECT unit FROM u WHERE unit IS NOT NULL"
    )
    return [unit for (unit,) in tx.execute(statement)]


def meeting(
    tx: Transaction,
    table: str,
    columns: tuple[str, str, str],
    unit: str | None,
    low: int,
    high: int,
) -> set[str]:
    """The visits whose interval ``columns`` (start, end, length class) in ``table``, in
    ``unit`` (or any), meets ``[low, high)``: ``start < high`` and ``end > low`` (or open).
    An interval of length class c is shorter than 2 ** c µs, so it can only meet the period if
    it began after ``low - 2 ** c``: per class, one range of the index over the starts in that
    window (the intervals found there are at least half as long as the window, so few are
    read in vain), and the open ones that began before ``high``. The rows read grow with the
    answer, not with the table."""
    start, end, length = columns
    units = [key_text(unit)] if unit is not None else units_of(tx, table)
    if not units:
        return set()
    where = f"unit IN ({', '.join('?' for _ in units)}) AND {length}"
    parts = [f"SELECT visit_id FROM {table} WHERE {where} = {OPEN_CLASS} AND {start} < ?"]
    params: list[Any] = [*units, high]
    for cls in range(MAX_CLASS + 1):
        parts.append(
            f"SELECT visit_id FROM {table} WHERE {where} = {cls}"
            f" AND {start} > ? AND {start} < ? AND {end} > ?"
        )
        params += [*units, max(_LOWEST, low - (1 << (CLASS_SHIFT + cls))), high, low]
    return {visit_id for (visit_id,) in tx.execute(" UNION ALL ".join(parts), params)}


def board_candidates(tx: Transaction, prefix: str, unit: str | None, at: int) -> set[str]:
    """The visits whose board interval (of ``unit``, or any) holds the recorded instant
    ``at``."""
    return meeting(tx, f"{prefix}history", KNOWN, unit, at, at + 1)


# ---- the board ------------------------------------------------------------------------------
@without_cyclic_gc
def board_as_of(
    tx: Transaction, prefix: str, unit: str | None, moment: datetime, through: int | None = None
) -> views.Board:
    """The board (of ``unit``, or of every unit) as the system had it at ``moment``: what had
    been recorded by then, minutes counted to ``moment``."""
    at = to_micros(moment)
    assert at is not None
    through = read_through(tx) if through is None else through
    visits = fold_visits(tx, prefix, board_candidates(tx, prefix, unit, at), at, through)
    return views.board_of(as_of.board_rows(visits.values(), unit), unit, moment, as_of=moment)


# ---- the census -----------------------------------------------------------------------------
@without_cyclic_gc
def census_known_at(
    tx: Transaction,
    prefix: str,
    unit: str | None,
    moment: datetime,
    known_at: datetime,
    through: int | None = None,
) -> views.Census:
    """Who held a location (in ``unit``, or any) at the instant ``moment``, as known at
    ``known_at``, with the status and class each had at ``moment`` as known then (for a
    ``moment`` after ``known_at``, a period open then counts as still open).

    The candidates are the census history's hulls that begin by ``moment`` and end after it,
    or after ``known_at`` if that is earlier: a period open as known then is in its hull up
    to when a later record closed it, so after ``known_at``."""
    at, known = to_micros(moment), to_micros(known_at)
    assert at is not None and known is not None
    ids = meeting(tx, f"{prefix}history", OCCURRED, unit, min(at, known), at + 1)
    through = read_through(tx) if through is None else through
    visits = fold_visits(tx, prefix, ids, known, through)
    rows = as_of.census_rows(visits.values(), unit, at)
    return views.census_of(rows, unit, moment, known_at=known_at)


# ---- the metrics ----------------------------------------------------------------------------
@without_cyclic_gc
def metrics_known_at(
    tx: Transaction,
    prefix: str,
    start: datetime,
    end: datetime,
    unit: str | None,
    zone: ZoneInfo,
    known_at: datetime,
    through: int | None = None,
) -> FlowMetrics:
    """The metrics over ``[start, end)`` as known at ``known_at``: the visits any state of
    whose record anchored them in the period, folded as known then."""
    low, high, known = to_micros(start), to_micros(end), to_micros(known_at)
    assert low is not None and high is not None
    ids = meeting(tx, f"{prefix}history", OCCURRED, unit, low, high)
    through = read_through(tx) if through is None else through
    visits = fold_visits(tx, prefix, ids, known, through)
    rows = as_of.metric_visits(visits.values(), unit)
    return compute_metrics(rows, start, end, zone, unit, known_at=known_at)
