"""BudgetLine: one fiscal year × cost centre × category (domain-spec §3).

``available = current budget − pre-encumbered − committed − actual``. Amounts arrive as
:class:`~domain.shared.money.Money` and are stored in events as integer minor units (``*_minor``)
with the line's currency; the line keeps its totals in minor units too, so every check is
exact integer arithmetic, and shows them as Decimal.

Command methods check every rule, then trigger events whose ``apply`` only assigns. Every
event is nested here (stored events are named by it), but the commands are in several
modules, each one concern, mixed into the aggregate:

- here: creation, the original budget, the forecast, freezing and closing;
- :mod:`domain.budget.approvals`: amendments and overspend authorisations, approved within
  a tier, in one step or on another person's request;
- :mod:`domain.budget.spend`: the postings (requisition, purchase order, actual) and releases;
- :mod:`domain.budget.checks`: the checks they share; :mod:`domain.budget.ledger`: the state
  the events assign and its readings;
- :mod:`domain.budget.transfer`: budget moved between two lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import register_topic

from domain.budget import vocabulary as v
from domain.budget.approvals import BudgetApprovals
from domain.budget.checks import canonical_cost_centre, require_ref
from domain.budget.phasing import PERIODS, even_phasing
from domain.budget.spend import BudgetSpending
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainValidationError, InvalidTransitionError
from domain.shared.money import Money, exponent_of

_LINE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:patient-services:budget-line")


class BudgetLine(AuditedAggregate, BudgetApprovals, BudgetSpending):
    # ---- events ------------------------------------------------------------------------
    class BudgetLineCreated(AuditedAggregate.Created):
        fiscal_year: int
        cost_centre: str
        category: str
        currency: str

        def apply(self, line: BudgetLine) -> None:
            line.initialise(self.fiscal_year, self.cost_centre, self.category, self.currency)

    class BudgetChanged(AuditedAggregate.Event):
        """A change of the line's budget, with its 12-period phasing (sums to the amount)."""

        amount_minor: int
        currency: str
        phasing_minor: list[int]

        def apply(self, line: BudgetLine) -> None:
            line.add_budget(self.amount_minor, self.phasing_minor)

    class BudgetApproved(BudgetChanged):
        approval_ref: str

        def apply(self, line: BudgetLine) -> None:
            line.status = v.ACTIVE
            line.original_budget_minor = self.amount_minor
            line.approval_ref = self.approval_ref
            line.add_budget(self.amount_minor, self.phasing_minor)

    class BudgetAmended(BudgetChanged):
        """A signed change, approved at ``approval_tier`` (the acting role); ``request_id``
        names the request it approves (None: asked for and approved in one step)."""

        class_version = 2
        approval_ref: str
        approval_tier: str
        request_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["request_id"] = None  # before requests, every amendment was one step

        def apply(self, line: BudgetLine) -> None:
            line.add_budget(self.amount_minor, self.phasing_minor)
            line.settle_request(self.request_id, v.REQUEST_APPROVED)

    class BudgetTransferredOut(BudgetChanged):
        """``amount_minor`` is negative: budget leaving this line for ``to_line_id``."""

        to_line_id: UUID
        approval_tier: str

    class BudgetTransferredIn(BudgetChanged):
        from_line_id: UUID
        approval_tier: str

    class Posting(AuditedAggregate.Event):
        reference: str
        amount_minor: int
        currency: str

    class PreEncumbranceRecorded(Posting):
        def apply(self, line: BudgetLine) -> None:
            line.post(v.PRE_ENCUMBRANCE, self.reference, self.amount_minor, None, 0, self.event_id)

    class CommitmentRecorded(Posting):
        """``relieved_minor`` of requisition ``relieves_reference`` became this commitment;
        ``overspend_authorised``: it took the line below zero under an authorisation."""

        relieves_reference: str | None
        relieved_minor: int
        overspend_authorised: bool

        def apply(self, line: BudgetLine) -> None:
            line.post(
                v.COMMITMENT, self.reference, self.amount_minor, self.relieves_reference,
                self.relieved_minor, self.event_id,
            )  # fmt: skip

    class ActualRecorded(Posting):
        relieves_reference: str | None
        relieved_minor: int
        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.post(
                v.ACTUAL, self.reference, self.amount_minor, self.relieves_reference,
                self.relieved_minor, self.event_id,
            )  # fmt: skip

    class CommitmentReleased(Posting):
        """``amount_minor`` of commitment ``reference`` will not be spent; ``release_reference``
        names the release, so a retry records nothing (None: the caller named none)."""

        class_version = 2
        year_end_adjustment: bool
        release_reference: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["release_reference"] = None  # before release references, none was named

        def apply(self, line: BudgetLine) -> None:
            line.release(self.reference, self.amount_minor, self.release_reference)

    class PostingReversed(AuditedAggregate.Event):
        """A compensation (domain-spec §0): the posting ``reference`` of ``stage`` was a
        mistake; what was still open of it (``amount_minor``) is removed. It names the event
        that recorded the posting (``corrects_event_id``); the reason says why."""

        stage: str
        reference: str
        amount_minor: int
        currency: str
        corrects_event_id: UUID
        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.reverse(self.stage, self.reference, self.amount_minor)

    class OverspendDetected(AuditedAggregate.Event):
        """An actual (``reference``) left the line overspent: ``available_minor`` < 0."""

        reference: str
        available_minor: int
        currency: str
        authorised: bool

        def apply(self, line: BudgetLine) -> None:
            line.overspend_flagged = True

    class OverspendAuthorised(AuditedAggregate.Event):
        """Commitments may take available down to ``-limit_minor`` until ``expires_at``;
        ``request_id`` names the request it approves (None: one step)."""

        class_version = 2
        limit_minor: int
        currency: str
        expires_at: datetime
        approval_tier: str
        request_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["request_id"] = None  # before requests, every authorisation was one step

        def apply(self, line: BudgetLine) -> None:
            line.overspend_limit_minor = self.limit_minor
            line.overspend_expires_at = self.expires_at
            line.settle_request(self.request_id, v.REQUEST_APPROVED)

    class AmendmentRequested(AuditedAggregate.Event):
        """``actor_id`` asks for a signed change of ``amount_minor``. The event's own id is
        the request's id: the amendment that approves it names it."""

        amount_minor: int
        currency: str

        def apply(self, line: BudgetLine) -> None:
            line.open_request(
                self.event_id, v.AMENDMENT, self.actor_id, self.on_behalf_of,
                amount=self.amount_minor,
            )  # fmt: skip

    class OverspendAuthorisationRequested(AuditedAggregate.Event):
        """``actor_id`` asks for an overspend authorisation; the event's id is the
        request's id."""

        limit_minor: int
        currency: str
        expires_at: datetime

        def apply(self, line: BudgetLine) -> None:
            line.open_request(
                self.event_id, v.OVERSPEND, self.actor_id, self.on_behalf_of,
                limit=self.limit_minor, expires_at=self.expires_at,
            )  # fmt: skip

    class RequestRejected(AuditedAggregate.Event):
        """Request ``request_id`` will not be approved (the reason says why)."""

        request_id: UUID

        def apply(self, line: BudgetLine) -> None:
            line.settle_request(self.request_id, v.REQUEST_REJECTED)

    class ForecastUpdated(AuditedAggregate.Event):
        estimate_to_complete_minor: int
        currency: str
        method: str

        def apply(self, line: BudgetLine) -> None:
            line.estimate_to_complete_minor = self.estimate_to_complete_minor
            line.forecast_method = self.method

    class LineFrozen(AuditedAggregate.Event):
        def apply(self, line: BudgetLine) -> None:
            line.frozen = True

    class LineUnfrozen(AuditedAggregate.Event):
        def apply(self, line: BudgetLine) -> None:
            line.frozen = False

    class BudgetLineClosed(AuditedAggregate.Event):
        def apply(self, line: BudgetLine) -> None:
            line.status = v.CLOSED

    # ---- creation ----------------------------------------------------------------------
    @staticmethod
    def id_for(fiscal_year: int, cost_centre: str, category: str) -> UUID:
        """The line's id, derived from its natural key: a second line for the same fiscal
        year, cost centre and category has the same id, so it is refused as a duplicate. The
        cost centre is taken in its canonical form, so spacing and case make no other line."""
        return uuid5(
            _LINE_NAMESPACE, f"{fiscal_year}/{canonical_cost_centre(cost_centre)}/{category}"
        )

    @classmethod
    def create(
        cls, *, fiscal_year: int, cost_centre: str, category: str, currency: str, at: datetime
    ) -> BudgetLine:
        if fiscal_year not in v.FISCAL_YEARS:
            raise DomainValidationError("the fiscal year is out of range", field="fiscalYear")
        cost_centre = canonical_cost_centre(cost_centre)
        if not cost_centre:
            raise DomainValidationError("a cost centre is required", field="costCentre")
        if category not in v.CATEGORIES:
            raise DomainValidationError("not a budget category", field="category")
        exponent_of(currency)
        return cls._create(
            cls.BudgetLineCreated, id=cls.id_for(fiscal_year, cost_centre, category),
            fiscal_year=fiscal_year, cost_centre=cost_centre, category=category,
            currency=currency, occurred_at=at,
        )  # fmt: skip

    # ---- the budget --------------------------------------------------------------------
    def approve(
        self, *, amount: Money, approval_ref: str, phasing: list[Money] | None = None,
        at: datetime,
    ) -> None:  # fmt: skip
        """Records the original budget, a decision already taken (finance, with its ref)."""
        self.require_status(v.DRAFT, action="approve the budget of")
        total = self.minor_of(amount, "amount", allow_zero=True)
        require_ref(approval_ref, "approvalRef")
        if phasing is None:
            phased = even_phasing(total)
        else:
            if len(phasing) != PERIODS:
                raise DomainValidationError("give 12 period amounts", field="phasing")
            phased = [self.minor_of(part, "phasing", allow_zero=True) for part in phasing]
            if sum(phased) != total:
                raise DomainValidationError("the periods must sum to the amount", field="phasing")
        self.require_representable(budget=total, phasing=phased)
        self.trigger_event(
            self.BudgetApproved, amount_minor=total, currency=self.currency,
            phasing_minor=phased, approval_ref=approval_ref, occurred_at=at,
        )  # fmt: skip

    # ---- the line's own state ----------------------------------------------------------
    def update_forecast(self, *, estimate_to_complete: Money, method: str, at: datetime) -> None:
        self.require_status(v.ACTIVE, action="forecast")
        estimate = self.minor_of(estimate_to_complete, "estimateToComplete", allow_zero=True)
        require_ref(method, "method")
        self.require_representable("estimateToComplete", estimate=estimate)
        self.trigger_event(
            self.ForecastUpdated, estimate_to_complete_minor=estimate, currency=self.currency,
            method=method, occurred_at=at,
        )  # fmt: skip

    def freeze(self, *, at: datetime) -> None:
        self.require_status(v.ACTIVE, action="freeze")
        if self.frozen:
            raise InvalidTransitionError("the line is already frozen")
        self.trigger_event(self.LineFrozen, occurred_at=at)

    def unfreeze(self, *, at: datetime) -> None:
        self.require_status(v.ACTIVE, action="unfreeze")
        if not self.frozen:
            raise InvalidTransitionError("the line is not frozen")
        self.trigger_event(self.LineUnfrozen, occurred_at=at)

    def close(self, *, at: datetime) -> None:
        self.require_status(v.DRAFT, v.ACTIVE, action="close")
        self.trigger_event(self.BudgetLineClosed, occurred_at=at)


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.budget:BudgetLine", BudgetLine)
