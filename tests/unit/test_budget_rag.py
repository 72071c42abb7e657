"""The budget summary's two signals (projections.budget.budget_vs_actual.rag_of): overspend
risk (``rag``) and
underspend (``underspendRag``), graded apart so that money left unspent is never shown as red
as an overspend."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projections.budget.budget_vs_actual import rag_of

D = Decimal


@pytest.mark.parametrize(
    ("budget", "forecast", "pct", "rag", "underspend"),
    [
        (1_000_000, 0, D("100.00"), "green", "red"),  # untouched: all of it unspent
        (1_000_000, 870_000, D("13.00"), "green", "red"),  # 13 % under
        (120_000, 115_000, D("4.17"), "green", "amber"),  # within 5 % under
        (1_200_000, 1_180_000, D("1.67"), "green", "green"),  # within 2 % under
        (1_000_000, 1_000_000, D("0.00"), "green", "green"),  # on budget
        (6_000_000, 6_060_000, D("-1.00"), "red", "green"),  # any forecast overspend is red
        (0, 0, None, "green", "green"),  # no budget, nothing forecast
        (0, 100, None, "red", "green"),  # no budget, something forecast
    ],
)
def test_overspend_risk_and_underspend_are_graded_apart(
    budget: int, forecast: int, pct: Decimal | None, rag: str, underspend: str
) -> None:
    assert rag_of(budget, forecast) == (pct, rag, underspend)


def test_the_thresholds_are_inclusive() -> None:
    assert rag_of(10_000, 9_800)[2] == "green"  # exactly 2 % under
    assert rag_of(10_000, 9_799)[2] == "amber"
    assert rag_of(10_000, 9_500)[2] == "amber"  # exactly 5 % under
    assert rag_of(10_000, 9_499)[2] == "red"
