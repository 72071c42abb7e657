"""A budget line as the budget-vs-actual read model holds it: :class:`LineState` and its rows.

The line's totals now (minor units of its currency) and, per fiscal period (1..12), its
phased budget and the net movements of pre-encumbered, committed and actual spend in that
period. :mod:`projections.budget.budget_vs_actual` folds the events into it; a line is stored
as one row of :data:`LINE_COLUMNS` and twelve of :data:`PERIOD_COLUMNS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from domain.budget.phasing import PERIODS

LINE_COLUMNS = (
    "id", "version", "position", "fiscal_year", "cost_centre", "category", "currency",
    "status", "frozen", "budget_minor", "original_minor", "pre_minor", "committed_minor",
    "actual_minor", "etc_minor", "forecast_method", "overspend_flagged",
)  # fmt: skip
PERIOD_COLUMNS = (
    "line_id",
    "period",
    "budget_minor",
    "pre_minor",
    "committed_minor",
    "actual_minor",
)


@dataclasses.dataclass
class LineState:
    """One line as the view holds it; ``periods[p - 1]`` is
    ``[budget, pre-encumbered, committed, actual]`` of period ``p`` (minor units)."""

    id: str
    version: int
    position: int
    fiscal_year: int
    cost_centre: str
    category: str
    currency: str
    status: str = "draft"
    frozen: bool = False
    budget_minor: int = 0
    original_minor: int = 0
    pre_minor: int = 0
    committed_minor: int = 0
    actual_minor: int = 0
    etc_minor: int = 0
    forecast_method: str | None = None
    overspend_flagged: bool = False
    periods: list[list[int]] = dataclasses.field(
        default_factory=lambda: [[0, 0, 0, 0] for _ in range(PERIODS)]
    )

    def row(self) -> tuple[Any, ...]:
        values = dataclasses.astuple(self)[: len(LINE_COLUMNS)]
        return tuple(int(v) if isinstance(v, bool) else v for v in values)

    def period_rows(self) -> list[tuple[Any, ...]]:
        return [(self.id, p + 1, *amounts) for p, amounts in enumerate(self.periods)]

    @classmethod
    def from_rows(cls, row: Sequence[Any], periods: Iterable[Sequence[Any]]) -> LineState:
        values = dict(zip(LINE_COLUMNS, row, strict=True))
        values["frozen"] = bool(values["frozen"])
        values["overspend_flagged"] = bool(values["overspend_flagged"])
        state = cls(**values)
        for _line_id, period, *amounts in periods:
            state.periods[period - 1] = list(amounts)
        return state


#: Where each figure sits in a period's ``[budget, pre-encumbered, committed, actual]``.
BUDGET_FIGURE, PRE_FIGURE, COMMITTED_FIGURE, ACTUAL_FIGURE = range(4)
