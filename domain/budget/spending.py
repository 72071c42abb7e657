"""The rules of a budget line's spend commands: postings, releases and reversals.

A posting repeated with the same reference and amount records nothing (it was done); the same
reference with another amount is refused (``INVALID_TRANSITION``). A posting entered by mistake
is reversed (``PostingReversed``, a compensation naming the event it corrects): what is still
open of it leaves the line. No posting may take the line's figures beyond what the read model
can hold (``require_representable``): not even an actual, which is otherwise never refused,
since a figure the system cannot represent is invalid input, not a fact to record.

The events: a commitment or an actual relieves ``relieved_minor`` of ``relieves_reference``,
a posting of the stage before (all of itself up to what is open there, never more); a
commitment records whether it took the line below zero under an overspend authorisation
(``overspend_authorised``). ``CommitmentReleased``: ``amount_minor`` of commitment
``reference`` will not be spent; its ``release_reference`` names the release, so a retry
records nothing (None: the caller named none). ``PostingReversed`` removes what was still open
of the posting (``amount_minor``) and names the event that recorded it
(``corrects_event_id``); its reason says why. ``OverspendDetected``: an actual left the line
overspent (``available_minor`` < 0), with or without an authorisation covering it. On a closed
line only finance posts, and the event says it is a ``year_end_adjustment``.

One ``check_*`` function per command, in the order the rules are checked (the first rule broken
is the error the command raises), over the line's facts (:class:`BudgetFacts`). Each returns the
fields of the event the command records, or None when the command repeats one already recorded.
"""

from __future__ import annotations

from uuid import UUID

from domain.budget import vocabulary as v
from domain.budget.checks import require_reason, require_ref
from domain.budget.figures import (
    BudgetFacts,
    Recorded,
    minor_of,
    require_representable,
    require_status,
)
from domain.shared.envelope import current_envelope, decision_time
from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money


# ---- one function per command ---------------------------------------------------------
def check_pre_encumbrance(
    line: BudgetFacts, reference: str, amount: Money, relieves_reference: str | None
) -> Recorded | None:
    """A requisition: refused past the available balance (it relieves nothing)."""
    if relieves_reference is not None:
        raise DomainValidationError("a requisition relieves nothing", field="relievesReference")
    minor = new_amount(line, v.PRE_ENCUMBRANCE, reference, amount, None)
    if minor is None:
        return None
    require_open_for_spend(line, "record a pre-encumbrance on")
    require_funds(line, minor)
    require_representable(line, moved={v.PRE_ENCUMBRANCE: minor})
    return {"reference": reference, "amount_minor": minor, "currency": line.currency}


def check_commitment(
    line: BudgetFacts, reference: str, amount: Money, relieves_reference: str | None
) -> Recorded | None:
    """A purchase order: refused past the available balance (after relieving its
    requisition) unless an active overspend authorisation covers it."""
    minor = new_amount(line, v.COMMITMENT, reference, amount, relieves_reference)
    if minor is None:
        return None
    require_open_for_spend(line, "record a commitment on")
    relieved = relief(line, v.PRE_ENCUMBRANCE, relieves_reference, minor)
    authorised = require_funds(line, minor - relieved)
    require_representable(line, moved={v.COMMITMENT: minor, v.PRE_ENCUMBRANCE: relieved})
    return {
        "reference": reference, "amount_minor": minor, "currency": line.currency,
        "relieves_reference": relieves_reference, "relieved_minor": relieved,
        "overspend_authorised": authorised,
    }  # fmt: skip


def check_actual(
    line: BudgetFacts, reference: str, amount: Money, relieves_reference: str | None
) -> Recorded | None:
    """An invoice or payroll cost: a fact, never refused for want of funds (if it leaves the
    line overspent, :func:`overspend` is recorded with it). Accepted on a draft line too
    (payroll does not wait for approval) and, from finance, on a closed one."""
    minor = new_amount(line, v.ACTUAL, reference, amount, relieves_reference)
    if minor is None:
        return None
    year_end = year_end_adjustment(line, "record an actual on")
    relieved = relief(line, v.COMMITMENT, relieves_reference, minor)
    # An actual is never refused for want of funds, but one the line cannot hold is.
    require_representable(line, moved={v.ACTUAL: minor, v.COMMITMENT: relieved})
    return {
        "reference": reference, "amount_minor": minor, "currency": line.currency,
        "relieves_reference": relieves_reference, "relieved_minor": relieved,
        "year_end_adjustment": year_end,
    }  # fmt: skip


def overspend(line: BudgetFacts, reference: str) -> Recorded | None:
    """What ``OverspendDetected`` records when the actual ``reference`` just left the line
    overspent; None if it did not."""
    if line.available_minor >= 0:
        return None
    return {
        "reference": reference, "available_minor": line.available_minor,
        "currency": line.currency, "authorised": overspend_covered(line, line.available_minor),
    }  # fmt: skip


def check_release(
    line: BudgetFacts, reference: str, amount: Money | None, release_reference: str | None
) -> Recorded | None:
    """The rest (or ``amount``) of a purchase order will not be spent: it returns to the
    available balance. Finance may release on a closed line (a year-end adjustment).
    ``release_reference`` names the release, unique per line: its repeat records nothing."""
    require_ref(reference, "reference")
    if repeats_release(line, release_reference, reference, amount):
        return None
    year_end = year_end_adjustment(line, "release a commitment on")
    posting = line.postings[v.COMMITMENT].get(reference)
    if posting is None:
        raise InvalidTransitionError("no commitment has that reference", field="reference")
    release = posting["open"] if amount is None else minor_of(line, amount, "amount")
    if posting["open"] == 0:
        raise InvalidTransitionError("the commitment is already relieved", field="reference")
    if release > posting["open"]:
        raise InvalidTransitionError(
            "the release is more than the commitment's open amount", field="amount"
        )
    require_representable(line, moved={v.COMMITMENT: release})
    return {
        "reference": reference, "amount_minor": release, "currency": line.currency,
        "year_end_adjustment": year_end, "release_reference": release_reference,
    }  # fmt: skip


def check_reversal(
    line: BudgetFacts, stage: str, reference: str, reason: str | None,
    corrects_event_id: UUID | None,
) -> Recorded:  # fmt: skip
    """The posting ``reference`` of ``stage`` was entered by mistake: what is still open of
    it (all of an actual; what no later stage relieved of a requisition or a purchase order)
    leaves the line. Also how a requisition no longer wanted is released. Allowed on a frozen
    line (it frees funds) and, from finance, on a closed one; ``corrects_event_id``, if given,
    must be the event that recorded the posting."""
    if stage not in v.STAGES:
        raise DomainValidationError("not a stage of spend", field="stage")
    require_ref(reference, "reference")
    require_reason(reason)
    posting = line.postings[stage].get(reference)
    if posting is None:
        raise InvalidTransitionError(
            f"no {stage.replace('_', '-')} has that reference", field="reference"
        )
    if posting["reversed"]:
        raise AlreadyCancelledError("the posting is already reversed", field="reference")
    if corrects_event_id is not None and corrects_event_id != posting["event_id"]:
        raise DomainValidationError(
            "that event did not record the posting", field="correctsEventId"
        )
    year_end = year_end_adjustment(line, "reverse a posting on")
    if posting["open"] == 0:
        raise InvalidTransitionError(
            "nothing of the posting is still open to reverse", field="reference"
        )
    require_representable(line, moved={stage: posting["open"]})
    return {
        "stage": stage, "reference": reference, "amount_minor": posting["open"],
        "currency": line.currency, "corrects_event_id": posting["event_id"],
        "year_end_adjustment": year_end, "reason": reason,
    }  # fmt: skip


# ---- the rules they share -------------------------------------------------------------
def require_open_for_spend(line: BudgetFacts, action: str) -> None:
    require_status(line, v.ACTIVE, action=action)
    if line.frozen:
        raise InvalidTransitionError(f"cannot {action} a frozen budget line")


def year_end_adjustment(line: BudgetFacts, action: str) -> bool:
    """On a closed line only finance may post (a year-end adjustment); True if so."""
    if line.status != v.CLOSED:
        return False
    if current_envelope().actor_role not in v.FINANCE_ROLES:
        raise InvalidTransitionError(f"only finance may {action} a closed budget line")
    return True


def new_amount(
    line: BudgetFacts, stage: str, reference: str, amount: Money, relieves: str | None
) -> int | None:
    """The posting's amount in minor units, or None if it repeats one already recorded
    (same reference, amount and relief): nothing new to record."""
    require_ref(reference, "reference")
    if relieves is not None:
        require_ref(relieves, "relievesReference")
    minor = minor_of(line, amount, "amount")
    earlier = line.postings[stage].get(reference)
    if earlier is None:
        return minor
    if (earlier["amount"], earlier["relieves"]) == (minor, relieves):
        return None
    raise InvalidTransitionError(
        "that reference is already recorded with another amount", field="reference"
    )


def relief(line: BudgetFacts, stage: str, reference: str | None, amount: int) -> int:
    """How much of the relieved posting's open amount this posting relieves: all of the
    posting up to what is open, never more."""
    if reference is None:
        return 0
    relieved = line.postings[stage].get(reference)
    if relieved is None:
        raise InvalidTransitionError(
            f"no {stage.replace('_', '-')} has that reference", field="relievesReference"
        )
    return min(amount, relieved["open"])


def repeats_release(
    line: BudgetFacts, release_reference: str | None, reference: str, amount: Money | None
) -> bool:
    """True if the named release was already made for this commitment and amount (an
    omitted amount, "the rest", matches whatever it released); refused if it was made for
    another commitment or amount."""
    if release_reference is None:
        return False
    require_ref(release_reference, "releaseReference")
    earlier = line.releases.get(release_reference)
    if earlier is None:
        return False
    asked = earlier["amount"] if amount is None else minor_of(line, amount, "amount")
    if (earlier["reference"], earlier["amount"]) == (reference, asked):
        return True
    raise InvalidTransitionError(
        "that release reference is already recorded with another commitment or amount",
        field="releaseReference",
    )


def require_funds(line: BudgetFacts, amount: int) -> bool:
    """Refuse a posting that would take available below zero, unless an active overspend
    authorisation covers it; True if it needs (and has) that authorisation."""
    after = line.available_minor - amount
    if after >= 0:
        return False
    if overspend_covered(line, after):
        return True
    raise InsufficientFundsError("the amount is more than the available balance", field="amount")


def overspend_covered(line: BudgetFacts, available_after: int) -> bool:
    """Whether an authorisation still in force allows available to be this low. In force is
    judged when the command is decided, whatever its ``occurred_at``: a back-dated posting
    cannot reach an authorisation that has since lapsed."""
    return (
        line.overspend_expires_at is not None
        and decision_time() < line.overspend_expires_at
        and -available_after <= line.overspend_limit_minor
    )
