"""BudgetLine spend, given-when-then: requisitions, commitments, actuals and releases, the
relief between the stages, references unique per stage (a repeat is idempotent), the funds
check and its overspend authorisation, and overspends flagged (domain-spec §3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.budget.line import BudgetLine
from domain.shared.errors import (
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money
from tests.support.budget import (
    RULES,
    active_line,
    at,
    closed_line,
    draft_line,
    gbp,
    spent_line,
)
from tests.support.gwt import Expect, then, then_refused, when

INVALID, VALIDATION, FUNDS = "INVALID_TRANSITION", "VALIDATION", "INSUFFICIENT_FUNDS"
Pre, Commit, Actual = (
    BudgetLine.PreEncumbranceRecorded,
    BudgetLine.CommitmentRecorded,
    BudgetLine.ActualRecorded,
)


def used(line: BudgetLine) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return line.pre_encumbered, line.committed, line.actual, line.available


# ---- requisitions ----------------------------------------------------------------------------
def test_a_requisition_is_pre_encumbered() -> None:
    line = active_line().given()
    outcome = when(
        line, "record_pre_encumbrance", at=at(1), role="manager", reference="REQ-1",
        amount=gbp("250.25"),
    )  # fmt: skip
    then(outcome, Expect(Pre, reference="REQ-1", amount_minor=25_025, currency="GBP"))
    assert used(line) == (Decimal("250.25"), 0, 0, Decimal("11749.75"))


def test_a_requisition_relieves_nothing() -> None:
    refusal = then_refused(
        spent_line().given(), "record_pre_encumbrance", DomainValidationError, VALIDATION,
        at=at(1), reference="REQ-9", amount=gbp("1"), relieves_reference="REQ-1",
    )  # fmt: skip
    assert refusal.field == "relievesReference"


def test_a_requisition_past_the_available_balance_is_refused() -> None:
    then_refused(
        active_line("100").given(), "record_pre_encumbrance", InsufficientFundsError, FUNDS,
        at=at(1), reference="REQ-1", amount=gbp("100.01"),
    )  # fmt: skip


# ---- commitments -----------------------------------------------------------------------------
def test_a_commitment_relieves_its_requisition_up_to_the_open_amount() -> None:
    line = spent_line().given()  # REQ-1: 500 open
    outcome = when(
        line, "record_commitment", at=at(1), role="finance", reference="PO-2",
        amount=gbp("650"), relieves_reference="REQ-1",
    )  # fmt: skip
    then(
        outcome,
        Expect(
            Commit, reference="PO-2", amount_minor=65_000, relieves_reference="REQ-1",
            relieved_minor=50_000, overspend_authorised=False,
        ),
    )  # fmt: skip
    # 500 moved from pre-encumbered to committed, and 150 more committed.
    assert used(line) == (0, Decimal("1050.00"), Decimal("1600.00"), Decimal("9350.00"))


def test_a_smaller_commitment_leaves_the_rest_of_the_requisition_open() -> None:
    line = spent_line().given()
    when(line, "record_commitment", at=at(1), reference="PO-2", amount=gbp("200"),
         relieves_reference="REQ-1")  # fmt: skip
    assert line.postings["pre_encumbrance"]["REQ-1"]["open"] == 30_000
    assert used(line) == (Decimal("300.00"), Decimal("600.00"), Decimal("1600.00"), 9500)


def test_a_commitment_relieving_an_unknown_requisition_is_refused() -> None:
    refusal = then_refused(
        spent_line().given(), "record_commitment", InvalidTransitionError, INVALID, at=at(1),
        reference="PO-2", amount=gbp("1"), relieves_reference="REQ-404",
    )  # fmt: skip
    assert refusal.field == "relievesReference"


def test_a_commitment_past_the_available_balance_is_refused() -> None:
    line = spent_line().given()  # available 9,500 (+500 if it relieves REQ-1)
    then_refused(line, "record_commitment", InsufficientFundsError, FUNDS, at=at(1),
                 reference="PO-2", amount=gbp("9500.01"))  # fmt: skip
    then_refused(line, "record_commitment", InsufficientFundsError, FUNDS, at=at(1),
                 reference="PO-2", amount=gbp("10000.01"), relieves_reference="REQ-1")  # fmt: skip
    outcome = when(line, "record_commitment", at=at(1), reference="PO-2",
                   amount=gbp("10000"), relieves_reference="REQ-1")  # fmt: skip
    then(outcome, Expect(Commit, overspend_authorised=False))
    assert line.available == 0


def test_an_active_overspend_authorisation_covers_a_commitment_up_to_its_limit() -> None:
    line = active_line("1000").given()
    when(line, "authorise_overspend", at=at(1), role="manager", limit=gbp("300"),
         expires_at=at(10), rules=RULES)  # fmt: skip
    then_refused(line, "record_commitment", InsufficientFundsError, FUNDS, at=at(2),
                 reference="PO-1", amount=gbp("1300.01"))  # fmt: skip
    outcome = when(line, "record_commitment", at=at(2), reference="PO-1", amount=gbp("1300"))
    then(outcome, Expect(Commit, amount_minor=130_000, overspend_authorised=True))
    assert line.available == Decimal("-300.00")


def test_an_expired_overspend_authorisation_covers_nothing() -> None:
    line = active_line("1000").given()
    when(line, "authorise_overspend", at=at(1), role="manager", limit=gbp("300"),
         expires_at=at(10), rules=RULES)  # fmt: skip
    then_refused(line, "record_commitment", InsufficientFundsError, FUNDS, at=at(10),
                 reference="PO-1", amount=gbp("1000.01"))  # fmt: skip


@pytest.mark.parametrize("command", ["record_commitment", "record_pre_encumbrance"])
def test_a_frozen_or_draft_line_takes_no_new_commitment_or_requisition(command: str) -> None:
    frozen = active_line().do("freeze").given()
    for line in (frozen, draft_line().given()):
        then_refused(line, command, InvalidTransitionError, INVALID, at=at(1),
                     reference="X-1", amount=gbp("1"))  # fmt: skip


# ---- references are unique per line and stage --------------------------------------------------
@pytest.mark.parametrize(
    ("command", "reference", "amount", "relieves"),
    [
        ("record_pre_encumbrance", "REQ-1", "500", None),
        ("record_commitment", "PO-1", "2000", "REQ-2"),
        ("record_actual", "INV-1", "1600", "PO-1"),
    ],
)
def test_a_posting_repeated_with_the_same_reference_and_amount_records_nothing(
    command: str, reference: str, amount: str, relieves: str | None
) -> None:
    line = spent_line().given()
    before = used(line)
    outcome = when(line, command, at=at(1), reference=reference, amount=gbp(amount),
                   relieves_reference=relieves)  # fmt: skip
    assert outcome.events == [] and used(line) == before
    changed = {"amount": gbp("1.00"), "relieves_reference": relieves}
    refusal = then_refused(line, command, InvalidTransitionError, INVALID, at=at(1),
                           reference=reference, **changed)  # fmt: skip
    assert refusal.field == "reference"


def test_a_repeat_is_still_idempotent_after_the_line_is_frozen() -> None:
    line = spent_line().do("freeze").given()
    outcome = when(line, "record_commitment", at=at(1), reference="PO-1", amount=gbp("2000"),
                   relieves_reference="REQ-2")  # fmt: skip
    assert outcome.events == []


def test_the_same_reference_may_be_used_at_another_stage() -> None:
    line = spent_line().given()
    outcome = when(line, "record_commitment", at=at(1), reference="REQ-1", amount=gbp("10"))
    then(outcome, Expect(Commit, reference="REQ-1"))


# ---- actuals ---------------------------------------------------------------------------------
def test_an_actual_relieves_its_commitment_up_to_the_open_amount() -> None:
    line = spent_line().given()  # PO-1: 400 open
    outcome = when(line, "record_actual", at=at(1), reference="INV-2", amount=gbp("450"),
                   relieves_reference="PO-1")  # fmt: skip
    then(outcome, Expect(Actual, amount_minor=45_000, relieved_minor=40_000,
                         year_end_adjustment=False))  # fmt: skip
    assert used(line) == (Decimal("500.00"), 0, Decimal("2050.00"), Decimal("9450.00"))
    # The purchase order is fully relieved: a further invoice against it relieves nothing.
    outcome = when(line, "record_actual", at=at(2), reference="INV-3", amount=gbp("10"),
                   relieves_reference="PO-1")  # fmt: skip
    then(outcome, Expect(Actual, relieved_minor=0))


def test_an_actual_past_the_budget_is_recorded_and_the_overspend_flagged() -> None:
    line = spent_line().given()  # available 9,500
    outcome = when(line, "record_actual", at=at(1), reference="PAY-04", amount=gbp("9600"))
    then(
        outcome,
        Expect(Actual, reference="PAY-04", amount_minor=960_000),
        Expect(BudgetLine.OverspendDetected, reference="PAY-04", available_minor=-10_000,
               authorised=False, currency="GBP"),
    )  # fmt: skip
    assert line.available == Decimal("-100.00") and line.overspend_flagged


def test_an_overspend_within_an_authorisation_is_still_flagged_as_authorised() -> None:
    line = active_line("100").given()
    when(line, "authorise_overspend", at=at(1), role="finance", limit=gbp("50"),
         expires_at=at(5), rules=RULES)  # fmt: skip
    outcome = when(line, "record_actual", at=at(2), reference="INV-1", amount=gbp("120"))
    then(outcome, Expect(Actual), Expect(BudgetLine.OverspendDetected, authorised=True))


def test_an_actual_is_accepted_on_a_frozen_or_draft_line() -> None:
    then(when(active_line().do("freeze").given(), "record_actual", at=at(1), reference="INV-1",
              amount=gbp("5")), Expect(Actual))  # fmt: skip
    then(
        when(draft_line().given(), "record_actual", at=at(1), reference="PAY-1",
             amount=gbp("5")),
        Expect(Actual),
        Expect(BudgetLine.OverspendDetected, available_minor=-500),
    )  # fmt: skip


def test_finance_posts_an_actual_to_a_closed_line_as_a_year_end_adjustment() -> None:
    line = closed_line().given()
    outcome = when(line, "record_actual", at=at(1), role="finance", reference="ACCR-1",
                   amount=gbp("100"), relieves_reference="PO-1")  # fmt: skip
    then(outcome, Expect(Actual, year_end_adjustment=True, relieved_minor=10_000))
    then_refused(line, "record_actual", InvalidTransitionError, INVALID, at=at(1),
                 role="manager", reference="ACCR-2", amount=gbp("1"))  # fmt: skip


# ---- releases --------------------------------------------------------------------------------
def test_releasing_a_commitment_returns_its_open_amount_to_available() -> None:
    line = spent_line().given()  # PO-1: 400 open
    outcome = when(line, "release_commitment", at=at(1), reference="PO-1")
    then(outcome, Expect(BudgetLine.CommitmentReleased, reference="PO-1", amount_minor=40_000,
                         year_end_adjustment=False))  # fmt: skip
    assert used(line) == (Decimal("500.00"), 0, Decimal("1600.00"), Decimal("9900.00"))
    then_refused(line, "release_commitment", InvalidTransitionError, INVALID, at=at(2),
                 reference="PO-1")  # fmt: skip


def test_a_partial_release_never_exceeds_the_open_amount() -> None:
    line = spent_line().given()
    refusal = then_refused(line, "release_commitment", InvalidTransitionError, INVALID,
                           at=at(1), reference="PO-1", amount=gbp("400.01"))  # fmt: skip
    assert refusal.field == "amount"
    then(when(line, "release_commitment", at=at(1), reference="PO-1", amount=gbp("150")),
         Expect(BudgetLine.CommitmentReleased, amount_minor=15_000))  # fmt: skip
    assert line.committed == Decimal("250.00")


def test_releasing_an_unknown_commitment_is_refused() -> None:
    refusal = then_refused(spent_line().given(), "release_commitment", InvalidTransitionError,
                           INVALID, at=at(1), reference="PO-404")  # fmt: skip
    assert refusal.field == "reference"


def test_finance_releases_a_commitment_of_a_closed_line_at_year_end() -> None:
    outcome = when(closed_line().given(), "release_commitment", at=at(1), role="finance",
                   reference="PO-1")  # fmt: skip
    then(outcome, Expect(BudgetLine.CommitmentReleased, year_end_adjustment=True))


# ---- amounts ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "amount",
    [gbp("0"), gbp("-1"), Money.of("1", "EUR"), Money(Decimal("0.001"), "GBP")],
    ids=["zero", "negative", "another currency", "too many decimals"],
)
@pytest.mark.parametrize("command", ["record_pre_encumbrance", "record_commitment",
                                     "record_actual"])  # fmt: skip
def test_a_posting_of_zero_a_negative_amount_or_the_wrong_currency_is_refused(
    command: str, amount: Money
) -> None:
    refusal = then_refused(active_line().given(), command, DomainValidationError, VALIDATION,
                           at=at(1), reference="X-1", amount=amount)  # fmt: skip
    assert refusal.field == "amount"
