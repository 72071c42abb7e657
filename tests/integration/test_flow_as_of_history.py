"""The history tables' index trick, on real PostgreSQL and SQLite: the hulls that meet an
instant or a period are found by one index range per length class (an interval of class c is
shorter than 2 ** c µs, so only those that began within that long before the period can meet
it), and this finds exactly the intervals that meet it, whatever their lengths, from
microseconds to centuries, open or closed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.visits.as_of import KNOWN, OCCURRED, board_candidates, meeting
from adapters.readmodels.visits.store import FlowReadModel
from projections.visits.flow_knowledge import CLASS_SHIFT, HistoryRow, length_class

PREFIX = tr.table_prefix("flow", 1)
TABLE = f"{PREFIX}history"
#: 1900 and 2200 in µs since the epoch: the times a record can hold.
EARLIEST, LATEST = -2_208_988_800_000_000, 7_258_118_400_000_000

pytestmark = pytest.mark.read_models([FlowReadModel])

lengths = st.one_of(
    st.none(),  # still open
    st.integers(0, 60).map(lambda bits: 2**bits),  # exactly on a class's bound
    st.integers(0, 60).flatmap(lambda bits: st.integers(max(0, 2**bits - 3), 2**bits + 3)),
    st.integers(0, LATEST - EARLIEST),
)
intervals = st.lists(
    st.tuples(st.sampled_from(["ED", "W1"]), st.integers(EARLIEST, LATEST // 2), lengths),
    min_size=1,
    max_size=30,
)


def meets(start: int, end: int | None, low: int, high: int) -> bool:
    return start < high and (end is None or end > low)


@settings(
    max_examples=min(settings.default.max_examples, 25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(found=intervals, data=st.data())
def test_the_history_finds_exactly_the_intervals_that_meet_an_instant_or_a_period(
    database: ReadDatabase, found: list[tuple[str, int, int | None]], data: st.DataObject
) -> None:
    rows = []
    for n, (unit, since, length) in enumerate(found):
        until = None if length is None else min(since + length, LATEST)
        # The same interval as recorded and as occurred, but for every third row: none known.
        known = (since, until, length_class(since, until)) if n % 3 else (None, None, None)
        rows.append(HistoryRow(f"v{n}", unit, *known, since, until, length_class(since, until)))
    edges = [r.start_at for r in rows] + [r.end_at for r in rows if r.end_at is not None]
    instants = [t + d for t in edges for d in (-1, 0)] + data.draw(
        st.lists(st.integers(EARLIEST, LATEST), max_size=5), label="instants"
    )
    periods = [(t, t + data.draw(st.sampled_from([1, 2, 1000, 2**30, 2**50]))) for t in instants]
    with database.worker_connection() as conn, conn.transaction() as tx:
        tx.execute(f"DELETE FROM {TABLE}")
        tx.insert_rows(TABLE, HistoryRow._fields, rows)

    with database.read() as tx:
        for at in instants:
            for unit in (None, "ED", "W1"):
                expected = {
                    r.visit_id for r in rows
                    if (unit is None or r.unit == unit) and r.known_from is not None
                    and meets(r.known_from, r.known_until, at, at + 1)
                }  # fmt: skip
                assert board_candidates(tx, PREFIX, unit, at) == expected, (unit, at)
        for low, high in periods:
            for unit in (None, "ED"):
                expected = {
                    r.visit_id for r in rows
                    if (unit is None or r.unit == unit) and meets(r.start_at, r.end_at, low, high)
                }  # fmt: skip
                assert meeting(tx, TABLE, OCCURRED, unit, low, high) == expected, (low, high)
        assert meeting(tx, TABLE, KNOWN, "ICU", 0, 1) == set()  # a unit it never names


def test_an_interval_is_shorter_than_its_class_bound() -> None:
    for length in (0, 1, 2, 3, 2**CLASS_SHIFT + 1, 2**26, 2**40 + 5, 2**62):
        cls = length_class(0, length)
        assert length < 2 ** (CLASS_SHIFT + cls)
        assert cls == 0 or length >= 2 ** (CLASS_SHIFT + cls - 1)
    assert length_class(5, None) == -1
