"""The budget-vs-actual read model's tables and query (PostgreSQL and SQLite, one SQL).

Tables (``<prefix>`` = ``budget_g<generation>_``):

* ``lines``: one row per budget line, its totals now (minor units of its currency);
* ``periods``: twelve rows per line, each period's phased budget and the net movements of
  pre-encumbered, committed and actual spend within it.

:class:`BudgetReadModel` folds each batch per line with
:func:`projections.budget.budget_vs_actual.fold`,
starting from the line's stored rows. It is idempotent per line: records at or below a
line's stored version are skipped, so a redelivered record changes nothing. Budget lines
are few and their events rare next to visits', so each batch simply replaces the rows of the
lines it touched.

:func:`summary` selects a fiscal year's lines (optionally one cost centre's) and leaves the
arithmetic to :func:`projections.budget.budget_vs_actual.summarise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import Transaction
from domain.budget.checks import canonical_cost_centre
from domain.budget.phasing import PERIODS
from domain.budget.policy import BudgetRules
from projections.budget import budget_vs_actual as budget
from projections.budget.budget_vs_actual import (
    LINE_COLUMNS,
    PERIOD_COLUMNS,
    BudgetSummary,
    LineState,
)
from projections.shared.records import StoredRecord

NAME = "budget"
_TEXT = {"id", "cost_centre", "category", "currency", "status", "forecast_method", "line_id"}


def _column(name: str) -> str:
    kind = "TEXT" if name in _TEXT else "BIGINT"
    return f"{name} {kind}{'' if name == 'forecast_method' else ' NOT NULL'}"


def _ddl(prefix: str) -> list[str]:
    lines = ", ".join(_column(c) for c in LINE_COLUMNS)
    periods = ", ".join(_column(c) for c in PERIOD_COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}lines ({lines}, PRIMARY KEY (id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}lines_year"
        f" ON {prefix}lines (fiscal_year, cost_centre)",
        f"CREATE TABLE IF NOT EXISTS {prefix}periods ({periods}, PRIMARY KEY (line_id, period))",
    ]


class BudgetReadModel:
    """Budget vs actual per line and period, rolled up per cost centre (domain-spec §3).

    ``calendar`` buckets postings into fiscal periods: pass the facility's
    :class:`~domain.budget.policy.BudgetRules` (its fiscal-year start month and time zone)."""

    name = NAME

    def __init__(self, calendar: BudgetRules | None = None) -> None:
        self.calendar = calendar or BudgetRules()

    def wants(self, topic: str) -> bool:
        return budget.wants(topic)

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        for statement in _ddl(prefix):
            tx.execute(statement)

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("periods", "lines"):
            tx.execute(f"DROP TABLE IF EXISTS {prefix}{table}")

    def reset(self) -> None:
        """Nothing is cached between batches."""

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        by_line: dict[str, list[StoredRecord]] = {}
        for record in records:
            by_line.setdefault(str(record.originator_id), []).append(record)
        changed: list[LineState] = []
        for line_id, batch in by_line.items():
            state = _load(tx, prefix, line_id)
            known = state.version if state is not None else 0
            new = [r for r in batch if r.originator_version > known]
            if not new:
                continue  # redelivered: already in the view
            for record in new:
                state = budget.fold(state, record, self.calendar)
            assert state is not None
            changed.append(state)
        if not changed:
            return
        ids = [(state.id,) for state in changed]
        tx.executemany(f"DELETE FROM {prefix}periods WHERE line_id = ?", ids)
        tx.executemany(f"DELETE FROM {prefix}lines WHERE id = ?", ids)
        tx.insert_rows(f"{prefix}lines", LINE_COLUMNS, [state.row() for state in changed])
        tx.insert_rows(
            f"{prefix}periods", PERIOD_COLUMNS,
            [row for state in changed for row in state.period_rows()],
        )  # fmt: skip


def _load(tx: Transaction, prefix: str, line_id: str) -> LineState | None:
    rows = tx.execute(
        f"SELECT {', '.join(LINE_COLUMNS)} FROM {prefix}lines WHERE id = ?", (line_id,)
    )
    if not rows:
        return None
    periods = tx.execute(
        f"SELECT {', '.join(PERIOD_COLUMNS)} FROM {prefix}periods WHERE line_id = ?"
        " ORDER BY period",
        (line_id,),
    )
    return LineState.from_rows(rows[0], periods)


# ---- queries ---------------------------------------------------------------------------------
def lines_of(
    tx: Transaction, prefix: str, fiscal_year: int, cost_centre: str | None = None
) -> list[LineState]:
    """The stored lines of a fiscal year (of one cost centre if given), with their periods."""
    where, params = "l.fiscal_year = ?", [fiscal_year]
    if cost_centre is not None:
        where += " AND l.cost_centre = ?"
        params.append(cost_centre)  # type: ignore[arg-type]
    columns = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
    rows = tx.execute(f"SELECT {columns} FROM {prefix}lines l WHERE {where}", params)
    periods: dict[str, list[tuple[object, ...]]] = {}
    if rows:
        for row in tx.execute(
            f"SELECT {', '.join(f'p.{c}' for c in PERIOD_COLUMNS)} FROM {prefix}periods p"
            f" JOIN {prefix}lines l ON l.id = p.line_id WHERE {where}"
            " ORDER BY p.line_id, p.period",
            params,
        ):
            periods.setdefault(row[0], []).append(row)
    return [LineState.from_rows(row, periods.get(row[0], [])) for row in rows]


def summary(
    tx: Transaction,
    prefix: str,
    fiscal_year: int,
    cost_centre: str | None = None,
    *,
    as_of_period: int | None = None,
    today: date | None = None,
    calendar: BudgetRules | None = None,
) -> BudgetSummary:
    """Budget vs actual for ``fiscal_year`` (one cost centre or all), per line and period and
    per cost centre. Year to date runs to ``as_of_period`` (1..12), or else to the period
    ``today`` falls in (0 before the year, 12 after it). The cost centre is matched in its
    canonical form, as lines store it ("cc 100 " finds "CC 100")."""
    calendar = calendar or BudgetRules()
    if cost_centre is not None:
        cost_centre = canonical_cost_centre(cost_centre)
    if as_of_period is None:
        day = today or date.today()
        as_of_period = min(max(calendar.period_of(fiscal_year, day), 0), PERIODS)
    if not 0 <= as_of_period <= PERIODS:
        raise ValueError("as_of_period must be 0 to 12")
    lines = lines_of(tx, prefix, fiscal_year, cost_centre)
    return budget.summarise(lines, fiscal_year, cost_centre, as_of_period, calendar)
