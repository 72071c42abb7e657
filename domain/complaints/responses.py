"""A complaint's final response: drafted, approved by someone else, then sent with every item
the policy's checklist asks for (domain-spec §2).

One ``check_*`` function per command of :class:`~domain.complaints.case.ComplaintCase`, after
its status guard and in the order its rules are checked, over the case's facts
(:class:`~domain.complaints.facts.CaseFacts`); each raises the domain's errors. ``draft`` and
``approval`` are the case's records of the current draft (``document_ref``, ``drafted_by``,
``drafted_for``) and of its approval (``approved_by``, ``role``). The approver is neither the
drafter nor whom the draft was made for, and an extreme-risk case's response needs the
executive's sign-off: at its approval, and again when it is sent if the case was graded
extreme-risk after the approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.complaints.checks import check_checklist, require_text
from domain.complaints.facts import CaseFacts
from domain.complaints.lifecycle import check_order, require_status
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import (
    EXECUTIVE_ROLE,
    EXTREME,
    RESPONSE_DRAFTED,
    UNDER_INVESTIGATION,
)
from domain.shared.duties import people_acting, people_of, require_two_people
from domain.shared.envelope import Envelope, current_envelope
from domain.shared.errors import ApprovalRequiredError, InvalidTransitionError

#: A new draft may replace the current one (and its approval) until the response is sent.
_DRAFTABLE = (UNDER_INVESTIGATION, RESPONSE_DRAFTED)


def check_drafting(case: CaseFacts, document_ref: str, at: datetime) -> None:
    require_status(case.status, _DRAFTABLE, action="draft a response for")
    if case.findings is None:
        raise InvalidTransitionError("record the findings before drafting the response")
    require_text(document_ref, "documentRef")
    check_order(case.last_step_at, at, "draft")


def check_approval(case: CaseFacts, document_ref: str | None, at: datetime) -> str:
    """The draft approved (its ``document_ref``). ``document_ref``, when given, names the draft
    the approver reviewed: refused if the draft was replaced since. The approver is who the
    command is recorded for (:func:`~domain.shared.envelope.current_envelope`)."""
    require_status(case.status, (RESPONSE_DRAFTED,), action="approve the response of")
    draft = case.draft
    assert draft is not None  # a drafted response has its draft
    check_approvable(draft, case.approval, document_ref)
    check_approver(draft, case.risk_grade, current_envelope())
    check_order(case.last_step_at, at, "approval")
    approved: str = draft["document_ref"]
    return approved


def check_approvable(
    draft: Mapping[str, Any], approval: Mapping[str, Any] | None, document_ref: str | None
) -> None:
    if approval is not None:
        raise InvalidTransitionError("the draft is already approved")
    if document_ref is not None and document_ref != draft["document_ref"]:
        raise InvalidTransitionError(
            "the draft was replaced: review the current one", field="documentRef"
        )


def check_approver(draft: Mapping[str, Any], risk_grade: str | None, envelope: Envelope) -> None:
    require_two_people(
        people_of(draft["drafted_by"], draft.get("drafted_for")),
        people_acting(envelope),
        message="the drafter of a response (or whom it was drafted for) may not approve it",
    )
    if risk_grade == EXTREME and envelope.actor_role != EXECUTIVE_ROLE:
        raise ApprovalRequiredError("an extreme-risk complaint needs the executive's sign-off")


def check_final_response(
    case: CaseFacts, channel: str, checklist: dict[str, Any], at: datetime,
    rules: ComplaintRules,
) -> None:  # fmt: skip
    """Refused (``RESPONSE_INCOMPLETE``) unless every item of the policy's checklist is
    given: a non-blank text or ``true``."""
    require_status(case.status, (RESPONSE_DRAFTED,), action="send the final response of")
    approval = case.approval
    if approval is None:
        raise ApprovalRequiredError("the response must be approved before it is sent")
    if case.risk_grade == EXTREME and approval["role"] != EXECUTIVE_ROLE:
        raise ApprovalRequiredError(
            "the case is now extreme-risk: the response needs the executive's sign-off"
        )
    require_text(channel, "channel")
    check_checklist(case.policy, rules.policy(case.policy).checklist, checklist)
    check_order(case.last_step_at, at, "final response")
