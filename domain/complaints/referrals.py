"""A complaint's external referrals: to a QIO, a state agency, the PHSO or an accreditor, and
the outcome each one concludes with (domain-spec §2).

``ComplaintCase.referrals`` lists them, oldest first: ``{"body", "reference", "referred_at",
"outcome", "concluded_at"}`` (``outcome`` None while the review is open). The checks run in a
command, before its event; :func:`referred` and :func:`concluded` are what an event's
``apply`` assigns, pure so that replay rebuilds the same list. A referral, a fact about the
case, may be a late entry, but not before the complaint was received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.complaints.checks import require_one_of, require_text
from domain.complaints.facts import CaseFacts
from domain.complaints.lifecycle import check_after_receipt
from domain.complaints.vocabulary import EXTERNAL_BODIES
from domain.shared.errors import DomainValidationError, InvalidTransitionError, TimestampOrderError

Referrals = list[dict[str, Any]]


# ---- the checks a command runs ------------------------------------------------------------
def check_referral(case: CaseFacts, body: str, reference: str, at: datetime) -> None:
    """One open referral per body at a time."""
    require_one_of(body, EXTERNAL_BODIES, "body")
    require_text(reference, "reference")
    if any(r["body"] == body and r["outcome"] is None for r in case.referrals):
        raise InvalidTransitionError(f"the case is already referred to {body}, still open")
    check_after_receipt(case.received_at, at)


def referral_to_conclude(
    case: CaseFacts, outcome: str, body: str | None, at: datetime
) -> dict[str, Any]:
    """The open referral an outcome concludes: the only one open, or the one to ``body``."""
    require_text(outcome, "outcome")
    open_referrals = [
        r for r in case.referrals if r["outcome"] is None and body in (None, r["body"])
    ]
    if not open_referrals:
        raise InvalidTransitionError("there is no open external referral to conclude")
    if len(open_referrals) > 1:
        raise DomainValidationError("name the body of the referral concluded", field="body")
    (referral,) = open_referrals
    if at < referral["referred_at"]:
        raise TimestampOrderError("the outcome is before the referral")
    return referral


# ---- what an event's apply() assigns --------------------------------------------------------
def referred(referrals: Referrals, body: str, reference: str, at: datetime) -> Referrals:
    referral = {
        "body": body, "reference": reference, "referred_at": at, "outcome": None,
        "concluded_at": None,
    }  # fmt: skip
    return [*referrals, referral]


def concluded(
    referrals: Referrals, body: str, reference: str, outcome: str, at: datetime
) -> Referrals:
    """The open referral to ``body`` under ``reference`` concluded at ``at``."""
    return [
        {**r, "outcome": outcome, "concluded_at": at}
        if (r["body"], r["reference"], r["outcome"]) == (body, reference, None)
        else r
        for r in referrals
    ]
