"""The histories of budget lines (``tests/support/budget.py``), the *given* of the
given-when-then tests (``tests/unit/test_budget_*.py``), leave the line where their names say.
"""

from __future__ import annotations

from decimal import Decimal

from domain.budget.line import BudgetLine
from domain.budget.vocabulary import ACTIVE, CLOSED, DRAFT
from tests.support.budget import FY, active_line, closed_line, draft_line, spent_line


# ---- the histories say what they are ---------------------------------------------------------
def test_a_draft_line_has_no_budget() -> None:
    line = draft_line().given()
    assert (line.status, line.current_budget, line.available) == (DRAFT, 0, 0)
    assert line.id == BudgetLine.id_for(FY, "CC-100", "supplies")


def test_an_active_line_is_phased_over_twelve_periods() -> None:
    line = active_line().given()
    assert line.status == ACTIVE
    assert line.phasing == [Decimal("1000.00")] * 12


def test_the_spent_line_holds_every_stage_of_spend() -> None:
    line = spent_line().given()
    assert (line.pre_encumbered, line.committed, line.actual) == (500, 400, 1600)
    assert line.available == Decimal("9500.00")
    assert line.postings["pre_encumbrance"]["REQ-2"]["open"] == 0


def test_the_closed_line_is_closed() -> None:
    assert closed_line().given().status == CLOSED
