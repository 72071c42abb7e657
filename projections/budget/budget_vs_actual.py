"""The budget-vs-actual read model, backend-neutral: the fold, its rows and the summary.

Each BudgetLine record is folded into a :class:`LineState`: the line's totals now and, per
fiscal period (1..12), its phased budget and the net movements of pre-encumbered, committed
and actual spend in that period. The events carry every figure (amounts, the phasing of each
budget change, how much each posting relieved), so the fold needs nothing but them and the
fiscal calendar, which buckets a posting by its ``occurred_at`` in the facility's time zone.
A posting dated before the year counts in period 1, one after it (a year-end adjustment) in
period 12. A reversal (``PostingReversed``) is a net movement out of its stage in the period
it is dated in, as a release is. The domain keeps every figure stored here within
``domain.shared.money.MAX_TOTAL_MINOR`` (each period's net movement of a stage included), so the
BIGINT columns cannot overflow.

:func:`summarise` turns stored rows into the summary of domain-spec §3: per line and period,
and rolled up per cost centre (and currency: amounts in two currencies never add up).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from domain.budget.line import BudgetLine
from domain.budget.phasing import PERIODS
from domain.budget.policy import BudgetRules
from domain.budget.vocabulary import ACTUAL, COMMITMENT, PRE_ENCUMBRANCE
from domain.shared.money import minor_to_decimal
from projections.shared.records import StoredRecord, decode_state, is_event_of, key_text


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every BudgetLine event."""
    return is_event_of(topic, BudgetLine)


#: Underspend RAG thresholds on variance % (domain-spec §3's 2 % and 5 %): green up to 2 %
#: under budget, amber up to 5 %, red beyond. Overspend risk is its own signal: ``rag`` is
#: red for any forecast overspend (see :func:`rag_of`).
GREEN_UP_TO, AMBER_UP_TO = Decimal(2), Decimal(5)

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


_BUDGET, _PRE, _COMMITTED, _ACTUAL = range(4)
#: A stage of spend (domain.budget.vocabulary) → its figure's index in a period.
_STAGE_INDEX = {PRE_ENCUMBRANCE: _PRE, COMMITMENT: _COMMITTED, ACTUAL: _ACTUAL}
_STAGE_TOTAL = {PRE_ENCUMBRANCE: "pre_minor", COMMITMENT: "committed_minor", ACTUAL: "actual_minor"}
_BUDGET_CHANGES = frozenset(
    {"BudgetApproved", "BudgetAmended", "BudgetTransferredOut", "BudgetTransferredIn"}
)


def fold(state: LineState | None, record: StoredRecord, calendar: BudgetRules) -> LineState:
    """The line after one more record (its own ``apply``, for the view's figures)."""
    kind = record.topic.rsplit(".", 1)[-1]
    event = decode_state(record.state)
    if state is None:
        assert kind == "BudgetLineCreated", f"a line's first record is its creation, not {kind}"
        state = LineState(
            id=str(record.originator_id), version=0, position=0,
            fiscal_year=event["fiscal_year"], cost_centre=key_text(event["cost_centre"]),
            category=event["category"], currency=event["currency"],
        )  # fmt: skip
    state.version, state.position = record.originator_version, record.position
    fiscal_period = calendar.period_of(state.fiscal_year, calendar.local_date(event["occurred_at"]))
    period = state.periods[min(max(fiscal_period, 1), PERIODS) - 1]
    amount = event.get("amount_minor", 0)
    relieved = event.get("relieved_minor", 0)
    if kind in _BUDGET_CHANGES:
        state.budget_minor += amount
        for amounts, phased in zip(state.periods, event["phasing_minor"], strict=True):
            amounts[_BUDGET] += phased
        if kind == "BudgetApproved":
            state.status, state.original_minor = "active", amount
    elif kind == "PreEncumbranceRecorded":
        state.pre_minor += amount
        period[_PRE] += amount
    elif kind == "CommitmentRecorded":
        state.committed_minor += amount
        state.pre_minor -= relieved
        period[_COMMITTED] += amount
        period[_PRE] -= relieved
    elif kind == "ActualRecorded":
        state.actual_minor += amount
        state.committed_minor -= relieved
        period[_ACTUAL] += amount
        period[_COMMITTED] -= relieved
    elif kind == "CommitmentReleased":
        state.committed_minor -= amount
        period[_COMMITTED] -= amount
    elif kind == "PostingReversed":
        total = _STAGE_TOTAL[event["stage"]]
        setattr(state, total, getattr(state, total) - amount)
        period[_STAGE_INDEX[event["stage"]]] -= amount
    elif kind == "ForecastUpdated":
        state.etc_minor = event["estimate_to_complete_minor"]
        state.forecast_method = event["method"]
    elif kind == "OverspendDetected":
        state.overspend_flagged = True
    elif kind in ("LineFrozen", "LineUnfrozen"):
        state.frozen = kind == "LineFrozen"
    elif kind == "BudgetLineClosed":
        state.status = "closed"
    return state


# ---- the summary --------------------------------------------------------------------------------
class Amount(msgspec.Struct, frozen=True):
    """Money as the API shows it: ``{"amount": "1234.50", "currency": "GBP"}``."""

    amount: Decimal
    currency: str


class Figures(msgspec.Struct, kw_only=True, rename="camel"):
    """Budget vs actual as of a period, each amount in the line's ``currency``."""

    currency: str
    budget: Amount
    phased_ytd: Amount
    pre_encumbered: Amount
    committed: Amount
    actual: Amount
    available: Amount
    estimate_to_complete: Amount
    #: actual + open commitments + estimate to complete
    forecast: Amount
    #: budget − forecast: positive is an underspend
    variance: Amount
    #: variance as a percentage of budget (2 decimals); None when the budget is zero
    variance_pct: Decimal | None
    #: overspend risk: red when the forecast is above the budget, green otherwise
    rag: str
    #: underspend: green up to 2 % under budget, amber up to 5 %, red beyond (money that
    #: may go unspent); green with no budget or a forecast overspend
    underspend_rag: str


class PeriodRow(msgspec.Struct, kw_only=True, rename="camel"):
    """One fiscal period: its phased budget and the net movements of spend within it."""

    period: int
    starts_on: date
    budget: Amount
    phased_ytd: Amount
    pre_encumbered: Amount
    committed: Amount
    actual: Amount
    actual_ytd: Amount


class LineSummary(Figures, kw_only=True, rename="camel"):
    line_id: str
    version: int
    cost_centre: str
    category: str
    status: str
    frozen: bool
    overspend_flagged: bool
    periods: list[PeriodRow]


class CostCentreSummary(Figures, kw_only=True, rename="camel"):
    cost_centre: str
    lines: int


class BudgetSummary(msgspec.Struct, kw_only=True, rename="camel"):
    fiscal_year: int
    cost_centre: str | None
    #: Year to date means periods 1..asOfPeriod (0: the year has not started).
    as_of_period: int
    lines: list[LineSummary]
    cost_centres: list[CostCentreSummary]


def rag_of(budget: int, forecast: int) -> tuple[Decimal | None, str, str]:
    """Variance %, the overspend-risk RAG and the underspend RAG.

    domain-spec §3 grades one RAG by |variance %| (green ≤ 2 %, amber ≤ 5 %, red above or
    any forecast overspend), which made an untouched line (100 % under) as red as an
    overspent one. The two are different signals, kept apart: overspend risk is red for any
    forecast overspend (else green); the underspend RAG grades how far under budget the
    forecast is by the spec's thresholds (green ≤ 2 %, amber ≤ 5 %, red above)."""
    pct = _percent(budget - forecast, budget) if budget else None
    overspend = "red" if forecast > budget else "green"
    if pct is None or pct <= GREEN_UP_TO:
        underspend = "green"
    else:
        underspend = "amber" if pct <= AMBER_UP_TO else "red"
    return pct, overspend, underspend


def _percent(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


def _figures(totals: dict[str, int], currency: str) -> dict[str, Any]:
    forecast = totals["actual"] + totals["committed"] + totals["etc"]
    available = totals["budget"] - totals["pre"] - totals["committed"] - totals["actual"]
    pct, rag, underspend_rag = rag_of(totals["budget"], forecast)

    def money(minor: int) -> Amount:
        return Amount(minor_to_decimal(minor, currency), currency)

    return dict(
        currency=currency, budget=money(totals["budget"]), phased_ytd=money(totals["ytd"]),
        pre_encumbered=money(totals["pre"]), committed=money(totals["committed"]),
        actual=money(totals["actual"]), available=money(available),
        estimate_to_complete=money(totals["etc"]), forecast=money(forecast),
        variance=money(totals["budget"] - forecast), variance_pct=pct, rag=rag,
        underspend_rag=underspend_rag,
    )  # fmt: skip


def _totals(state: LineState, as_of_period: int) -> dict[str, int]:
    return {
        "budget": state.budget_minor, "pre": state.pre_minor,
        "committed": state.committed_minor, "actual": state.actual_minor,
        "etc": state.etc_minor, "ytd": sum(p[_BUDGET] for p in state.periods[:as_of_period]),
    }  # fmt: skip


def summarise(
    lines: Iterable[LineState], fiscal_year: int, cost_centre: str | None, as_of_period: int,
    calendar: BudgetRules,
) -> BudgetSummary:  # fmt: skip
    """The summary of the given lines (one fiscal year), ytd = periods 1..``as_of_period``."""
    summaries: list[LineSummary] = []
    rollups: dict[tuple[str, str], dict[str, int]] = {}
    counts: dict[tuple[str, str], int] = {}
    for state in sorted(lines, key=lambda s: (s.cost_centre, s.category, s.currency)):
        totals = _totals(state, as_of_period)
        key = (state.cost_centre, state.currency)
        rollup = rollups.setdefault(key, dict.fromkeys(totals, 0))
        for name, value in totals.items():
            rollup[name] += value
        counts[key] = counts.get(key, 0) + 1
        summaries.append(
            LineSummary(
                **_figures(totals, state.currency), line_id=state.id, version=state.version,
                cost_centre=state.cost_centre, category=state.category, status=state.status,
                frozen=state.frozen, overspend_flagged=state.overspend_flagged,
                periods=_period_rows(state, fiscal_year, calendar),
            )
        )  # fmt: skip
    return BudgetSummary(
        fiscal_year=fiscal_year, cost_centre=cost_centre, as_of_period=as_of_period,
        lines=summaries,
        cost_centres=[
            CostCentreSummary(**_figures(totals, currency), cost_centre=centre, lines=counts[key])
            for key, totals in rollups.items()
            for centre, currency in [key]
        ],
    )  # fmt: skip


def _period_rows(state: LineState, fiscal_year: int, calendar: BudgetRules) -> list[PeriodRow]:
    def money(minor: int) -> Amount:
        return Amount(minor_to_decimal(minor, state.currency), state.currency)

    rows, phased_ytd, actual_ytd = [], 0, 0
    for number, (budget, pre, committed, actual) in enumerate(state.periods, start=1):
        phased_ytd += budget
        actual_ytd += actual
        rows.append(
            PeriodRow(
                period=number, starts_on=calendar.period_start(fiscal_year, number),
                budget=money(budget), phased_ytd=money(phased_ytd), pre_encumbered=money(pre),
                committed=money(committed), actual=money(actual), actual_ytd=money(actual_ytd),
            )
        )  # fmt: skip
    return rows
