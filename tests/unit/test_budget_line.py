"""BudgetLine, given-when-then: creation, approval, amendment, overspend authorisation,
forecast, freeze, close (domain-spec §3). Spend is in test_budget_spend.py, transfers in
test_budget_transfer_rules.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.budget.line import BudgetLine
from domain.budget.vocabulary import ACTIVE, CLOSED
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money
from tests.support.budget import (
    FY,
    RULES,
    T0,
    active_line,
    at,
    closed_line,
    draft_line,
    gbp,
    spent_line,
)
from tests.support.gwt import Expect, then, then_refused, when

INVALID, VALIDATION = "INVALID_TRANSITION", "VALIDATION"


# ---- creation --------------------------------------------------------------------------------
def test_creating_a_line_records_its_natural_key_and_currency() -> None:
    outcome = when(
        BudgetLine, "create", at=T0, role="finance", fiscal_year=FY, cost_centre="CC-7",
        category="training", currency="JPY",
    )  # fmt: skip
    then(
        outcome,
        Expect(
            BudgetLine.BudgetLineCreated, fiscal_year=FY, cost_centre="CC-7",
            category="training", currency="JPY",
        ),
    )  # fmt: skip
    assert outcome.aggregate.id == BudgetLine.id_for(FY, "CC-7", "training")


def test_the_id_is_the_same_for_the_same_key_and_differs_otherwise() -> None:
    key = BudgetLine.id_for(FY, "CC-7", "training")
    assert key == BudgetLine.id_for(FY, "CC-7", "training")
    others = {
        BudgetLine.id_for(FY + 1, "CC-7", "training"),
        BudgetLine.id_for(FY, "CC-8", "training"),
        BudgetLine.id_for(FY, "CC-7", "supplies"),
    }
    assert key not in others and len(others) == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"category": "travel"}, "category"),
        ({"fiscal_year": 1999}, "fiscalYear"),
        ({"cost_centre": " "}, "costCentre"),
    ],
)
def test_a_line_with_an_unknown_currency_category_or_year_is_refused(
    changes: dict[str, object], field: str
) -> None:
    fields = {"fiscal_year": FY, "cost_centre": "CC-1", "category": "supplies", "currency": "GBP"}
    refusal = then_refused(
        BudgetLine, "create", DomainValidationError, VALIDATION, at=T0, role="finance",
        **{**fields, **changes},
    )  # fmt: skip
    assert refusal.field == field


# ---- approval --------------------------------------------------------------------------------
def test_approving_records_the_original_budget_phased_evenly() -> None:
    line = draft_line().given()
    outcome = when(
        line, "approve", at=T0, role="finance", amount=gbp("1000.00"), approval_ref="FIN-1"
    )
    then(
        outcome,
        Expect(
            BudgetLine.BudgetApproved, amount_minor=100_000, currency="GBP",
            approval_ref="FIN-1", phasing_minor=[8334] * 4 + [8333] * 8,
        ),
    )  # fmt: skip
    assert (line.status, line.original_budget, line.current_budget) == (ACTIVE, 1000, 1000)
    assert line.available == Decimal("1000.00")


def test_approving_with_a_phasing_records_it_as_given() -> None:
    phasing = [gbp("0")] * 6 + [gbp("200.01")] * 5 + [gbp("0.05")]
    outcome = when(
        draft_line().given(), "approve", at=T0, role="finance", amount=gbp("1000.10"),
        approval_ref="FIN-1", phasing=phasing,
    )  # fmt: skip
    then(outcome, Expect(BudgetLine.BudgetApproved, phasing_minor=[0] * 6 + [20001] * 5 + [5]))


@pytest.mark.parametrize(
    "phasing",
    [
        [gbp("100")] * 11,  # eleven periods
        [gbp("100")] * 11 + [gbp("99.99")],  # sums to 1,199.99, not 1,200
        [gbp("200")] * 6 + [gbp("-100")] * 2 + [gbp("100")] * 4,  # a negative period
        [gbp("100")] * 11 + [Money.of("100", "EUR")],  # another currency
    ],
)
def test_a_phasing_that_is_not_twelve_positive_amounts_summing_to_the_budget_is_refused(
    phasing: list[Money],
) -> None:
    refusal = then_refused(
        draft_line().given(), "approve", DomainValidationError, VALIDATION, at=T0,
        role="finance", amount=gbp("1200"), approval_ref="FIN-1", phasing=phasing,
    )  # fmt: skip
    assert refusal.field == "phasing"


def test_approving_in_another_currency_or_with_too_many_decimals_is_refused() -> None:
    line = draft_line().given()
    for amount in (Money.of("10", "EUR"), Money(Decimal("10.001"), "GBP")):
        refusal = then_refused(
            line, "approve", DomainValidationError, VALIDATION, at=T0, role="finance",
            amount=amount, approval_ref="FIN-1",
        )  # fmt: skip
        assert refusal.field == "amount"


def test_approving_twice_is_refused() -> None:
    then_refused(
        active_line().given(), "approve", InvalidTransitionError, INVALID, at=T0,
        role="finance", amount=gbp("5"), approval_ref="FIN-2",
    )  # fmt: skip


# ---- amendment -------------------------------------------------------------------------------
def test_a_manager_amends_within_the_manager_tier_phased_from_the_current_period() -> None:
    line = active_line().given()
    # 10 July 2026 is period 4 of FY 2026: 900 over periods 4..12 is 100 each.
    outcome = when(
        line, "amend", at=at(100), role="manager", amount=gbp("900"), approval_ref="CHG-1",
        rules=RULES,
    )  # fmt: skip
    then(
        outcome,
        Expect(
            BudgetLine.BudgetAmended, amount_minor=90_000, approval_ref="CHG-1",
            approval_tier="manager", phasing_minor=[0, 0, 0] + [10_000] * 9, currency="GBP",
        ),
    )  # fmt: skip
    assert (line.current_budget, line.original_budget) == (Decimal("12900.00"), 12000)
    assert sum(line.phasing) == line.current_budget


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("manager", "5000.00", "5000.01"),
        ("finance", "50000.00", "50000.01"),
        ("finance_director", "250000.00", "250000.01"),
    ],
)
def test_an_amendment_above_the_acting_roles_tier_needs_approval(
    role: str, allowed: str, refused: str
) -> None:
    line = active_line().given()
    then_refused(
        line, "amend", ApprovalRequiredError, "APPROVAL_REQUIRED", at=at(1), role=role,
        amount=gbp(refused), approval_ref="CHG-1", rules=RULES,
    )  # fmt: skip
    outcome = when(
        line, "amend", at=at(1), role=role, amount=gbp(allowed), approval_ref="CHG-1",
        rules=RULES,
    )  # fmt: skip
    then(outcome, Expect(BudgetLine.BudgetAmended, approval_tier=role))


def test_the_board_amends_any_amount_and_a_reduction_is_judged_by_its_size() -> None:
    line = active_line("900000").given()
    when(line, "amend", at=at(1), role="board", amount=gbp("5000000"), approval_ref="B-1",
         rules=RULES)  # fmt: skip
    then_refused(
        line, "amend", ApprovalRequiredError, "APPROVAL_REQUIRED", at=at(2), role="manager",
        amount=gbp("-5000.01"), approval_ref="CHG-2", rules=RULES,
    )  # fmt: skip


def test_a_reduction_below_what_is_already_used_is_refused() -> None:
    line = spent_line().given()  # available 9,500
    then_refused(
        line, "amend", InsufficientFundsError, "INSUFFICIENT_FUNDS", at=at(1), role="finance",
        amount=gbp("-9500.01"), approval_ref="CHG-1", rules=RULES,
    )  # fmt: skip
    when(line, "amend", at=at(1), role="finance", amount=gbp("-9500"), approval_ref="CHG-1",
         rules=RULES)  # fmt: skip
    assert line.available == 0


def test_a_top_up_of_an_overspent_line_is_accepted_even_short_of_the_deficit() -> None:
    """A positive amendment only adds to available: it is never refused for the balance, even
    when the line stays overspent after it (+3,000 on -3,500). A reduction still is."""
    line = active_line().do("record_actual", reference="INV-1", amount=gbp("15500")).given()
    assert line.available == Decimal("-3500.00")
    then(
        when(line, "amend", at=at(1), role="finance", amount=gbp("3000"), approval_ref="CHG-1",
             rules=RULES),
        Expect(BudgetLine.BudgetAmended, amount_minor=300_000),
    )  # fmt: skip
    assert line.available == Decimal("-500.00")
    then_refused(
        line, "amend", InsufficientFundsError, "INSUFFICIENT_FUNDS", at=at(2), role="finance",
        amount=gbp("-0.01"), approval_ref="CHG-2", rules=RULES,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("story", "error", "code"),
    [
        (draft_line, InvalidTransitionError, INVALID),
        (closed_line, InvalidTransitionError, INVALID),
    ],
)
def test_only_an_active_line_is_amended(story, error, code) -> None:  # type: ignore[no-untyped-def]
    then_refused(
        story().given(), "amend", error, code, at=at(1), role="finance", amount=gbp("10"),
        approval_ref="CHG-1", rules=RULES,
    )  # fmt: skip


def test_an_amendment_of_zero_or_without_an_approval_reference_is_refused() -> None:
    line = active_line().given()
    for amount, ref, field in ((gbp("0"), "CHG-1", "amount"), (gbp("1"), " ", "approvalRef")):
        refusal = then_refused(
            line, "amend", DomainValidationError, VALIDATION, at=at(1), role="finance",
            amount=amount, approval_ref=ref, rules=RULES,
        )  # fmt: skip
        assert refusal.field == field


# ---- overspend authorisation -----------------------------------------------------------------
def test_authorising_an_overspend_records_its_limit_expiry_and_tier() -> None:
    line = active_line().given()
    outcome = when(
        line, "authorise_overspend", at=at(1), role="manager", limit=gbp("2500"),
        expires_at=at(31), rules=RULES,
    )  # fmt: skip
    then(
        outcome,
        Expect(
            BudgetLine.OverspendAuthorised, limit_minor=250_000, expires_at=at(31),
            approval_tier="manager", currency="GBP",
        ),
    )  # fmt: skip


def test_an_overspend_above_the_tier_or_already_expired_is_refused() -> None:
    line = active_line().given()
    then_refused(
        line, "authorise_overspend", ApprovalRequiredError, "APPROVAL_REQUIRED", at=at(1),
        role="manager", limit=gbp("5000.01"), expires_at=at(31), rules=RULES,
    )  # fmt: skip
    refusal = then_refused(
        line, "authorise_overspend", DomainValidationError, VALIDATION, at=at(1),
        role="finance", limit=gbp("10"), expires_at=at(1), rules=RULES,
    )  # fmt: skip
    assert refusal.field == "expiresAt"
    then_refused(
        draft_line().given(), "authorise_overspend", InvalidTransitionError, INVALID,
        at=at(1), role="finance", limit=gbp("10"), expires_at=at(9), rules=RULES,
    )  # fmt: skip


# ---- forecast --------------------------------------------------------------------------------
def test_a_forecast_is_actual_plus_open_commitments_plus_the_estimate_to_complete() -> None:
    line = spent_line().given()  # actual 1,600, committed 400
    outcome = when(
        line, "update_forecast", at=at(1), role="manager",
        estimate_to_complete=gbp("7000.50"), method="run_rate",
    )  # fmt: skip
    then(
        outcome,
        Expect(
            BudgetLine.ForecastUpdated, estimate_to_complete_minor=700_050, method="run_rate",
            currency="GBP",
        ),
    )  # fmt: skip
    assert line.forecast == Decimal("9000.50")


def test_a_negative_estimate_or_a_forecast_of_a_line_not_active_is_refused() -> None:
    then_refused(
        active_line().given(), "update_forecast", DomainValidationError, VALIDATION,
        at=at(1), role="manager", estimate_to_complete=gbp("-1"), method="manual",
    )  # fmt: skip
    for story in (draft_line, closed_line):
        then_refused(
            story().given(), "update_forecast", InvalidTransitionError, INVALID, at=at(1),
            role="manager", estimate_to_complete=gbp("1"), method="manual",
        )  # fmt: skip


# ---- freeze, unfreeze, close -----------------------------------------------------------------
def test_freezing_and_unfreezing_an_active_line() -> None:
    line = active_line().given()
    then(when(line, "freeze", at=at(1), role="finance"), Expect(BudgetLine.LineFrozen))
    assert line.frozen
    then_refused(line, "freeze", InvalidTransitionError, INVALID, at=at(2), role="finance")
    then(when(line, "unfreeze", at=at(3), role="finance"), Expect(BudgetLine.LineUnfrozen))
    assert not line.frozen
    then_refused(line, "unfreeze", InvalidTransitionError, INVALID, at=at(4), role="finance")


def test_a_draft_or_closed_line_is_not_frozen() -> None:
    for story in (draft_line, closed_line):
        then_refused(story().given(), "freeze", InvalidTransitionError, INVALID, at=at(1))


def test_closing_a_line_and_closing_it_again() -> None:
    for story in (draft_line, active_line):
        line = story().given()
        then(when(line, "close", at=at(1), role="finance"), Expect(BudgetLine.BudgetLineClosed))
        assert line.status == CLOSED
        then_refused(line, "close", InvalidTransitionError, INVALID, at=at(2), role="finance")


def test_a_closed_line_takes_no_budget_change_commitment_or_requisition() -> None:
    line = closed_line().given()
    for command, kwargs in (
        ("approve", {"amount": gbp("1"), "approval_ref": "A"}),
        ("amend", {"amount": gbp("1"), "approval_ref": "A", "rules": RULES}),
        ("record_commitment", {"reference": "PO-9", "amount": gbp("1")}),
        ("record_pre_encumbrance", {"reference": "REQ-9", "amount": gbp("1")}),
        ("unfreeze", {}),
    ):
        then_refused(line, command, InvalidTransitionError, INVALID, at=at(1), role="board",
                     **kwargs)  # fmt: skip
