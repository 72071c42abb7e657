"""Histories of budget lines for the given-when-then tests (``tests/unit/test_budget_*.py``).

A :class:`BudgetStory` runs real commands (``tests.support.gwt.when``) on one live line and keeps
every event, to be the *given* of a test. ``tests/unit/test_budget_given.py`` proves that each
history leaves the line where its name says.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from domain.budget.line import BudgetLine
from domain.budget.policy import BudgetRules
from domain.shared.money import Money
from tests.support.gwt import given, make_envelope, when

UTC = timezone.utc
FY = 2026
#: 9:00 on 1 April 2026: the first day of fiscal year 2026 (April start), period 1.
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
RULES = BudgetRules()


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def gbp(amount: str) -> Money:
    return Money.of(amount, "GBP")


def call_kwargs(target: Any, command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The command's arguments, with the default rules where the method takes them."""
    if "rules" in inspect.signature(getattr(target, command)).parameters:
        kwargs.setdefault("rules", RULES)
    return kwargs


class BudgetStory:
    def __init__(
        self, *, currency: str = "GBP", cost_centre: str = "CC-100", category: str = "supplies"
    ) -> None:
        outcome = when(
            BudgetLine, "create", at=at(-30), role="finance", fiscal_year=FY,
            cost_centre=cost_centre, category=category, currency=currency,
        )  # fmt: skip
        self.line: BudgetLine = outcome.aggregate
        self.events: list[Any] = list(outcome.events)
        self.day = -29.0

    def do(
        self, command: str, *, role: str = "finance", actor: str = "staff-1",
        on_behalf_of: str | None = None, **kwargs: Any,
    ) -> BudgetStory:  # fmt: skip
        """Run the command a day after the last, as ``actor`` (requester ≠ approver)."""
        self.day += 1
        kwargs = call_kwargs(self.line, command, kwargs)
        envelope = make_envelope(
            at(self.day), role=role, actor_id=actor, on_behalf_of=on_behalf_of,
            reason=kwargs.get("reason"),
        )  # fmt: skip
        outcome = when(self.line, command, at=at(self.day), envelope=envelope, **kwargs)
        self.events.extend(outcome.events)
        return self

    def last_event_id(self) -> UUID:
        """The id of the newest event: for a request, the request's id."""
        return self.events[-1].event_id

    def approved(self, amount: str = "12000.00") -> BudgetStory:
        return self.do("approve", amount=gbp(amount), approval_ref="BOARD-2026-01")

    def given(self) -> BudgetLine:
        """The line rebuilt from the story's events (no pending events)."""
        return given(self.events)


def draft_line() -> BudgetStory:
    return BudgetStory()


def active_line(budget: str = "12000.00") -> BudgetStory:
    return BudgetStory().approved(budget)


def spent_line() -> BudgetStory:
    """12,000 budget; requisition REQ-1 500 open; PO PO-1 2,000 (400 still open after an
    invoice INV-1 of 1,600 relieved it); available 12,000 − 500 − 400 − 1,600 = 9,500."""
    return (
        active_line()
        .do("record_pre_encumbrance", role="manager", reference="REQ-1", amount=gbp("500"))
        .do("record_pre_encumbrance", role="manager", reference="REQ-2", amount=gbp("1500"))
        .do("record_commitment", reference="PO-1", amount=gbp("2000"), relieves_reference="REQ-2")
        .do("record_actual", reference="INV-1", amount=gbp("1600"), relieves_reference="PO-1")
    )


def closed_line() -> BudgetStory:
    return spent_line().do("close")
