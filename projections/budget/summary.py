"""The budget summary of domain-spec §3, from stored line states.

:func:`summarise` turns the lines of one fiscal year into budget vs actual per line and
period, rolled up per cost centre (and currency: amounts in two currencies never add up),
each with its overspend-risk and underspend RAG (:func:`rag_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from domain.budget.policy import BudgetRules
from domain.shared.money import minor_to_decimal
from projections.budget.line_state import BUDGET_FIGURE, LineState

#: Underspend RAG thresholds on variance % (domain-spec §3's 2 % and 5 %): green up to 2 %
#: under budget, amber up to 5 %, red beyond. Overspend risk is its own signal: ``rag`` is
#: red for any forecast overspend (see :func:`rag_of`).
GREEN_UP_TO, AMBER_UP_TO = Decimal(2), Decimal(5)


class Amount(msgspec.Struct, frozen=True):
    """Money as the API shows it: ``{"amount": "1234.50", "currency": "GBP"}``."""

    amount: Decimal
    currency: str


class Figures(msgspec.Struct, kw_only=True, rename="camel"):
    """Budget vs actual as of a period, each amount in the line's ``currency``."""

    currency: str
    #: The current budget for the year: as approved, with every amendment and transfer since.
    budget: Amount
    #: The phased budget of periods 1 to `asOfPeriod`.
    phased_ytd: Amount
    #: Requisitions still open: not yet relieved by a purchase order, nor reversed.
    pre_encumbered: Amount
    #: Purchase orders still open: not yet relieved by an invoice, released or reversed.
    committed: Amount
    #: Spend recorded (invoices, payroll), net of reversals.
    actual: Amount
    #: Budget − pre-encumbered − committed − actual; negative when overspent.
    available: Amount
    #: The latest forecast of spend still to come beyond actuals and open commitments.
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

    #: The fiscal period, 1 to 12.
    period: int
    #: The period's first day (ISO 8601 date).
    starts_on: date
    #: The period's phased budget.
    budget: Amount
    #: The phased budget of periods 1 to this one.
    phased_ytd: Amount
    #: The period's net movement of pre-encumbered spend: requisitions raised less those
    #: relieved or reversed.
    pre_encumbered: Amount
    #: The period's net movement of committed spend: purchase orders raised less those
    #: relieved, released or reversed.
    committed: Amount
    #: The spend recorded in the period, net of reversals dated in it.
    actual: Amount
    #: The spend recorded in periods 1 to this one.
    actual_ytd: Amount


class LineSummary(Figures, kw_only=True, rename="camel"):
    #: The budget line's id (a UUID).
    line_id: str
    version: int
    cost_centre: str
    #: The spend category: staffing, supplies, equipment, training, outreach, contracted_services or
    #: other.
    category: str
    #: The line's state: draft (no budget approved yet), active or closed.
    status: str
    #: Whether the line is frozen: no requisitions or purchase orders may be posted to it.
    frozen: bool
    #: Whether an actual has ever left the line overspent (available below zero).
    overspend_flagged: bool
    #: The line's 12 fiscal periods, period 1 first.
    periods: list[PeriodRow]


class CostCentreSummary(Figures, kw_only=True, rename="camel"):
    cost_centre: str
    #: How many budget lines the figures add up (the cost centre's lines in this currency).
    lines: int


class BudgetSummary(msgspec.Struct, kw_only=True, rename="camel"):
    fiscal_year: int
    cost_centre: str | None
    #: Year to date means periods 1..asOfPeriod (0: the year has not started).
    as_of_period: int
    #: Each budget line of the year (of `costCentre`, if given), by cost centre and category.
    lines: list[LineSummary]
    #: The lines' figures added up per cost centre and currency.
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
        "etc": state.etc_minor, "ytd": sum(p[BUDGET_FIGURE] for p in state.periods[:as_of_period]),
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
