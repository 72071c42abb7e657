"""BudgetLine safeguards, given-when-then: rules about *now* are judged when the command is
decided, so a back-dated ``occurredAt`` cannot reach a lapsed overspend authorisation; no
command may take a figure beyond what the read model can hold (``MAX_TOTAL_MINOR``); and a
cost centre is keyed in its canonical form, so spacing and case make no second line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from domain.budget.line import BudgetLine
from domain.budget.transfer import transfer_budget
from domain.shared.envelope import recording
from domain.shared.errors import DomainError, DomainValidationError, InsufficientFundsError
from domain.shared.money import MAX_TOTAL_MINOR, Money
from tests.support.budget import (
    FY,
    RULES,
    BudgetStory,
    active_line,
    at,
    call_kwargs,
    gbp,
)
from tests.support.gwt import Expect, make_envelope, then, then_refused, when

VALIDATION = "VALIDATION"


def decide(
    line: BudgetLine, command: str, *, occurred: datetime, decided: datetime,
    role: str = "finance", **kwargs: Any,
) -> list[Any]:  # fmt: skip
    """Run the command dated ``occurred`` but decided at ``decided`` (the application's
    clock); its new events."""
    kwargs = call_kwargs(line, command, kwargs)
    with recording(make_envelope(occurred, role=role), decided_at=decided):
        getattr(line, command)(**kwargs, at=occurred)
    return list(line.collect_events())


def refused(
    line: BudgetLine, command: str, *, occurred: datetime, decided: datetime, **kwargs: Any
) -> DomainError:
    """The refusal of the command dated ``occurred`` and decided at ``decided``; no event."""
    with pytest.raises(DomainError) as raised:
        decide(line, command, occurred=occurred, decided=decided, **kwargs)
    assert line.pending_events == []
    return raised.value


def authorised_until_day_5() -> BudgetStory:
    """12,000 budget, all committed; an overspend of up to 5,000 authorised until day 5."""
    return (
        active_line()
        .do("record_commitment", reference="PO-1", amount=gbp("12000"))
        .do("authorise_overspend", limit=gbp("5000"), expires_at=at(5))
    )


# ---- back-dating and the overspend authorisation's expiry ---------------------------------
def test_a_commitment_decided_while_the_authorisation_is_in_force_is_covered() -> None:
    line = authorised_until_day_5().given()
    [event] = decide(
        line, "record_commitment", occurred=at(3), decided=at(4), reference="PO-2",
        amount=gbp("4000"),
    )  # fmt: skip
    assert (type(event), event.overspend_authorised) == (BudgetLine.CommitmentRecorded, True)


def test_a_commitment_back_dated_into_a_lapsed_authorisation_is_refused() -> None:
    line = authorised_until_day_5().given()
    refusal = refused(
        line, "record_commitment", occurred=at(3), decided=at(10), reference="PO-2",
        amount=gbp("4000"),
    )  # fmt: skip
    assert (type(refusal), refusal.field) == (InsufficientFundsError, "amount")


def test_an_actual_back_dated_into_a_lapsed_authorisation_is_flagged_unauthorised() -> None:
    line = authorised_until_day_5().given()
    _, flagged = decide(
        line, "record_actual", occurred=at(3), decided=at(10), reference="INV-9",
        amount=gbp("100"),
    )  # fmt: skip
    assert (type(flagged), flagged.authorised) == (BudgetLine.OverspendDetected, False)


@pytest.mark.parametrize("command", ["authorise_overspend", "request_overspend_authorisation"])
def test_an_authorisation_already_lapsed_when_decided_is_refused_however_back_dated(
    command: str,
) -> None:
    line = active_line().given()
    asking = {"reason": "agency staff"} if command.startswith("request") else {}
    refusal = refused(
        line, command, occurred=at(1), decided=at(10), limit=gbp("100"), expires_at=at(5),
        **asking,
    )  # fmt: skip
    assert (type(refusal), refusal.field) == (DomainValidationError, "expiresAt")


def test_a_back_dated_authorisation_still_in_force_when_decided_is_granted() -> None:
    line = active_line().given()
    [event] = decide(
        line, "authorise_overspend", occurred=at(1), decided=at(4), limit=gbp("100"),
        expires_at=at(5),
    )  # fmt: skip
    assert (type(event), event.expires_at) == (BudgetLine.OverspendAuthorised, at(5))


def test_a_request_that_lapsed_before_its_back_dated_approval_is_refused() -> None:
    story = active_line().do(
        "request_overspend_authorisation", role="manager", actor="mo", limit=gbp("100"),
        expires_at=at(5), reason="agency staff",
    )  # fmt: skip
    refusal = refused(
        story.given(), "authorise_overspend", occurred=at(1), decided=at(10),
        limit=gbp("100"), expires_at=at(5), request_id=story.last_event_id(),
    )  # fmt: skip
    assert refusal.field == "expiresAt"


# ---- figures the read model can hold ------------------------------------------------------
def kwd(amount: str) -> Money:
    return Money.of(amount, "KWD")


def test_a_budget_beyond_the_bound_is_refused_on_the_amount() -> None:
    line = BudgetStory(currency="KWD").given()  # 3 decimals: 10^15 KWD is 10^18 fils
    refusal = then_refused(
        line, "approve", DomainValidationError, VALIDATION, at=at(1), role="finance",
        amount=kwd("999999999999999.999"), approval_ref="A-1",
    )  # fmt: skip
    assert refusal.field == "amount"


def test_amendments_may_reach_the_bound_but_not_pass_it() -> None:
    line = active_line("100000000000000.00").given()  # 10^16 minor units
    then(
        when(line, "amend", at=at(1), role="board", amount=Money.from_minor(
            MAX_TOTAL_MINOR - 10**16, "GBP"), approval_ref="B-1", rules=RULES),
        Expect(BudgetLine.BudgetAmended),
    )  # fmt: skip
    assert line.current_budget_minor == MAX_TOTAL_MINOR
    refusal = then_refused(
        line, "amend", DomainValidationError, VALIDATION, at=at(2), role="board",
        amount=gbp("0.01"), approval_ref="B-2", rules=RULES,
    )  # fmt: skip
    assert refusal.field == "amount"


def test_an_actual_beyond_the_bound_is_refused_though_actuals_never_want_funds() -> None:
    line = active_line().do("record_actual", reference="INV-1", amount=gbp(
        "900000000000000.00")).given()  # fmt: skip
    refusal = then_refused(
        line, "record_actual", DomainValidationError, VALIDATION, at=at(1),
        reference="INV-2", amount=gbp("100000000000000.01"),
    )  # fmt: skip
    assert refusal.field == "amount"


def test_committing_and_releasing_over_and_over_cannot_pile_up_one_periods_figure() -> None:
    """Each commitment dated in one period and released in another would add to the first
    period's net movement while the totals stay small: what a stage ever moved is bounded."""
    half = Money.from_minor(MAX_TOTAL_MINOR // 2, "GBP")
    line = (
        active_line("500000000000000.00")
        .do("record_commitment", reference="PO-1", amount=half)
        .do("release_commitment", reference="PO-1")
        .given()
    )
    assert (line.committed_minor, line.moved_minor["commitment"]) == (0, MAX_TOTAL_MINOR)
    refusal = then_refused(
        line, "record_commitment", DomainValidationError, VALIDATION, at=at(60),
        reference="PO-2", amount=half,
    )  # fmt: skip
    assert refusal.field == "amount"


def test_an_estimate_to_complete_beyond_the_bound_is_refused_on_its_field() -> None:
    line = BudgetStory(currency="KWD").do("approve", amount=kwd("1"), approval_ref="A").given()
    refusal = then_refused(
        line, "update_forecast", DomainValidationError, VALIDATION, at=at(1), role="manager",
        estimate_to_complete=kwd("100000000000000.001"), method="run_rate",
    )  # fmt: skip
    assert refusal.field == "estimateToComplete"


def test_a_transfer_that_would_take_the_target_beyond_the_bound_is_refused() -> None:
    source = BudgetStory(currency="KWD").do("approve", amount=kwd("1"), approval_ref="A")
    target = BudgetStory(currency="KWD", cost_centre="CC-200").do(
        "approve", amount=Money.from_minor(MAX_TOTAL_MINOR, "KWD"), approval_ref="A"
    )
    source, target = source.given(), target.given()
    with recording(make_envelope(at(1), role="board")):
        with pytest.raises(DomainValidationError) as raised:
            transfer_budget(source, target, amount=kwd("0.001"), at=at(1), rules=RULES)
    assert raised.value.field == "amount"
    assert source.pending_events == [] and target.pending_events == []


# ---- the cost centre's canonical form ------------------------------------------------------
def test_a_cost_centre_is_stored_collapsed_and_upper_case_and_keys_the_line_so() -> None:
    outcome = when(
        BudgetLine, "create", at=at(0), role="finance", fiscal_year=FY,
        cost_centre="  cc\t 100 ", category="supplies", currency="GBP",
    )  # fmt: skip
    then(outcome, Expect(BudgetLine.BudgetLineCreated, cost_centre="CC 100"))
    assert outcome.aggregate.id == BudgetLine.id_for(FY, "CC 100", "supplies")
    assert BudgetLine.id_for(FY, "cc 100 ", "supplies") == outcome.aggregate.id


def test_a_cost_centre_of_only_whitespace_is_refused() -> None:
    refusal = then_refused(
        BudgetLine, "create", DomainValidationError, VALIDATION, at=at(0), role="finance",
        fiscal_year=FY, cost_centre=" \t ", category="supplies", currency="GBP",
    )  # fmt: skip
    assert refusal.field == "costCentre"
