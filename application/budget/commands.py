"""The BudgetLine commands of the HTTP contract, and who may issue them (domain-spec §5).

What they accept on the wire (money, currencies, fiscal years, categories) is
:mod:`application.budget.inputs`. Every command Struct is defined here, so one module lists
the whole contract (``tests/unit/test_command_text_rules.py`` walks it).

Roles: finance, the finance director and the board create, approve, amend and transfer
budgets and post commitments and actuals; a manager (the budget holder) raises requisitions
(pre-encumbrances), forecasts, and amends or authorises overspends within the manager tier.
Where the tier matters, a caller holding several roles acts with the highest.

Amendments and overspend authorisations may also take two steps (domain-spec §3, "requester
≠ approver"): anyone who may amend asks (``amendment-requests``, ``overspend-requests``; no
tier applies to asking), and another person approves with ``amend`` or
``authorise-overspend`` naming the ``requestId`` (the id of the event that asked), within
the approver's tier; or rejects it (``reject-request``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application.budget.inputs import Category, CurrencyCode, FiscalYear, MoneyAmount
from application.shared.commands import (
    AggregateCommand,
    AwareDatetime,
    Command,
    Creation,
    Loader,
    Reason,
    Ref,
)
from application.shared.policies import Policies
from domain.budget.line import BudgetLine
from domain.budget.transfer import transfer_budget
from domain.budget.vocabulary import BOARD, FINANCE, FINANCE_DIRECTOR, FINANCE_ROLES, MANAGER
from domain.shared.errors import DomainValidationError

WITHIN_TIER = FINANCE_ROLES | {MANAGER}
#: The highest tier first: a caller with several roles approves with the highest it holds.
BY_TIER = (BOARD, FINANCE_DIRECTOR, FINANCE, MANAGER)


class BudgetCommand(AggregateCommand, kw_only=True, frozen=True):
    aggregate_type = BudgetLine
    roles = FINANCE_ROLES
    preferred_roles = BY_TIER

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        raise NotImplementedError


class Posting(BudgetCommand, kw_only=True, frozen=True):
    """``{reference, amount, relievesReference?}``: a requisition, PO or invoice."""

    reference: Ref
    #: The posting's amount: positive, in the line's currency.
    amount: MoneyAmount
    #: The posting of the stage before that this one relieves: a commitment's requisition, an
    #: actual's purchase order.
    relieves_reference: Ref | None = None

    def arguments(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "amount": self.amount.money(),
            "relieves_reference": self.relieves_reference,
        }


# ---- creation ---------------------------------------------------------------------------
class CreateBudgetLine(Creation, kw_only=True, frozen=True):
    aggregate_type = BudgetLine
    natural_key = True
    roles = FINANCE_ROLES
    fiscal_year: FiscalYear
    cost_centre: Ref
    #: The spend category: staffing, supplies, equipment, training, outreach, contracted_services or
    #: other.
    category: Category
    currency: CurrencyCode

    def create(self, at: datetime, policies: Policies) -> BudgetLine:
        return BudgetLine.create(**self.fields(), at=at)


# ---- the budget -------------------------------------------------------------------------
class ApproveBudget(BudgetCommand, kw_only=True, frozen=True):
    #: The year's budget, in the line's currency (zero or more).
    amount: MoneyAmount
    #: The reference of the approval decision.
    approval_ref: Ref
    #: The budget of each of the 12 fiscal periods, period 1 first, summing to `amount`; omitted:
    #: phased evenly.
    phasing: Annotated[list[MoneyAmount], msgspec.Meta(min_length=12, max_length=12)] | None = None

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        phasing = None if self.phasing is None else [part.money() for part in self.phasing]
        line.approve(
            amount=self.amount.money(), approval_ref=self.approval_ref, phasing=phasing, at=at
        )


class AmendBudget(BudgetCommand, kw_only=True, frozen=True):
    """``{amount, approvalRef, requestId?}``: with ``requestId``, approves that request."""

    roles = WITHIN_TIER
    #: The signed change to the budget (negative reduces it), in the line's currency.
    amount: MoneyAmount
    #: The reference of the approval decision.
    approval_ref: Ref
    #: The amendment request this approves (its `id` in `openRequests`), with the same amount.
    request_id: UUID | None = None

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.amend(
            amount=self.amount.money(), approval_ref=self.approval_ref, at=at,
            rules=policies.budget, request_id=self.request_id,
        )  # fmt: skip


class AuthoriseOverspend(BudgetCommand, kw_only=True, frozen=True):
    """``{limit, expiresAt, requestId?}``: with ``requestId``, approves that request."""

    roles = WITHIN_TIER
    #: How far below zero commitments may take the available balance.
    limit: MoneyAmount
    #: When the authorisation lapses; must be in the future.
    expires_at: AwareDatetime
    #: The overspend request this approves (its `id` in `openRequests`), with the same terms.
    request_id: UUID | None = None

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.authorise_overspend(
            limit=self.limit.money(), expires_at=self.expires_at, at=at,
            rules=policies.budget, request_id=self.request_id,
        )  # fmt: skip


# ---- requests for approval (the approval is AmendBudget / AuthoriseOverspend) -----------
class RequestAmendment(BudgetCommand, kw_only=True, frozen=True):
    """``{amount (signed), reason}``: asks for an amendment, for another person to approve."""

    roles = WITHIN_TIER
    #: The signed change to the budget asked for (negative reduces it).
    amount: MoneyAmount
    reason: Reason

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.request_amendment(amount=self.amount.money(), reason=self.reason, at=at)


class RequestOverspendAuthorisation(BudgetCommand, kw_only=True, frozen=True):
    """``{limit, expiresAt, reason}``: asks for an overspend authorisation."""

    roles = WITHIN_TIER
    #: How far below zero commitments may take the available balance.
    limit: MoneyAmount
    #: When the authorisation would lapse; must be in the future.
    expires_at: AwareDatetime
    reason: Reason

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.request_overspend_authorisation(
            limit=self.limit.money(), expires_at=self.expires_at, reason=self.reason, at=at
        )


class RejectRequest(BudgetCommand, kw_only=True, frozen=True):
    """``{requestId, reason}``: the request will not be approved (by its requester: it is
    withdrawn)."""

    roles = WITHIN_TIER
    #: The open request to reject or, by its requester, withdraw (its `id` in `openRequests`).
    request_id: UUID
    reason: Reason

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.reject_request(request_id=self.request_id, reason=self.reason, at=at)


class UpdateForecast(BudgetCommand, kw_only=True, frozen=True):
    roles = WITHIN_TIER
    #: What is still to be spent beyond actuals and open commitments (zero or more).
    estimate_to_complete: MoneyAmount
    #: How the estimate was made, as a code.
    method: Ref

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.update_forecast(
            estimate_to_complete=self.estimate_to_complete.money(), method=self.method, at=at
        )


class FreezeLine(BudgetCommand, kw_only=True, frozen=True):
    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.freeze(at=at)


class UnfreezeLine(BudgetCommand, kw_only=True, frozen=True):
    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.unfreeze(at=at)


class CloseLine(BudgetCommand, kw_only=True, frozen=True):
    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.close(at=at)


# ---- spend ------------------------------------------------------------------------------
class RecordPreEncumbrance(Posting, kw_only=True, frozen=True):
    # Requisitions are raised by budget holders as well as by finance.
    roles = WITHIN_TIER

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.record_pre_encumbrance(**self.arguments(), at=at)


class RecordCommitment(Posting, kw_only=True, frozen=True):
    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.record_commitment(**self.arguments(), at=at)


class RecordActual(Posting, kw_only=True, frozen=True):
    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.record_actual(**self.arguments(), at=at)


class ReleaseCommitment(BudgetCommand, kw_only=True, frozen=True):
    """``{reference, amount?, releaseReference?}``: with ``releaseReference`` (unique per
    line), a retry of the same release records nothing."""

    reference: Ref
    amount: MoneyAmount | None = None
    #: Names the release, unique per line: a retry with it records nothing.
    release_reference: Ref | None = None

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        amount = None if self.amount is None else self.amount.money()
        line.release_commitment(
            reference=self.reference, amount=amount, at=at,
            release_reference=self.release_reference,
        )  # fmt: skip


class ReversePosting(BudgetCommand, kw_only=True, frozen=True):
    """``{stage, reference, reason, correctsEventId?}``: a posting entered by mistake (or a
    requisition no longer wanted) leaves the line; a compensation naming the event it
    corrects (domain-spec §0)."""

    #: The posting's stage of spend: pre_encumbrance, commitment or actual.
    stage: Literal["pre_encumbrance", "commitment", "actual"]
    reference: Ref
    reason: Reason
    corrects_event_id: UUID | None = None

    def apply(self, line: BudgetLine, at: datetime, policies: Policies) -> None:
        line.reverse_posting(
            stage=self.stage, reference=self.reference, reason=self.reason, at=at,
            corrects_event_id=self.corrects_event_id,
        )  # fmt: skip


# ---- transfers --------------------------------------------------------------------------
class TransferBudget(Command, kw_only=True, frozen=True):
    """``POST /budget-transfers``: both lines change in one transaction; the reply names
    the source line."""

    aggregate_type: ClassVar[type[Aggregate]] = BudgetLine
    roles = FINANCE_ROLES
    preferred_roles = BY_TIER
    #: The line the budget leaves.
    from_line_id: UUID
    #: The line the budget goes to: another active line of the same fiscal year and currency.
    to_line_id: UUID
    #: How much budget moves: positive, at most the source line's available balance.
    amount: MoneyAmount
    reason: Reason

    def audit_target(self) -> UUID:
        """A refused or denied transfer is recorded against its source line."""
        return self.from_line_id

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        if self.from_line_id == self.to_line_id:
            raise DomainValidationError("a line cannot transfer to itself", field="toLineId")
        source = load(self.from_line_id, BudgetLine)
        destination = load(self.to_line_id, BudgetLine)
        transfer_budget(
            source, destination, amount=self.amount.money(), at=at, rules=policies.budget
        )
        return [source, destination]


#: URL action segment (POST /api/v1/budget-lines/{id}/<action>) → command, as in the contract.
BUDGET_ACTIONS: dict[str, type[BudgetCommand]] = {
    "approve": ApproveBudget,
    "amend": AmendBudget,
    "pre-encumbrances": RecordPreEncumbrance,
    "commitments": RecordCommitment,
    "actuals": RecordActual,
    "release-commitment": ReleaseCommitment,
    "reverse-posting": ReversePosting,
    "authorise-overspend": AuthoriseOverspend,
    "amendment-requests": RequestAmendment,
    "overspend-requests": RequestOverspendAuthorisation,
    "reject-request": RejectRequest,
    "forecast": UpdateForecast,
    "freeze": FreezeLine,
    "unfreeze": UnfreezeLine,
    "close": CloseLine,
}
