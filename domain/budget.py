"""BudgetLine: one fiscal year × cost centre × category (domain-spec §3).

Spend goes through three stages, each posting named by a reference unique per line and
stage: a pre-encumbrance (requisition), a commitment (purchase order, relieving its
requisition) and an actual (invoice or payroll, relieving its purchase order).
``available = current budget − pre-encumbered − committed − actual``.

Amounts arrive as :class:`~domain.money.Money` and are stored in events as integer minor
units (``*_minor``) with the line's currency; the line keeps its totals in minor units too,
so every check is exact integer arithmetic, and shows them as Decimal.

Command methods check every rule, then trigger events whose ``apply`` only assigns. A
posting repeated with the same reference and amount records nothing (it was done); the same
reference with another amount is refused (``INVALID_TRANSITION``). Transfers are in
:mod:`domain.budget_transfer`.

An amendment or an overspend authorisation is either one step (the acting role approves it
within its tier) or two: someone asks (``AmendmentRequested``,
``OverspendAuthorisationRequested``; the event's id is the request's id) and someone else
approves it with the same terms, within the approver's tier, naming the request; or it is
rejected (withdrawn, if its requester does it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import budget_vocabulary as v
from domain.base import AuditedAggregate
from domain.budget_ledger import BudgetLedger
from domain.budget_policy import BudgetRules
from domain.envelope import current_envelope
from domain.errors import (
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
    SegregationOfDutiesError,
)
from domain.money import Money, exponent_of
from domain.phasing import PERIODS, even_phasing

_LINE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:patient-services:budget-line")


class BudgetLine(AuditedAggregate, BudgetLedger):
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
            line.post(v.PRE_ENCUMBRANCE, self.reference, self.amount_minor, None, 0)

    class CommitmentRecorded(Posting):
        """``relieved_minor`` of requisition ``relieves_reference`` became this commitment;
        ``overspend_authorised``: it took the line below zero under an authorisation."""

        relieves_reference: str | None
        relieved_minor: int
        overspend_authorised: bool

        def apply(self, line: BudgetLine) -> None:
            line.post(
                v.COMMITMENT, self.reference, self.amount_minor, self.relieves_reference,
                self.relieved_minor,
            )  # fmt: skip

    class ActualRecorded(Posting):
        relieves_reference: str | None
        relieved_minor: int
        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.post(
                v.ACTUAL, self.reference, self.amount_minor, self.relieves_reference,
                self.relieved_minor,
            )  # fmt: skip

    class CommitmentReleased(Posting):
        """``amount_minor`` of commitment ``reference`` will not be spent."""

        year_end_adjustment: bool

        def apply(self, line: BudgetLine) -> None:
            line.relieve(v.COMMITMENT, self.reference, self.amount_minor)

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
        year, cost centre and category has the same id, so it is refused as a duplicate."""
        return uuid5(_LINE_NAMESPACE, f"{fiscal_year}/{cost_centre}/{category}")

    @classmethod
    def create(
        cls, *, fiscal_year: int, cost_centre: str, category: str, currency: str, at: datetime
    ) -> BudgetLine:
        if fiscal_year not in v.FISCAL_YEARS:
            raise DomainValidationError("the fiscal year is out of range", field="fiscalYear")
        if not cost_centre or not cost_centre.strip():
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
        _require_ref(approval_ref, "approvalRef")
        if phasing is None:
            phased = even_phasing(total)
        else:
            if len(phasing) != PERIODS:
                raise DomainValidationError("give 12 period amounts", field="phasing")
            phased = [self.minor_of(part, "phasing", allow_zero=True) for part in phasing]
            if sum(phased) != total:
                raise DomainValidationError("the periods must sum to the amount", field="phasing")
        self.trigger_event(
            self.BudgetApproved, amount_minor=total, currency=self.currency,
            phasing_minor=phased, approval_ref=approval_ref, occurred_at=at,
        )  # fmt: skip

    def amend(
        self, *, amount: Money, approval_ref: str, at: datetime, rules: BudgetRules,
        request_id: UUID | None = None,
    ) -> None:  # fmt: skip
        """A signed change, approved by the acting role within its tier; phased over the
        periods from the one it is made in. A reduction never takes available below zero.
        With ``request_id``, it approves that request (same amount, another person)."""
        self.require_status(v.ACTIVE, action="amend the budget of")
        change = self.minor_of(amount, "amount", signed=True)
        _require_ref(approval_ref, "approvalRef")
        if request_id is not None:
            self._require_approvable(request_id, v.AMENDMENT, amount=(change, "amount"))
        role = current_envelope().actor_role
        rules.require_approval(role, amount.amount, self.currency)
        if self.available_minor + change < 0:
            raise InsufficientFundsError(
                "the reduction is more than the available balance", field="amount"
            )
        self.trigger_event(
            self.BudgetAmended, amount_minor=change, currency=self.currency,
            phasing_minor=self.phasing_from(at, change, rules), approval_ref=approval_ref,
            approval_tier=role, request_id=request_id, occurred_at=at,
        )  # fmt: skip

    def authorise_overspend(
        self, *, limit: Money, expires_at: datetime, at: datetime, rules: BudgetRules,
        request_id: UUID | None = None,
    ) -> None:  # fmt: skip
        """Commitments may take available down to ``-limit`` until ``expires_at``; a later
        authorisation replaces an earlier one. With ``request_id``, it approves that request
        (same limit and expiry, another person)."""
        self.require_status(v.ACTIVE, action="authorise an overspend of")
        limit_minor = self.minor_of(limit, "limit")
        _require_future(expires_at, at)
        if request_id is not None:
            self._require_approvable(
                request_id, v.OVERSPEND, limit=(limit_minor, "limit"),
                expires_at=(expires_at, "expiresAt"),
            )  # fmt: skip
        role = current_envelope().actor_role
        rules.require_approval(role, limit.amount, self.currency)
        self.trigger_event(
            self.OverspendAuthorised, limit_minor=limit_minor, currency=self.currency,
            expires_at=expires_at, approval_tier=role, request_id=request_id, occurred_at=at,
        )  # fmt: skip

    # ---- requests for approval (requester ≠ approver) -----------------------------------
    def request_amendment(self, *, amount: Money, reason: str | None, at: datetime) -> None:
        """Ask for a signed change, for someone else to approve within their tier (``amend``
        with ``request_id``). No tier applies to asking; the balance is checked on approval,
        when it counts."""
        self.require_status(v.ACTIVE, action="request an amendment of")
        change = self.minor_of(amount, "amount", signed=True)
        _require_reason(reason)
        self.trigger_event(
            self.AmendmentRequested, amount_minor=change, currency=self.currency,
            reason=reason, occurred_at=at,
        )  # fmt: skip

    def request_overspend_authorisation(
        self, *, limit: Money, expires_at: datetime, reason: str | None, at: datetime
    ) -> None:
        """Ask for an overspend authorisation, for someone else to approve."""
        self.require_status(v.ACTIVE, action="request an overspend authorisation of")
        limit_minor = self.minor_of(limit, "limit")
        _require_future(expires_at, at)
        _require_reason(reason)
        self.trigger_event(
            self.OverspendAuthorisationRequested, limit_minor=limit_minor,
            currency=self.currency, expires_at=expires_at, reason=reason, occurred_at=at,
        )  # fmt: skip

    def reject_request(self, *, request_id: UUID, reason: str | None, at: datetime) -> None:
        """Close an open request unapproved, in any state of the line (a closed line's
        requests can only be rejected). Its requester may do it too: a withdrawal."""
        self._open_request(request_id, kind=None)
        _require_reason(reason)
        self.trigger_event(
            self.RequestRejected, request_id=request_id, reason=reason, occurred_at=at
        )

    def update_forecast(self, *, estimate_to_complete: Money, method: str, at: datetime) -> None:
        self.require_status(v.ACTIVE, action="forecast")
        estimate = self.minor_of(estimate_to_complete, "estimateToComplete", allow_zero=True)
        _require_ref(method, "method")
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

    # ---- spend -------------------------------------------------------------------------
    def record_pre_encumbrance(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        if relieves_reference is not None:
            raise DomainValidationError("a requisition relieves nothing", field="relievesReference")
        minor = self._posting(v.PRE_ENCUMBRANCE, reference, amount, None)
        if minor is None:
            return
        self._require_open_for_spend("record a pre-encumbrance on")
        self._require_funds(minor, at)
        self.trigger_event(
            self.PreEncumbranceRecorded, reference=reference, amount_minor=minor,
            currency=self.currency, occurred_at=at,
        )  # fmt: skip

    def record_commitment(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        """A purchase order; refused past the available balance (after relieving its
        requisition) unless an active overspend authorisation covers it."""
        minor = self._posting(v.COMMITMENT, reference, amount, relieves_reference)
        if minor is None:
            return
        self._require_open_for_spend("record a commitment on")
        relieved = self._relief(v.PRE_ENCUMBRANCE, relieves_reference, minor)
        authorised = self._require_funds(minor - relieved, at)
        self.trigger_event(
            self.CommitmentRecorded, reference=reference, amount_minor=minor,
            currency=self.currency, relieves_reference=relieves_reference,
            relieved_minor=relieved, overspend_authorised=authorised, occurred_at=at,
        )  # fmt: skip

    def record_actual(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        """An invoice or payroll cost: a fact, never refused for want of funds. If it
        leaves the line overspent, ``OverspendDetected`` is recorded with it. Accepted on a
        draft line too (payroll does not wait for approval) and, from finance, on a closed
        one (a year-end adjustment)."""
        minor = self._posting(v.ACTUAL, reference, amount, relieves_reference)
        if minor is None:
            return
        year_end = self._year_end_adjustment("record an actual on")
        relieved = self._relief(v.COMMITMENT, relieves_reference, minor)
        self.trigger_event(
            self.ActualRecorded, reference=reference, amount_minor=minor,
            currency=self.currency, relieves_reference=relieves_reference,
            relieved_minor=relieved, year_end_adjustment=year_end, occurred_at=at,
        )  # fmt: skip
        if self.available_minor < 0:
            self.trigger_event(
                self.OverspendDetected, reference=reference, available_minor=self.available_minor,
                currency=self.currency, authorised=self.overspend_covered(self.available_minor, at),
                occurred_at=at,
            )  # fmt: skip

    def release_commitment(
        self, *, reference: str, amount: Money | None = None, at: datetime
    ) -> None:
        """The rest (or ``amount``) of a purchase order will not be spent: it returns to
        the available balance. Finance may do it on a closed line (a year-end adjustment)."""
        _require_ref(reference, "reference")
        year_end = self._year_end_adjustment("release a commitment on")
        posting = self.postings[v.COMMITMENT].get(reference)
        if posting is None:
            raise InvalidTransitionError("no commitment has that reference", field="reference")
        release = posting["open"] if amount is None else self.minor_of(amount, "amount")
        if posting["open"] == 0:
            raise InvalidTransitionError("the commitment is already relieved", field="reference")
        if release > posting["open"]:
            raise InvalidTransitionError(
                "the release is more than the commitment's open amount", field="amount"
            )
        self.trigger_event(
            self.CommitmentReleased, reference=reference, amount_minor=release,
            currency=self.currency, year_end_adjustment=year_end, occurred_at=at,
        )  # fmt: skip

    # ---- rules -------------------------------------------------------------------------
    def require_status(self, *states: str, action: str) -> None:
        if self.status not in states:
            raise InvalidTransitionError(f"cannot {action} a budget line that is {self.status}")

    def _open_request(self, request_id: UUID, *, kind: str | None) -> dict[str, Any]:
        """The request ``request_id`` (of ``kind``, if given), still waiting for a decision."""
        request = self.requests.get(str(request_id))
        if request is None or (kind is not None and request["kind"] != kind):
            raise InvalidTransitionError(
                f"no {kind or 'approval'} request has that id", field="requestId"
            )
        if request["status"] != v.REQUEST_OPEN:
            raise InvalidTransitionError(
                f"the request is already {request['status']}", field="requestId"
            )
        return request

    def _require_approvable(self, request_id: UUID, kind: str, **terms: tuple[Any, str]) -> None:
        """The open request asks for exactly these terms (name → (value, input field)), and
        the approver is neither who asked nor whom they asked for (the same goes for whom
        the approver acts for)."""
        request = self._open_request(request_id, kind=kind)
        for name, (value, field) in terms.items():
            if request[name] != value:
                raise DomainValidationError(f"the {field} differs from the request's", field=field)
        envelope = current_envelope()
        asked = {request["requested_by"], request["requested_for"]} - {None}
        if asked & {envelope.actor_id, envelope.on_behalf_of}:
            raise SegregationOfDutiesError("who asked for a change may not approve it")

    def _require_open_for_spend(self, action: str) -> None:
        self.require_status(v.ACTIVE, action=action)
        if self.frozen:
            raise InvalidTransitionError(f"cannot {action} a frozen budget line")

    def _year_end_adjustment(self, action: str) -> bool:
        """On a closed line only finance may post (a year-end adjustment); True if so."""
        if self.status != v.CLOSED:
            return False
        if current_envelope().actor_role not in v.FINANCE_ROLES:
            raise InvalidTransitionError(f"only finance may {action} a closed budget line")
        return True

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

    def _posting(
        self, stage: str, reference: str, amount: Money, relieves: str | None
    ) -> int | None:
        """The posting's amount in minor units, or None if it repeats one already recorded
        (same reference, amount and relief): nothing new to record."""
        _require_ref(reference, "reference")
        if relieves is not None:
            _require_ref(relieves, "relievesReference")
        minor = self.minor_of(amount, "amount")
        earlier = self.postings[stage].get(reference)
        if earlier is None:
            return minor
        if (earlier["amount"], earlier["relieves"]) == (minor, relieves):
            return None
        raise InvalidTransitionError(
            "that reference is already recorded with another amount", field="reference"
        )

    def _relief(self, stage: str, reference: str | None, amount: int) -> int:
        """How much of the relieved posting's open amount this posting relieves: all of
        the posting up to what is open, never more."""
        if reference is None:
            return 0
        relieved = self.postings[stage].get(reference)
        if relieved is None:
            raise InvalidTransitionError(
                f"no {stage.replace('_', '-')} has that reference", field="relievesReference"
            )
        return min(amount, relieved["open"])

    def _require_funds(self, amount: int, at: datetime) -> bool:
        """Refuse a posting that would take available below zero, unless an active overspend
        authorisation covers it; True if it needs (and has) that authorisation."""
        after = self.available_minor - amount
        if after >= 0:
            return False
        if self.overspend_covered(after, at):
            return True
        raise InsufficientFundsError(
            "the amount is more than the available balance", field="amount"
        )

    def overspend_covered(self, available_after: int, at: datetime) -> bool:
        """Whether an authorisation active at ``at`` allows available to be this low."""
        return (
            self.overspend_expires_at is not None
            and at < self.overspend_expires_at
            and -available_after <= self.overspend_limit_minor
        )

    def phasing_from(self, at: datetime, amount: int, rules: BudgetRules) -> list[int]:
        """``amount`` phased evenly over the periods from the one ``at`` falls in (all 12
        before the year starts; the last after it ends)."""
        period = rules.period_of(self.fiscal_year, rules.local_date(at))
        return even_phasing(amount, first_period=min(max(period, 1), PERIODS))


def _require_ref(value: str | None, field: str) -> None:
    if not value or not value.strip():
        raise DomainValidationError("a reference is required", field=field)


def _require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise DomainValidationError("a reason is required", field="reason")


def _require_future(expires_at: datetime, at: datetime) -> None:
    if expires_at <= at:
        raise DomainValidationError("the expiry must be in the future", field="expiresAt")
