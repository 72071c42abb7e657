"""A complaint's deadlines: the ledger it ran against, its breaches, and the rules that move
the response deadline (domain-spec §2).

The ledger (``ComplaintCase.deadlines``) keeps every deadline the case ran against: its kind
(``acknowledgement`` or ``response``), its due instant and the instant it stopped running
(met, superseded by an agreed extension or an interim response, or ended by closing or
withdrawing). A deadline is breached when it was still running after its due instant; the
deadline watcher asks for the breaches and records each one once per (deadline, due instant).

Two commands move the response deadline, both only before the current final response. An
extension agreed with the complainant (:func:`check_extension`). An interim response (CMS:
"still working on it, a written answer by D"): the final is then due by D, or the policy's
default after receipt; under a policy where an interim response does not move the deadline,
D may not be after the current due date (:func:`due_after_interim`).

The ledger functions are pure: an event's ``apply`` assigns what they return, so replay
rebuilds the same ledger. The checks run in a command, before its event, read the case's
facts (:class:`~domain.complaints.facts.CaseFacts`) and raise the domain's errors.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.complaints.checks import require_one_of
from domain.complaints.facts import CaseFacts
from domain.complaints.lifecycle import check_order, require_no_response
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import ACKNOWLEDGEMENT, DEADLINE_KINDS, RECEIVED, RESPONSE
from domain.shared.errors import (
    DomainValidationError,
    ExtensionTooLateError,
    InvalidTransitionError,
    TimestampOrderError,
)

Ledger = list[dict[str, Any]]
#: The resolution of a stored instant: the last moment before a due instant.
_JUST_BEFORE = timedelta(microseconds=1)


# ---- reading a due instant ----------------------------------------------------------------
def last_day_allowed(due_at: datetime | None, zone: ZoneInfo) -> date | None:
    """The last local day (in ``zone``) on which a deadline due at ``due_at`` is met.

    A due instant is exclusive: a deadline at the end of 30 December is due at the midnight
    that starts the 31st, which a calendar would show as the wrong day. The day allowed is
    the one of the instant just before it (for a due instant within a day, that day)."""
    if due_at is None:
        return None
    return (due_at - _JUST_BEFORE).astimezone(zone).date()


# ---- the ledger: what an event's apply() assigns --------------------------------------
def opened(acknowledgement_due_at: datetime | None, response_due_at: datetime) -> Ledger:
    """The deadlines a case starts with (a policy may set no acknowledgement deadline)."""
    return [
        {"deadline": kind, "due_at": due, "ended_at": None}
        for kind, due in ((ACKNOWLEDGEMENT, acknowledgement_due_at), (RESPONSE, response_due_at))
        if due is not None
    ]


def ended(deadlines: Ledger, kind: str, at: datetime) -> Ledger:
    """The ledger with the running deadline of ``kind`` (if any) stopped at ``at``."""
    return [
        {**d, "ended_at": at} if d["deadline"] == kind and d["ended_at"] is None else d
        for d in deadlines
    ]


def response_moved(deadlines: Ledger, due: datetime, at: datetime) -> Ledger:
    """The running response deadline superseded at ``at`` by a new one due at ``due``."""
    return [
        *ended(deadlines, RESPONSE, at),
        {"deadline": RESPONSE, "due_at": due, "ended_at": None},
    ]


# ---- reading --------------------------------------------------------------------------
def running(deadlines: Ledger) -> list[dict[str, Any]]:
    """The deadlines still running: ``[{"deadline", "due_at"}]``, earliest first."""
    still_running = [
        {"deadline": d["deadline"], "due_at": d["due_at"]}
        for d in deadlines
        if d["ended_at"] is None
    ]
    return sorted(still_running, key=lambda d: d["due_at"])


def breached(
    deadlines: Ledger, breaches: list[dict[str, Any]], at: datetime
) -> list[dict[str, Any]]:
    """The deadlines breached by instant ``at`` and not among ``breaches`` (those flagged
    already), earliest first: ``[{"deadline": "acknowledgement" | "response", "due_at"}]``."""
    flagged = {(b["deadline"], b["due_at"]) for b in breaches}
    # Keyed by (deadline, due instant): the ledger can hold one due date twice (a CMS
    # interim response promising the date already in force), and it is one deadline.
    found = {
        (d["deadline"], d["due_at"]): {"deadline": d["deadline"], "due_at": d["due_at"]}
        for d in deadlines
        if d["due_at"] < (d["ended_at"] or at) and d["due_at"] < at
        and (d["deadline"], d["due_at"]) not in flagged
    }  # fmt: skip
    return sorted(found.values(), key=lambda b: (b["due_at"], b["deadline"]))


def check_breach_flag(case: CaseFacts, deadline: str, due_at: datetime, at: datetime) -> None:
    """Refused for a deadline that is not breached at ``at`` or was flagged already."""
    require_one_of(deadline, DEADLINE_KINDS, "deadline")
    if any((b["deadline"], b["due_at"]) == (deadline, due_at) for b in case.breaches):
        raise InvalidTransitionError(f"that {deadline} deadline breach is already flagged")
    if {"deadline": deadline, "due_at": due_at} not in breached(case.deadlines, case.breaches, at):
        raise InvalidTransitionError(f"that {deadline} deadline is not breached")


# ---- the rules that move the response deadline -----------------------------------------
def check_extension(
    case: CaseFacts, *, new_due_at: datetime, complainant_agreed_at: datetime, at: datetime
) -> None:
    """Only before the current due date, with the complainant's agreement given before
    it too (NHS 2009 reg. 14(2)(b): "such longer period as may be agreed before the
    expiry of that period"), and never once the deadline watcher has flagged that due
    date's breach: an extension back-dated before the due date would otherwise turn a
    recorded breach into a deadline that was never missed."""
    action = "extend the response deadline of"
    require_no_response(case.status, case.final_response, action=action)
    due = case.response_due_at
    if at >= due:
        raise ExtensionTooLateError("the response deadline has passed: it cannot be extended")
    if any((b["deadline"], b["due_at"]) == (RESPONSE, due) for b in case.breaches):
        raise ExtensionTooLateError(
            "the response deadline's breach is already flagged: it cannot be extended"
        )
    if complainant_agreed_at >= due:
        raise ExtensionTooLateError(
            "the complainant agreed after the response deadline", field="complainantAgreedAt"
        )
    if complainant_agreed_at > at:
        raise TimestampOrderError(
            "the complainant's agreement is after the extension", field="complainantAgreedAt"
        )
    if complainant_agreed_at < case.received_at:
        raise TimestampOrderError(
            "the complainant's agreement is before the complaint", field="complainantAgreedAt"
        )
    if new_due_at <= due:
        raise InvalidTransitionError(
            "the new due date must be after the current one", field="newDueAt"
        )
    check_order(case.last_step_at, at, "extension")


def check_interim(
    case: CaseFacts, promised_by: datetime | None, at: datetime, rules: ComplaintRules
) -> datetime:
    """When the final response is due once the interim response is sent (see the module's
    docstring); an interim response promises the final one by a date still to come."""
    if case.status == RECEIVED:
        raise InvalidTransitionError("acknowledge the complaint before an interim response")
    action = "send an interim response for"
    require_no_response(case.status, case.final_response, action=action)
    if promised_by is not None and promised_by <= at:
        raise DomainValidationError("the promised date must be in the future", field="promisedBy")
    due = due_after_interim(
        rules, case.policy, promised_by=promised_by, due=case.response_due_at,
        received_at=case.received_at,
    )  # fmt: skip
    check_order(case.last_step_at, at, "interim response")
    return due


def due_after_interim(
    rules: ComplaintRules, policy: str, *, promised_by: datetime | None, due: datetime,
    received_at: datetime,
) -> datetime:  # fmt: skip
    """When the final response is due after an interim response promising ``promised_by``:
    that date (or the policy's default after receipt); under a policy where an interim
    response does not move the deadline, ``due`` unchanged, and a later promise is refused
    (``INVALID_TRANSITION``: whether it may depends on the due date in force)."""
    terms = rules.policy(policy)
    if terms.interim_default is None:
        if promised_by is not None and promised_by > due:
            raise InvalidTransitionError(
                f"under {policy} an interim response cannot move the response "
                "deadline: extend it with the complainant's agreement first",
                field="promisedBy",
            )
        return due
    return promised_by or rules.due(terms.interim_default, received_at)
