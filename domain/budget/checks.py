"""The checks of a budget command's inputs on their own, whatever the line's state.

They raise the domain's errors, with the input field named; the checks that read a line are in
:mod:`domain.budget.figures`, :mod:`domain.budget.requests` and :mod:`domain.budget.spending`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.budget import vocabulary as v
from domain.shared.envelope import decision_time
from domain.shared.errors import DomainValidationError
from domain.shared.money import exponent_of

_LINE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:patient-services:budget-line")


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


def line_id(fiscal_year: int, cost_centre: str, category: str) -> UUID:
    """A line's id, derived from its natural key: a second line for the same fiscal year,
    cost centre and category has the same id, so it is refused as a duplicate. The cost
    centre is taken in its canonical form, so spacing and case make no other line."""
    return uuid5(_LINE_NAMESPACE, f"{fiscal_year}/{canonical_cost_centre(cost_centre)}/{category}")


def check_new_line(fiscal_year: int, cost_centre: str, category: str, currency: str) -> str:
    """A new line's key and currency; the cost centre in its canonical form."""
    if fiscal_year not in v.FISCAL_YEARS:
        raise DomainValidationError("the fiscal year is out of range", field="fiscalYear")
    cost_centre = canonical_cost_centre(cost_centre)
    if not cost_centre:
        raise DomainValidationError("a cost centre is required", field="costCentre")
    if category not in v.CATEGORIES:
        raise DomainValidationError("not a budget category", field="category")
    exponent_of(currency)
    return cost_centre
