"""BudgetLine: one fiscal year × cost centre × category (domain-spec §3).

``available = current budget − pre-encumbered − committed − actual``. Amounts arrive as
:class:`~domain.shared.money.Money` and are stored in events as integer minor units (``*_minor``)
with the line's currency; the line keeps its totals in minor units too, so every check is exact
integer arithmetic, and shows them as Decimal. Every event is nested here: stored events are
named by it.

Command methods check every rule, then trigger the event whose ``apply`` only assigns. The rules
are pure functions over the line's facts, each returning the fields of the event its command
records: :mod:`~domain.budget.figures` (the budget, the forecast, freezing),
:mod:`~domain.budget.requests` (amendments and overspend authorisations, in one step or two) and
:mod:`~domain.budget.spending` (postings, releases, reversals), which also say what their events
mean. The line's postings, releases and spend totals are one
:class:`~domain.budget.postings.SpendBook` (``self.spend``) that the spend events' ``apply``
update; a transfer between two lines is :mod:`~domain.budget.transfer`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.budget import figures, requests, spending
from domain.budget import vocabulary as v
from domain.budget.checks import check_new_line, line_id
from domain.budget.phasing import PERIODS
from domain.budget.policy import BudgetRules
from domain.budget.postings import Book, FromBook, Release, SpendBook
from domain.shared.base import AuditedAggregate
from domain.shared.money import Money, minor_to_decimal


class BudgetLine(AuditedAggregate):
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
        class_version = 2
        approval_ref: str
        approval_tier: str
        request_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["request_id"] = None  # before requests, every amendment was one step

        def apply(self, line: BudgetLine) -> None:
            line.add_budget(self.amount_minor, self.phasing_minor)
            line.requests = requests.settled(line.requests, self.request_id, v.REQUEST_APPROVED)

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
            line.spend.post(v.PRE_ENCUMBRANCE, self, None, 0)

    class CommitmentRecorded(Posting):
        relieves_reference: str | None
        relieved_minor: int
        overspend_authorised: bool

        def apply(self, line: BudgetLine) -> None:
            line.spend.post(v.COMMITMENT, self, self.relieves_reference, self.relieved_minor)

    class ActualRecorded(Posting):
        relieves_reference: str | None
        relieved_minor: int
        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.spend.post(v.ACTUAL, self, self.relieves_reference, self.relieved_minor)

    class CommitmentReleased(Posting):
        class_version = 2
        year_end_adjustment: bool
        release_reference: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["release_reference"] = None  # before release references, none was named

        def apply(self, line: BudgetLine) -> None:
            line.spend.release(self.reference, self.amount_minor, self.release_reference)

    class PostingReversed(AuditedAggregate.Event):
        """A compensation (domain-spec §0) of the posting ``reference`` of ``stage``."""

        stage: str
        reference: str
        amount_minor: int
        currency: str
        corrects_event_id: UUID
        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.spend.reverse(self.stage, self.reference, self.amount_minor)

    class OverspendDetected(AuditedAggregate.Event):
        reference: str
        available_minor: int
        currency: str
        authorised: bool

        def apply(self, line: BudgetLine) -> None:
            line.overspend_flagged = True

    class OverspendAuthorised(AuditedAggregate.Event):
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
            line.requests = requests.settled(line.requests, self.request_id, v.REQUEST_APPROVED)

    class AmendmentRequested(AuditedAggregate.Event):
        """The event's own id is the request's id: the amendment that approves it names it."""

        amount_minor: int
        currency: str

        def apply(self, line: BudgetLine) -> None:
            line.requests[str(self.event_id)] = requests.opened(
                v.AMENDMENT, self.actor_id, self.on_behalf_of, amount=self.amount_minor
            )

    class OverspendAuthorisationRequested(AuditedAggregate.Event):
        """The event's own id is the request's id."""

        limit_minor: int
        currency: str
        expires_at: datetime

        def apply(self, line: BudgetLine) -> None:
            line.requests[str(self.event_id)] = requests.opened(
                v.OVERSPEND, self.actor_id, self.on_behalf_of, limit=self.limit_minor,
                expires_at=self.expires_at,
            )  # fmt: skip

    class RequestRejected(AuditedAggregate.Event):
        request_id: UUID

        def apply(self, line: BudgetLine) -> None:
            line.requests = requests.settled(line.requests, self.request_id, v.REQUEST_REJECTED)

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
    #: The line's id, derived from its natural key (see :func:`~domain.budget.checks.line_id`).
    id_for = staticmethod(line_id)

    @classmethod
    def create(
        cls, *, fiscal_year: int, cost_centre: str, category: str, currency: str, at: datetime
    ) -> BudgetLine:
        cost_centre = check_new_line(fiscal_year, cost_centre, category, currency)
        line: BudgetLine = cls._create(
            cls.BudgetLineCreated, id=cls.id_for(fiscal_year, cost_centre, category),
            fiscal_year=fiscal_year, cost_centre=cost_centre, category=category,
            currency=currency, occurred_at=at,
        )  # fmt: skip
        return line

    # ---- commands: each checks (the rules return the event's fields), then records ------
    def approve(
        self, *, amount: Money, approval_ref: str, phasing: list[Money] | None = None,
        at: datetime,
    ) -> None:  # fmt: skip
        recorded = figures.check_approval(self, amount, approval_ref, phasing)
        self.trigger_event(self.BudgetApproved, **recorded, occurred_at=at)

    def update_forecast(self, *, estimate_to_complete: Money, method: str, at: datetime) -> None:
        recorded = figures.check_forecast(self, estimate_to_complete, method)
        self.trigger_event(self.ForecastUpdated, **recorded, occurred_at=at)

    def freeze(self, *, at: datetime) -> None:
        figures.check_freeze(self, frozen=True)
        self.trigger_event(self.LineFrozen, occurred_at=at)

    def unfreeze(self, *, at: datetime) -> None:
        figures.check_freeze(self, frozen=False)
        self.trigger_event(self.LineUnfrozen, occurred_at=at)

    def close(self, *, at: datetime) -> None:
        figures.require_status(self, v.DRAFT, v.ACTIVE, action="close")
        self.trigger_event(self.BudgetLineClosed, occurred_at=at)

    def amend(
        self, *, amount: Money, approval_ref: str, at: datetime, rules: BudgetRules,
        request_id: UUID | None = None,
    ) -> None:  # fmt: skip
        recorded = requests.check_amendment(self, amount, approval_ref, at, rules, request_id)
        self.trigger_event(self.BudgetAmended, **recorded, occurred_at=at)

    def authorise_overspend(
        self, *, limit: Money, expires_at: datetime, at: datetime, rules: BudgetRules,
        request_id: UUID | None = None,
    ) -> None:  # fmt: skip
        recorded = requests.check_overspend_authorisation(
            self, limit, expires_at, rules, request_id
        )
        self.trigger_event(self.OverspendAuthorised, **recorded, occurred_at=at)

    def request_amendment(self, *, amount: Money, reason: str | None, at: datetime) -> None:
        recorded = requests.check_amendment_request(self, amount, reason)
        self.trigger_event(self.AmendmentRequested, **recorded, occurred_at=at)

    def request_overspend_authorisation(
        self, *, limit: Money, expires_at: datetime, reason: str | None, at: datetime
    ) -> None:
        recorded = requests.check_overspend_request(self, limit, expires_at, reason)
        self.trigger_event(self.OverspendAuthorisationRequested, **recorded, occurred_at=at)

    def reject_request(self, *, request_id: UUID, reason: str | None, at: datetime) -> None:
        recorded = requests.check_rejection(self, request_id, reason)
        self.trigger_event(self.RequestRejected, **recorded, occurred_at=at)

    def record_pre_encumbrance(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        recorded = spending.check_pre_encumbrance(self, reference, amount, relieves_reference)
        if recorded is not None:
            self.trigger_event(self.PreEncumbranceRecorded, **recorded, occurred_at=at)

    def record_commitment(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        recorded = spending.check_commitment(self, reference, amount, relieves_reference)
        if recorded is not None:
            self.trigger_event(self.CommitmentRecorded, **recorded, occurred_at=at)

    def record_actual(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        recorded = spending.check_actual(self, reference, amount, relieves_reference)
        if recorded is None:
            return
        self.trigger_event(self.ActualRecorded, **recorded, occurred_at=at)
        overspent = spending.overspend(self, reference)
        if overspent is not None:
            self.trigger_event(self.OverspendDetected, **overspent, occurred_at=at)

    def release_commitment(
        self, *, reference: str, amount: Money | None = None, at: datetime,
        release_reference: str | None = None,
    ) -> None:  # fmt: skip
        recorded = spending.check_release(self, reference, amount, release_reference)
        if recorded is not None:
            self.trigger_event(self.CommitmentReleased, **recorded, occurred_at=at)

    def reverse_posting(
        self, *, stage: str, reference: str, reason: str | None, at: datetime,
        corrects_event_id: UUID | None = None,
    ) -> None:  # fmt: skip
        recorded = spending.check_reversal(self, stage, reference, reason, corrects_event_id)
        self.trigger_event(self.PostingReversed, **recorded, occurred_at=at)

    # ---- state, assigned only by events' apply() -----------------------------------------
    def initialise(self, fiscal_year: int, cost_centre: str, category: str, currency: str) -> None:
        self.fiscal_year, self.cost_centre, self.category = fiscal_year, cost_centre, category
        self.currency = currency
        self.status = v.DRAFT
        self.frozen = False
        self.approval_ref: str | None = None
        self.original_budget_minor = 0
        self.current_budget_minor = 0
        self.phasing_minor = [0] * PERIODS
        self.spend = SpendBook()
        self.estimate_to_complete_minor = 0
        self.forecast_method: str | None = None
        self.overspend_limit_minor = 0
        self.overspend_expires_at: datetime | None = None
        self.overspend_flagged = False
        self.requests: requests.Requests = {}

    def add_budget(self, amount: int, phasing: list[int]) -> None:
        self.current_budget_minor += amount
        self.phasing_minor = figures.plus(self.phasing_minor, phasing)

    # ---- reading -----------------------------------------------------------------------
    @property
    def open_requests(self) -> requests.Requests:
        """The requests still waiting for a decision, by id."""
        return requests.still_open(self.requests)

    # The spend book's records and totals, read by the names callers and the rules use.
    postings = FromBook[Book]("postings")
    releases = FromBook[dict[str, Release]]("releases")
    moved_minor = FromBook[dict[str, int]]("moved_minor")
    pre_encumbered_minor = FromBook[int]("pre_encumbered_minor")
    committed_minor = FromBook[int]("committed_minor")
    actual_minor = FromBook[int]("actual_minor")

    @property
    def available_minor(self) -> int:
        return (
            self.current_budget_minor - self.pre_encumbered_minor - self.committed_minor
            - self.actual_minor
        )  # fmt: skip

    @property
    def forecast_minor(self) -> int:
        """Actual + open commitments + estimate to complete (domain-spec §3)."""
        return self.actual_minor + self.committed_minor + self.estimate_to_complete_minor

    original_budget = figures.InCurrency("original_budget_minor")
    current_budget = figures.InCurrency("current_budget_minor")
    pre_encumbered = figures.InCurrency("pre_encumbered_minor")
    committed = figures.InCurrency("committed_minor")
    actual = figures.InCurrency("actual_minor")
    available = figures.InCurrency("available_minor")
    forecast = figures.InCurrency("forecast_minor")
    estimate_to_complete = figures.InCurrency("estimate_to_complete_minor")

    @property
    def phasing(self) -> list[Decimal]:
        return [minor_to_decimal(minor, self.currency) for minor in self.phasing_minor]


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.budget:BudgetLine", BudgetLine)
