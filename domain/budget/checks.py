"""The checks every command of a budget line shares, whichever module holds the command.

:class:`BudgetChecks` reads the line's state (:class:`~domain.budget.ledger.BudgetLedger`)
to check a status, turn an amount into minor units of the line's currency or keep the
line's figures representable; the module functions check an input on its own. They raise,
with the input field named; they never change the line.
"""

from __future__ import annotations

from datetime import datetime

from domain.budget.ledger import BudgetLedger
from domain.budget.phasing import PERIODS, even_phasing
from domain.budget.policy import BudgetRules
from domain.shared.envelope import decision_time
from domain.shared.errors import DomainValidationError, InvalidTransitionError
from domain.shared.money import Money, within_total_bound


class BudgetChecks(BudgetLedger):
    def require_status(self, *states: str, action: str) -> None:
        if self.status not in states:
            raise InvalidTransitionError(f"cannot {action} a budget line that is {self.status}")

    def minor_of(
        self, amount: Money, field: str, *, allow_zero: bool = False, signed: bool = False
    ) -> int:
        """The amount in minor units of the line's currency; checks sign and currency."""
        if amount.currency != self.currency:
            raise DomainValidationError(
                f"the line is kept in {self.currency}, not {amount.currency}", field=field
            )
        # Re-checked here: a Money built without Money.of may carry too many decimals.
        minor = Money.of(amount.amount, amount.currency, field=field).minor
        if minor == 0 and not allow_zero:
            raise DomainValidationError("the amount must not be zero", field=field)
        if minor < 0 and not signed:
            raise DomainValidationError("the amount must be positive", field=field)
        return minor

    def require_representable(
        self, field: str = "amount", *, budget: int = 0, phasing: list[int] | None = None,
        estimate: int | None = None, **moved: int,
    ) -> None:  # fmt: skip
        """Refuse a change that would take a figure the read model stores beyond
        ``MAX_TOTAL_MINOR``: the budget (changed by ``budget``), a period's phased budget
        (plus ``phasing``), the estimate to complete, or the movements of a stage of spend
        (stage=minor units moved in or out). Each period's net movement of a stage is at most
        everything that stage ever moved, so bounding that bounds every period's figure too,
        whichever period a posting is dated in."""
        periods = self.phasing_minor if phasing is None else [
            a + b for a, b in zip(self.phasing_minor, phasing, strict=True)
        ]  # fmt: skip
        figures = [self.current_budget_minor + budget, *periods]
        figures += [self.moved_minor[stage] + abs(minor) for stage, minor in moved.items()]
        if estimate is not None:
            figures.append(estimate)
        if not all(within_total_bound(figure) for figure in figures):
            raise DomainValidationError(
                "the amount would take the line's figures beyond what can be held", field=field
            )

    def phasing_from(self, at: datetime, amount: int, rules: BudgetRules) -> list[int]:
        """``amount`` phased evenly over the periods from the one ``at`` falls in (all 12
        before the year starts; the last after it ends)."""
        period = rules.period_of(self.fiscal_year, rules.local_date(at))
        return even_phasing(amount, first_period=min(max(period, 1), PERIODS))


def require_ref(value: str | None, field: str) -> None:
    if not value or not value.strip():
        raise DomainValidationError("a reference is required", field=field)


def require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise DomainValidationError("a reason is required", field="reason")


def require_future(expires_at: datetime) -> None:
    """The expiry is after the decision (the system's clock, not a back-dated
    ``occurred_at``): an authorisation that has already lapsed cannot be granted."""
    if expires_at <= decision_time():
        raise DomainValidationError("the expiry must be in the future", field="expiresAt")


def canonical_cost_centre(cost_centre: str) -> str:
    """The cost centre as the line's key holds it: runs of whitespace collapsed to one
    space, no leading or trailing space, upper case ("cc 100 " and "CC  100" are one)."""
    return " ".join(cost_centre.split()).upper()
