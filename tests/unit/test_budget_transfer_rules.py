"""TransferBudget in the domain: both halves or none (domain-spec §3). The atomic write of
both lines is proved on real databases in tests/integration/test_budget_transfer.py."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from domain.budget.line import BudgetLine
from domain.budget.transfer import transfer_budget
from domain.shared.base import event_id_for
from domain.shared.envelope import recording
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainError,
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money
from tests.support.budget import RULES, BudgetStory, at, gbp
from tests.support.gwt import make_envelope


def line(cost_centre: str = "CC-100", *, budget: str | None = "12000", **kwargs: Any) -> BudgetLine:
    story = BudgetStory(cost_centre=cost_centre, **kwargs)
    if budget is not None:
        story.do("approve", amount=Money.of(budget, story.line.currency), approval_ref="A-1")
    return story.given()


def transfer(
    source: BudgetLine, target: BudgetLine, amount: Money, *, role: str = "finance",
    when: datetime | None = None,
) -> tuple[list[Any], list[Any]]:  # fmt: skip
    when = when or at(100)
    with recording(make_envelope(when, role=role, reason="re-plan")):
        transfer_budget(source, target, amount=amount, at=when, rules=RULES)
    return source.collect_events(), target.collect_events()


def refused(
    source: BudgetLine, target: BudgetLine, amount: Money, error: type[DomainError],
    role: str = "finance",
) -> DomainError:  # fmt: skip
    before = copy.deepcopy((vars(source), vars(target)))
    with pytest.raises(error) as raised:
        transfer(source, target, amount, role=role)
    assert source.pending_events == [] and target.pending_events == []
    assert (vars(source), vars(target)) == before
    return raised.value


def test_a_transfer_moves_budget_out_of_one_line_into_the_other() -> None:
    source, target = line("CC-1"), line("CC-2", budget="100")
    (out,), (into,) = transfer(source, target, gbp("900"))
    assert isinstance(out, BudgetLine.BudgetTransferredOut)
    assert isinstance(into, BudgetLine.BudgetTransferredIn)
    assert (out.amount_minor, out.to_line_id, out.approval_tier) == (-90_000, target.id, "finance")
    assert (into.amount_minor, into.from_line_id) == (90_000, source.id)
    # One decision: both halves carry the same command id, each at its line's next version.
    assert out.command_id == into.command_id and out.reason == "re-plan"
    assert out.event_id == event_id_for(source.id, 3) and into.event_id == event_id_for(
        target.id, 3
    )
    # Made in period 4 (July): phased over periods 4..12, 100 each.
    assert out.phasing_minor == [0, 0, 0] + [-10_000] * 9
    assert into.phasing_minor == [0, 0, 0] + [10_000] * 9
    assert (source.current_budget, target.current_budget) == (11100, 1000)
    assert sum(source.phasing) == source.current_budget


def test_a_transfer_of_the_whole_available_balance_is_allowed_but_not_a_penny_more() -> None:
    source, target = line("CC-1", budget="1000"), line("CC-2")
    refused(source, target, gbp("1000.01"), InsufficientFundsError)
    transfer(source, target, gbp("1000"))
    assert source.available == 0


def test_a_transfer_above_the_acting_roles_tier_needs_approval() -> None:
    source, target = line("CC-1", budget="900000"), line("CC-2")
    refused(source, target, gbp("50000.01"), ApprovalRequiredError, role="finance")
    transfer(source, target, gbp("50000.01"), role="finance_director")


@pytest.mark.parametrize(
    ("target_kwargs", "field"),
    [
        ({"cost_centre": "CC-100"}, "toLineId"),  # the same line
        ({"cost_centre": "CC-2", "currency": "EUR"}, "toLineId"),
    ],
)
def test_a_transfer_to_itself_or_across_currencies_is_refused(
    target_kwargs: dict[str, Any], field: str
) -> None:
    source = line()
    target = source if target_kwargs["cost_centre"] == "CC-100" else line(**target_kwargs)
    assert refused(source, target, gbp("1"), DomainValidationError).field == field


def test_a_transfer_across_fiscal_years_is_refused() -> None:
    source, target = line("CC-1"), line("CC-2")
    target.fiscal_year = 2027  # as if created for the next year
    assert refused(source, target, gbp("1"), DomainValidationError).field == "toLineId"


def test_a_transfer_to_or_from_a_line_not_active_is_refused() -> None:
    active, draft = line("CC-1"), line("CC-2", budget=None)
    refused(active, draft, gbp("1"), InvalidTransitionError)
    refused(draft, active, gbp("1"), InvalidTransitionError)
    closed = BudgetStory(cost_centre="CC-3").approved().do("close").given()
    refused(closed, active, gbp("1"), InvalidTransitionError)


def test_a_transfer_of_nothing_is_refused() -> None:
    assert refused(line("CC-1"), line("CC-2"), gbp("0"), DomainValidationError).field == "amount"
