"""Changes a budget line takes only with approval: amendments and overspend authorisations.

Either one step (the acting role approves it within its tier: ``amend``,
``authorise_overspend``) or two, for segregation of duties: someone asks
(``AmendmentRequested``, ``OverspendAuthorisationRequested``; the event's id is the request's
id) and someone else approves it with the same terms, within the approver's tier, naming the
request; or it is rejected (withdrawn, if its requester does it).

:class:`BudgetApprovals` holds these command methods of :class:`domain.budget.line.BudgetLine`; the
events they trigger stay nested in the aggregate (``self.BudgetAmended``, …), since stored
events are named by their class's place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.budget import vocabulary as v
from domain.budget.checks import BudgetChecks, require_future, require_reason, require_ref
from domain.budget.policy import BudgetRules
from domain.shared.duties import people_acting, people_of, require_two_people
from domain.shared.envelope import current_envelope
from domain.shared.errors import (
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money


class BudgetApprovals(BudgetChecks):
    # ---- one step, or the approval of a request ----------------------------------------
    def amend(
        self, *, amount: Money, approval_ref: str, at: datetime, rules: BudgetRules,
        request_id: UUID | None = None,
    ) -> None:  # fmt: skip
        """A signed change, approved by the acting role within its tier; phased over the
        periods from the one it is made in. A reduction never takes available below zero; an
        increase is never refused for the balance (it may top up an overspent line in part).
        With ``request_id``, it approves that request (same amount, another person)."""
        self.require_status(v.ACTIVE, action="amend the budget of")
        change = self.minor_of(amount, "amount", signed=True)
        require_ref(approval_ref, "approvalRef")
        if request_id is not None:
            self._require_approvable(request_id, v.AMENDMENT, amount=(change, "amount"))
        role = current_envelope().actor_role
        rules.require_approval(role, amount.amount, self.currency)
        # Only a reduction can want funds: a top-up of an overspent line is accepted even
        # when it leaves the line below zero (it only brings available closer to it).
        if change < 0 and self.available_minor + change < 0:
            raise InsufficientFundsError(
                "the reduction is more than the available balance", field="amount"
            )
        phasing = self.phasing_from(at, change, rules)
        self.require_representable(budget=change, phasing=phasing)
        self.trigger_event(
            self.BudgetAmended, amount_minor=change, currency=self.currency,
            phasing_minor=phasing, approval_ref=approval_ref,
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
        require_future(expires_at)
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
        require_reason(reason)
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
        require_future(expires_at)
        require_reason(reason)
        self.trigger_event(
            self.OverspendAuthorisationRequested, limit_minor=limit_minor,
            currency=self.currency, expires_at=expires_at, reason=reason, occurred_at=at,
        )  # fmt: skip

    def reject_request(self, *, request_id: UUID, reason: str | None, at: datetime) -> None:
        """Close an open request unapproved, in any state of the line (a closed line's
        requests can only be rejected). Its requester may do it too: a withdrawal."""
        self._open_request(request_id, kind=None)
        require_reason(reason)
        self.trigger_event(
            self.RequestRejected, request_id=request_id, reason=reason, occurred_at=at
        )

    # ---- rules -------------------------------------------------------------------------
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
        require_two_people(
            people_of(request["requested_by"], request["requested_for"]),
            people_acting(current_envelope()),
            message="who asked for a change (or whom it was asked for) may not approve it",
        )
