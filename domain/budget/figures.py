"""A budget line's figures: what the rules read of a line, and the checks on its amounts.

:class:`BudgetFacts` is the state the rules read (a :class:`~domain.budget.line.BudgetLine` is
one, as its events' ``apply`` assigned it). The functions check a status, turn an amount into
minor units of the line's currency, phase an amount, and keep the figures the read model
stores representable. They raise the domain's errors, with the input field named; a command's
``check_*`` returns the fields of the event it records (:data:`Recorded`). None changes the line,
and no event's ``apply`` calls a check: replay never re-runs today's rules.

Approving the budget records a decision already taken (finance, with its reference): the
original budget and its 12 periods, as given (they must sum to the amount) or the amount phased
evenly. A forecast is the estimate to complete of an active line and how it was estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, overload

from domain.budget import vocabulary as v
from domain.budget.checks import require_ref
from domain.budget.phasing import PERIODS, even_phasing
from domain.budget.policy import BudgetRules
from domain.budget.postings import Book, Release
from domain.shared.errors import DomainValidationError, InvalidTransitionError
from domain.shared.money import Money, minor_to_decimal, within_total_bound

#: The fields of the event a command records, as its ``check_*`` function decided them.
Recorded = dict[str, Any]


class BudgetFacts(Protocol):
    """What the rules read of a budget line (totals in minor units of ``currency``)."""

    fiscal_year: int
    currency: str
    status: str
    frozen: bool
    current_budget_minor: int
    phasing_minor: list[int]
    requests: dict[str, dict[str, Any]]
    overspend_limit_minor: int
    overspend_expires_at: datetime | None

    # Read-only: the line's spend book holds them (see domain.budget.postings.FromBook).
    @property
    def moved_minor(self) -> dict[str, int]:
        """stage → everything it ever moved, in or out: bounds any one period's net movement."""

    @property
    def postings(self) -> Book: ...
    @property
    def releases(self) -> dict[str, Release]: ...
    @property
    def available_minor(self) -> int: ...


class InCurrency:
    """A figure the line keeps in minor units (its attribute ``minor``), read as the Decimal
    amount it is in the line's currency: ``current_budget = InCurrency("current_budget_minor")``.
    The minor units stay the one truth; the Decimal is only ever derived from them."""

    def __init__(self, minor: str) -> None:
        self.minor = minor

    @overload
    def __get__(self, line: None, owner: type) -> InCurrency: ...
    @overload
    def __get__(self, line: BudgetFacts, owner: type | None = None) -> Decimal: ...
    def __get__(self, line: BudgetFacts | None, owner: type | None = None) -> Decimal | InCurrency:
        if line is None:
            return self  # read on the class: the descriptor itself, as a property is
        minor: int = getattr(line, self.minor)
        return minor_to_decimal(minor, line.currency)


def require_status(line: BudgetFacts, *states: str, action: str) -> None:
    if line.status not in states:
        raise InvalidTransitionError(f"cannot {action} a budget line that is {line.status}")


def minor_of(
    line: BudgetFacts, amount: Money, field: str, *, allow_zero: bool = False,
    signed: bool = False,
) -> int:  # fmt: skip
    """The amount in minor units of the line's currency; checks sign and currency."""
    if amount.currency != line.currency:
        raise DomainValidationError(
            f"the line is kept in {line.currency}, not {amount.currency}", field=field
        )
    # Re-checked here: a Money built without Money.of may carry too many decimals.
    minor = Money.of(amount.amount, amount.currency, field=field).minor
    if minor == 0 and not allow_zero:
        raise DomainValidationError("the amount must not be zero", field=field)
    if minor < 0 and not signed:
        raise DomainValidationError("the amount must be positive", field=field)
    return minor


def plus(phasing: list[int], change: list[int]) -> list[int]:
    """The phasing with ``change`` added period by period."""
    return [a + b for a, b in zip(phasing, change, strict=True)]


def require_representable(
    line: BudgetFacts, field: str = "amount", *, budget: int = 0,
    phasing: list[int] | None = None, estimate: int | None = None,
    moved: Mapping[str, int] | None = None,
) -> None:  # fmt: skip
    """Refuse a change that would take a figure the read model stores beyond
    ``MAX_TOTAL_MINOR``: the budget (changed by ``budget``), a period's phased budget (plus
    ``phasing``), the estimate to complete, or the movements of a stage of spend (``moved``:
    stage → minor units moved in or out). Each period's net movement of a stage is at most
    everything that stage ever moved, so bounding that bounds every period's figure too,
    whichever period a posting is dated in."""
    periods = line.phasing_minor if phasing is None else plus(line.phasing_minor, phasing)
    figures = [line.current_budget_minor + budget, *periods]
    figures += [line.moved_minor[stage] + abs(minor) for stage, minor in (moved or {}).items()]
    if estimate is not None:
        figures.append(estimate)
    if not all(within_total_bound(figure) for figure in figures):
        raise DomainValidationError(
            "the amount would take the line's figures beyond what can be held", field=field
        )


def phasing_from(line: BudgetFacts, at: datetime, amount: int, rules: BudgetRules) -> list[int]:
    """``amount`` phased evenly over the periods from the one ``at`` falls in (all 12
    before the year starts; the last after it ends)."""
    period = rules.period_of(line.fiscal_year, rules.local_date(at))
    return even_phasing(amount, first_period=min(max(period, 1), PERIODS))


# ---- the line's own commands ----------------------------------------------------------
def check_approval(
    line: BudgetFacts, amount: Money, approval_ref: str, phasing: list[Money] | None
) -> Recorded:
    require_status(line, v.DRAFT, action="approve the budget of")
    total = minor_of(line, amount, "amount", allow_zero=True)
    require_ref(approval_ref, "approvalRef")
    if phasing is None:
        phased = even_phasing(total)
    else:
        if len(phasing) != PERIODS:
            raise DomainValidationError("give 12 period amounts", field="phasing")
        phased = [minor_of(line, part, "phasing", allow_zero=True) for part in phasing]
        if sum(phased) != total:
            raise DomainValidationError("the periods must sum to the amount", field="phasing")
    require_representable(line, budget=total, phasing=phased)
    return {
        "amount_minor": total, "currency": line.currency, "phasing_minor": phased,
        "approval_ref": approval_ref,
    }  # fmt: skip


def check_forecast(line: BudgetFacts, estimate_to_complete: Money, method: str) -> Recorded:
    require_status(line, v.ACTIVE, action="forecast")
    estimate = minor_of(line, estimate_to_complete, "estimateToComplete", allow_zero=True)
    require_ref(method, "method")
    require_representable(line, "estimateToComplete", estimate=estimate)
    return {"estimate_to_complete_minor": estimate, "currency": line.currency, "method": method}


def check_freeze(line: BudgetFacts, *, frozen: bool) -> None:
    """Freezing (``frozen``) or unfreezing an active line that is not so already."""
    require_status(line, v.ACTIVE, action="freeze" if frozen else "unfreeze")
    if line.frozen == frozen:
        raise InvalidTransitionError(
            "the line is already frozen" if frozen else "the line is not frozen"
        )
