"""A complaint's final response: drafted, approved by someone else, then sent with every item
the policy's checklist asks for (domain-spec §2).

Pure functions over the case's values: a command of :class:`~domain.complaints.case.ComplaintCase`
calls them, after its status guard and before its event, and each raises the domain's errors.
``draft`` and ``approval`` are the case's records of the current draft (``document_ref``,
``drafted_by``, ``drafted_for``) and of its approval (``approved_by``, ``role``); an extreme-risk
case's response needs the executive's sign-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.complaints.checks import check_checklist, require_text
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import EXECUTIVE_ROLE, EXTREME
from domain.shared.duties import people_acting, people_of, require_two_people
from domain.shared.envelope import Envelope
from domain.shared.errors import ApprovalRequiredError, InvalidTransitionError


def check_draft(findings: Mapping[str, Any] | None, document_ref: str) -> None:
    if findings is None:
        raise InvalidTransitionError("record the findings before drafting the response")
    require_text(document_ref, "documentRef")


def check_approvable(
    draft: Mapping[str, Any], approval: Mapping[str, Any] | None, document_ref: str | None
) -> None:
    """``document_ref``, when given, names the draft the approver reviewed: refused if the
    draft was replaced since."""
    if approval is not None:
        raise InvalidTransitionError("the draft is already approved")
    if document_ref is not None and document_ref != draft["document_ref"]:
        raise InvalidTransitionError(
            "the draft was replaced: review the current one", field="documentRef"
        )


def check_approver(draft: Mapping[str, Any], risk_grade: str | None, envelope: Envelope) -> None:
    """The approver (``envelope``: who is acting) is neither the drafter nor whom the draft
    was made for; an extreme-risk case needs the executive."""
    require_two_people(
        people_of(draft["drafted_by"], draft.get("drafted_for")),
        people_acting(envelope),
        message="the drafter of a response (or whom it was drafted for) may not approve it",
    )
    if risk_grade == EXTREME and envelope.actor_role != EXECUTIVE_ROLE:
        raise ApprovalRequiredError("an extreme-risk complaint needs the executive's sign-off")


def check_sending(
    approval: Mapping[str, Any] | None, *, risk_grade: str | None, channel: str, policy: str,
    checklist: dict[str, Any], rules: ComplaintRules,
) -> None:  # fmt: skip
    """Refused (``RESPONSE_INCOMPLETE``) unless every item of the policy's checklist is
    given: a non-blank text or ``true``. A case graded extreme-risk after its approval
    needs the executive's."""
    if approval is None:
        raise ApprovalRequiredError("the response must be approved before it is sent")
    if risk_grade == EXTREME and approval["role"] != EXECUTIVE_ROLE:
        raise ApprovalRequiredError(
            "the case is now extreme-risk: the response needs the executive's sign-off"
        )
    require_text(channel, "channel")
    check_checklist(policy, rules.policy(policy).checklist, checklist)
