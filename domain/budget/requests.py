"""Changes a budget line takes only with approval: amendments and overspend authorisations.

Either one step (the acting role approves it within its tier: ``amend``,
``authorise_overspend``) or two, for segregation of duties: someone asks
(``AmendmentRequested``, ``OverspendAuthorisationRequested``; the event's id is the request's
id) and someone else approves it with the same terms, within the approver's tier, naming the
request; or it is rejected (withdrawn, if its requester does it).

The events: ``BudgetAmended`` (a signed change, phased over the periods from the one it is
made in) and ``OverspendAuthorised`` (commitments may take available down to ``-limit_minor``
until ``expires_at``; a later authorisation replaces an earlier one) name the tier that
approved them (``approval_tier``, the acting role) and the request they approve
(``request_id``; None: asked for and approved in one step). ``AmendmentRequested`` and
``OverspendAuthorisationRequested`` are asked by their ``actor_id``; ``RequestRejected`` says
why in its reason.

The line keeps every request, open or settled (``BudgetLine.requests``: request id → the
record :func:`opened` gives, its status changed by :func:`settled`). One ``check_*`` function
per command, in the order the rules are checked (the first rule broken is the error the
command raises), returns the fields of the event it records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.budget import vocabulary as v
from domain.budget.checks import require_future, require_reason, require_ref
from domain.budget.figures import (
    BudgetFacts,
    Recorded,
    minor_of,
    phasing_from,
    require_representable,
    require_status,
)
from domain.budget.policy import BudgetRules
from domain.shared.duties import people_acting, people_of, require_two_people
from domain.shared.envelope import current_envelope
from domain.shared.errors import (
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money

#: request id (str: the id of the event that asked) → {"kind", "status", "requested_by",
#: "requested_for", and the terms: "amount" or "limit" and "expires_at"}.
Requests = dict[str, dict[str, Any]]


# ---- the records: what an event's apply() assigns ---------------------------------------
def opened(kind: str, requested_by: str, requested_for: str | None, **terms: Any) -> dict[str, Any]:
    """A request as asked for: open, with its terms."""
    return {
        "kind": kind, "status": v.REQUEST_OPEN, "requested_by": requested_by,
        "requested_for": requested_for, **terms,
    }  # fmt: skip


def settled(requests: Requests, request_id: UUID | None, status: str) -> Requests:
    """The requests with ``request_id`` closed (approved or rejected); None: the decision
    answered no request, and nothing changes."""
    if request_id is None:
        return requests
    key = str(request_id)
    return {**requests, key: {**requests[key], "status": status}}


def still_open(requests: Requests) -> Requests:
    """The requests still waiting for a decision, by id."""
    return {k: r for k, r in requests.items() if r["status"] == v.REQUEST_OPEN}


# ---- one step, or the approval of a request ---------------------------------------------
def check_amendment(
    line: BudgetFacts, amount: Money, approval_ref: str, at: datetime, rules: BudgetRules,
    request_id: UUID | None,
) -> Recorded:  # fmt: skip
    """A signed change, approved by the acting role within its tier; phased over the periods
    from the one it is made in. A reduction never takes available below zero; an increase is
    never refused for the balance (it may top up an overspent line in part). With
    ``request_id``, it approves that request (same amount, another person)."""
    require_status(line, v.ACTIVE, action="amend the budget of")
    change = minor_of(line, amount, "amount", signed=True)
    require_ref(approval_ref, "approvalRef")
    if request_id is not None:
        require_approvable(line, request_id, v.AMENDMENT, amount=(change, "amount"))
    role = current_envelope().actor_role
    rules.require_approval(role, amount.amount, line.currency)
    # Only a reduction can want funds: a top-up of an overspent line is accepted even when it
    # leaves the line below zero (it only brings available closer to it).
    if change < 0 and line.available_minor + change < 0:
        raise InsufficientFundsError(
            "the reduction is more than the available balance", field="amount"
        )
    phasing = phasing_from(line, at, change, rules)
    require_representable(line, budget=change, phasing=phasing)
    return {
        "amount_minor": change, "currency": line.currency, "phasing_minor": phasing,
        "approval_ref": approval_ref, "approval_tier": role, "request_id": request_id,
    }  # fmt: skip


def check_overspend_authorisation(
    line: BudgetFacts, limit: Money, expires_at: datetime, rules: BudgetRules,
    request_id: UUID | None,
) -> Recorded:  # fmt: skip
    """Commitments may take available down to ``-limit`` until ``expires_at``; a later
    authorisation replaces an earlier one. With ``request_id``, it approves that request
    (same limit and expiry, another person)."""
    require_status(line, v.ACTIVE, action="authorise an overspend of")
    limit_minor = minor_of(line, limit, "limit")
    require_future(expires_at)
    if request_id is not None:
        require_approvable(
            line, request_id, v.OVERSPEND, limit=(limit_minor, "limit"),
            expires_at=(expires_at, "expiresAt"),
        )  # fmt: skip
    role = current_envelope().actor_role
    rules.require_approval(role, limit.amount, line.currency)
    return {
        "limit_minor": limit_minor, "currency": line.currency, "expires_at": expires_at,
        "approval_tier": role, "request_id": request_id,
    }  # fmt: skip


# ---- requests for approval (requester ≠ approver) -----------------------------------------
def check_amendment_request(line: BudgetFacts, amount: Money, reason: str | None) -> Recorded:
    """Asking for a signed change, for someone else to approve within their tier. No tier
    applies to asking; the balance is checked on approval, when it counts."""
    require_status(line, v.ACTIVE, action="request an amendment of")
    change = minor_of(line, amount, "amount", signed=True)
    require_reason(reason)
    return {"amount_minor": change, "currency": line.currency, "reason": reason}


def check_overspend_request(
    line: BudgetFacts, limit: Money, expires_at: datetime, reason: str | None
) -> Recorded:
    """Asking for an overspend authorisation, for someone else to approve."""
    require_status(line, v.ACTIVE, action="request an overspend authorisation of")
    limit_minor = minor_of(line, limit, "limit")
    require_future(expires_at)
    require_reason(reason)
    return {
        "limit_minor": limit_minor, "currency": line.currency, "expires_at": expires_at,
        "reason": reason,
    }  # fmt: skip


def check_rejection(line: BudgetFacts, request_id: UUID, reason: str | None) -> Recorded:
    """Closing an open request unapproved, in any state of the line (a closed line's
    requests can only be rejected). Its requester may do it too: a withdrawal."""
    open_request(line, request_id, kind=None)
    require_reason(reason)
    return {"request_id": request_id, "reason": reason}


# ---- the rules they share ---------------------------------------------------------------
def open_request(line: BudgetFacts, request_id: UUID, *, kind: str | None) -> Mapping[str, Any]:
    """The request ``request_id`` (of ``kind``, if given), still waiting for a decision."""
    request = line.requests.get(str(request_id))
    if request is None or (kind is not None and request["kind"] != kind):
        raise InvalidTransitionError(
            f"no {kind or 'approval'} request has that id", field="requestId"
        )
    if request["status"] != v.REQUEST_OPEN:
        raise InvalidTransitionError(
            f"the request is already {request['status']}", field="requestId"
        )
    return request


def require_approvable(
    line: BudgetFacts, request_id: UUID, kind: str, **terms: tuple[object, str]
) -> None:
    """The open request asks for exactly these terms (name → (value, input field)), and the
    approver is neither who asked nor whom they asked for (the same goes for whom the
    approver acts for)."""
    request = open_request(line, request_id, kind=kind)
    for name, (value, field) in terms.items():
        if request[name] != value:
            raise DomainValidationError(f"the {field} differs from the request's", field=field)
    require_two_people(
        people_of(request["requested_by"], request["requested_for"]),
        people_acting(current_envelope()),
        message="who asked for a change (or whom it was asked for) may not approve it",
    )
