"""TransferBudget: budget moved from one line to another (domain-spec §3).

One decision, two facts: ``BudgetTransferredOut`` on the source and ``BudgetTransferredIn`` on
the target, triggered together only after every rule has passed, so the application saves
both in one transaction or neither. Both halves carry the same ``command_id`` (the envelope)
and name the other line.
"""

from __future__ import annotations

from datetime import datetime

from domain.budget import vocabulary as v
from domain.budget.figures import (
    minor_of,
    phasing_from,
    require_representable,
    require_status,
)
from domain.budget.line import BudgetLine
from domain.budget.policy import BudgetRules
from domain.shared.envelope import current_envelope
from domain.shared.errors import DomainValidationError, InsufficientFundsError
from domain.shared.money import Money


def transfer_budget(
    source: BudgetLine, target: BudgetLine, *, amount: Money, at: datetime, rules: BudgetRules
) -> None:
    """Move ``amount`` from ``source`` to ``target``: same fiscal year and currency, two
    different active lines, within the acting role's approval tier and the source's
    available balance. Each half is phased over the periods from the transfer's own."""
    if source.id == target.id:
        raise DomainValidationError("a line cannot transfer to itself", field="toLineId")
    if source.fiscal_year != target.fiscal_year:
        raise DomainValidationError("the lines are in different fiscal years", field="toLineId")
    if source.currency != target.currency:
        raise DomainValidationError("the lines are kept in different currencies", field="toLineId")
    require_status(source, v.ACTIVE, action="transfer budget from")
    require_status(target, v.ACTIVE, action="transfer budget to")
    minor = minor_of(source, amount, "amount")
    role = current_envelope().actor_role
    rules.require_approval(role, amount.amount, source.currency)
    if minor > source.available_minor:
        raise InsufficientFundsError(
            "the amount is more than the source line's available balance", field="amount"
        )
    phasing_out = phasing_from(source, at, -minor, rules)
    phasing_in = phasing_from(target, at, minor, rules)
    require_representable(source, budget=-minor, phasing=phasing_out)
    require_representable(target, budget=minor, phasing=phasing_in)
    source.trigger_event(
        BudgetLine.BudgetTransferredOut, amount_minor=-minor, currency=source.currency,
        phasing_minor=phasing_out, to_line_id=target.id,
        approval_tier=role, occurred_at=at,
    )  # fmt: skip
    target.trigger_event(
        BudgetLine.BudgetTransferredIn, amount_minor=minor, currency=target.currency,
        phasing_minor=phasing_in, from_line_id=source.id,
        approval_tier=role, occurred_at=at,
    )  # fmt: skip
