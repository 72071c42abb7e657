"""The rules of a complaint's lifecycle: which status allows a step, the order of steps in
time, and what classifying, grading, assigning, investigating and closing a case need
(domain-spec §2).

One ``check_*`` function per command of :class:`~domain.complaints.case.ComplaintCase`, in the
order its rules are checked: the first rule broken is the error the command raises (naming
the wire field at fault). They read the case's facts (:class:`~domain.complaints.facts.CaseFacts`)
and the command's values, change nothing, and return what the event records where the case
decides it (the risk score and grade, the staff present at a closing, a reopened case's due
date). No event's ``apply`` calls one: replay never re-runs today's rules.

Steps of the lifecycle never go back in time (:func:`check_order`); facts about the case (a
classification, a grading, an investigator, a referral) may be late entries, but never before
the complaint was received (:func:`check_after_receipt`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from domain.complaints.checks import check_findings, check_risk_scale, require_one_of, require_text
from domain.complaints.facts import CaseFacts
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    AWAITING_INFORMATION,
    BEFORE_RESPONSE,
    CLOSED,
    CONCERN_RESOLVED_ON_SPOT,
    KINDS,
    OPEN_STATES,
    RECEIVED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    risk_grade,
)
from domain.shared.errors import InvalidTransitionError, TimestampOrderError


# ---- the guards every command shares ---------------------------------------------------
def require_status(status: str, allowed: Collection[str], *, action: str) -> None:
    if status not in allowed:
        raise InvalidTransitionError(f"cannot {action} a complaint that is {status}")


def require_no_response(
    status: str, final_response: Mapping[str, Any] | None, *, action: str
) -> None:
    """Before the current final response: a reopened case awaits a new one (its
    ``responded_at`` keeps the first), so interims and extensions work again."""
    require_status(status, BEFORE_RESPONSE, action=action)
    if final_response is not None:
        raise InvalidTransitionError(f"cannot {action} a complaint already responded to")


def check_after_receipt(received_at: datetime, at: datetime) -> None:
    if at < received_at:
        raise TimestampOrderError("the time is before the complaint was received")


def check_order(last_step_at: datetime, at: datetime, step: str) -> None:
    if at < last_step_at:
        raise TimestampOrderError(f"the {step} time is before an earlier step of the case")


# ---- facts about the case ----------------------------------------------------------------
def check_classification(case: CaseFacts, kind: str, at: datetime) -> None:
    """Once investigated, a case closes with findings and a response (see
    :func:`staff_for_closing`): it can no longer be a concern resolved on the spot."""
    require_status(case.status, OPEN_STATES, action="classify")
    require_one_of(kind, KINDS, "kind")
    if kind == CONCERN_RESOLVED_ON_SPOT and case.investigation_started_at is not None:
        raise InvalidTransitionError(
            "a complaint under investigation cannot be a concern resolved on the spot",
            field="kind",
        )
    check_after_receipt(case.received_at, at)


def check_grading(
    case: CaseFacts, consequence: int, likelihood: int, at: datetime
) -> tuple[int, str]:
    """The score and grade of the NPSA matrix (:func:`~domain.complaints.vocabulary.risk_grade`)."""
    require_status(case.status, OPEN_STATES, action="grade")
    check_risk_scale(consequence, likelihood)
    check_after_receipt(case.received_at, at)
    return risk_grade(consequence, likelihood)


def check_investigator(case: CaseFacts, investigator_ref: str, at: datetime) -> None:
    require_status(case.status, BEFORE_RESPONSE, action="assign an investigator to")
    require_text(investigator_ref, "investigatorRef")
    if investigator_ref == case.investigator_ref:
        raise InvalidTransitionError(
            "that investigator is already assigned", field="investigatorRef"
        )
    check_after_receipt(case.received_at, at)


# ---- the steps up to the findings ----------------------------------------------------------
def check_acknowledgement(case: CaseFacts, method: str, at: datetime) -> None:
    if case.acknowledged_at is not None:
        raise InvalidTransitionError("the complaint is already acknowledged")
    require_status(case.status, (RECEIVED,), action="acknowledge")
    require_text(method, "method")
    check_order(case.last_step_at, at, "acknowledgement")


def check_investigation_start(case: CaseFacts, at: datetime) -> None:
    if case.status == RECEIVED:
        raise InvalidTransitionError("acknowledge the complaint before investigating it")
    require_status(case.status, (ACKNOWLEDGED,), action="start an investigation of")
    check_order(case.last_step_at, at, "investigation")


def check_information_request(case: CaseFacts, at: datetime) -> None:
    require_status(case.status, (UNDER_INVESTIGATION,), action="request information for")
    check_order(case.last_step_at, at, "information request")


def check_information_received(case: CaseFacts, at: datetime) -> None:
    require_status(case.status, (AWAITING_INFORMATION,), action="receive information for")
    check_order(case.last_step_at, at, "information")


def check_findings_recorded(
    case: CaseFacts, steps_taken: str, conclusions: str, upheld: str, at: datetime
) -> None:
    require_status(case.status, (UNDER_INVESTIGATION,), action="record findings for")
    check_findings(steps_taken, conclusions, upheld)
    check_order(case.last_step_at, at, "findings")


# ---- the end of a case, and its reopening ---------------------------------------------------
def check_closing(
    case: CaseFacts, resolution: str, staff_present: list[str] | None, at: datetime
) -> list[str]:
    """The staff present the closing records (see :func:`staff_for_closing`)."""
    require_status(case.status, OPEN_STATES, action="close")
    staff = staff_for_closing(
        staff_present, kind=case.kind, status=case.status,
        investigated=case.investigation_started_at is not None,
        reopened_count=case.reopened_count, has_findings=case.findings is not None,
    )  # fmt: skip
    require_text(resolution, "resolution")
    check_order(case.last_step_at, at, "close")
    return staff


def staff_for_closing(
    staff_present: list[str] | None, *, kind: str | None, status: str,
    investigated: bool, reopened_count: int, has_findings: bool,
) -> list[str]:  # fmt: skip
    """The staff present a closing records (blank names dropped), once the case may close:
    it needs findings and a sent final response; a concern resolved on the spot needs only
    the staff present — unless it was investigated or reopened: then it closes like any
    complaint."""
    staff = [s for s in staff_present or [] if s.strip()]
    on_the_spot = (
        kind == CONCERN_RESOLVED_ON_SPOT
        and status != RESPONSE_SENT
        and not investigated
        and not reopened_count
    )
    if on_the_spot:
        if not staff:
            raise InvalidTransitionError(
                "a concern resolved on the spot names the staff present", field="staffPresent"
            )
    else:
        if not has_findings:
            raise InvalidTransitionError("a case cannot be closed without findings")
        if status != RESPONSE_SENT:
            raise InvalidTransitionError(
                "a case cannot be closed before its final response is sent"
            )
    return staff


def check_withdrawal(case: CaseFacts, reason: str, at: datetime) -> None:
    require_status(case.status, OPEN_STATES, action="withdraw")
    require_text(reason, "reason")
    check_order(case.last_step_at, at, "withdrawal")


def check_reopening(case: CaseFacts, reason: str, at: datetime, rules: ComplaintRules) -> datetime:
    """When the new response is due: the policy's response period after the reopening."""
    require_status(case.status, (CLOSED,), action="reopen")
    require_text(reason, "reason")
    check_order(case.last_step_at, at, "reopening")
    return rules.response_due(rules.policy(case.policy), at)
