"""A budget line's spend: requisitions, purchase orders, invoices and their releases.

Spend goes through three stages, each posting named by a reference unique per line and
stage: a pre-encumbrance (requisition), a commitment (purchase order, relieving its
requisition) and an actual (invoice or payroll, relieving its purchase order). A posting
repeated with the same reference and amount records nothing (it was done); the same
reference with another amount is refused (``INVALID_TRANSITION``). A posting entered by
mistake is reversed (``PostingReversed``, a compensation naming the event it corrects): what
is still open of it leaves the line.

No posting may take the line's figures beyond what the read model can hold
(``require_representable``): not even an actual, which is otherwise never refused, since a
figure the system cannot represent is invalid input, not a fact to record.

:class:`BudgetSpending` holds these command methods of :class:`domain.budget.line.BudgetLine`; the
events they trigger stay nested in the aggregate (``self.CommitmentRecorded``, …), since
stored events are named by their class's place.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.budget import vocabulary as v
from domain.budget.checks import BudgetChecks, require_reason, require_ref
from domain.shared.envelope import current_envelope, decision_time
from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
)
from domain.shared.money import Money


class BudgetSpending(BudgetChecks):
    def record_pre_encumbrance(
        self, *, reference: str, amount: Money, at: datetime, relieves_reference: str | None = None
    ) -> None:
        if relieves_reference is not None:
            raise DomainValidationError("a requisition relieves nothing", field="relievesReference")
        minor = self._posting(v.PRE_ENCUMBRANCE, reference, amount, None)
        if minor is None:
            return
        self._require_open_for_spend("record a pre-encumbrance on")
        self._require_funds(minor)
        self.require_representable(**{v.PRE_ENCUMBRANCE: minor})
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
        authorised = self._require_funds(minor - relieved)
        self.require_representable(**{v.COMMITMENT: minor, v.PRE_ENCUMBRANCE: relieved})
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
        # An actual is never refused for want of funds, but one the line cannot hold is.
        self.require_representable(**{v.ACTUAL: minor, v.COMMITMENT: relieved})
        self.trigger_event(
            self.ActualRecorded, reference=reference, amount_minor=minor,
            currency=self.currency, relieves_reference=relieves_reference,
            relieved_minor=relieved, year_end_adjustment=year_end, occurred_at=at,
        )  # fmt: skip
        if self.available_minor < 0:
            self.trigger_event(
                self.OverspendDetected, reference=reference, available_minor=self.available_minor,
                currency=self.currency, authorised=self.overspend_covered(self.available_minor),
                occurred_at=at,
            )  # fmt: skip

    def release_commitment(
        self, *, reference: str, amount: Money | None = None, at: datetime,
        release_reference: str | None = None,
    ) -> None:  # fmt: skip
        """The rest (or ``amount``) of a purchase order will not be spent: it returns to
        the available balance. Finance may do it on a closed line (a year-end adjustment).
        ``release_reference`` names the release, unique per line: its repeat records nothing."""
        require_ref(reference, "reference")
        if self._repeats_release(release_reference, reference, amount):
            return
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
        self.require_representable(**{v.COMMITMENT: release})
        self.trigger_event(
            self.CommitmentReleased, reference=reference, amount_minor=release,
            currency=self.currency, year_end_adjustment=year_end,
            release_reference=release_reference, occurred_at=at,
        )  # fmt: skip

    def reverse_posting(
        self, *, stage: str, reference: str, reason: str | None, at: datetime,
        corrects_event_id: UUID | None = None,
    ) -> None:  # fmt: skip
        """The posting ``reference`` of ``stage`` was entered by mistake: what is still open
        of it (all of an actual; what no later stage relieved of a requisition or a purchase
        order) leaves the line. Also how a requisition no longer wanted is released. Allowed
        on a frozen line (it frees funds) and, from finance, on a closed one."""
        if stage not in v.STAGES:
            raise DomainValidationError("not a stage of spend", field="stage")
        require_ref(reference, "reference")
        require_reason(reason)
        posting = self.postings[stage].get(reference)
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
        year_end = self._year_end_adjustment("reverse a posting on")
        if posting["open"] == 0:
            raise InvalidTransitionError(
                "nothing of the posting is still open to reverse", field="reference"
            )
        self.require_representable(**{stage: posting["open"]})
        self.trigger_event(
            self.PostingReversed, stage=stage, reference=reference,
            amount_minor=posting["open"], currency=self.currency,
            corrects_event_id=posting["event_id"], year_end_adjustment=year_end,
            reason=reason, occurred_at=at,
        )  # fmt: skip

    # ---- rules -------------------------------------------------------------------------
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

    def _posting(
        self, stage: str, reference: str, amount: Money, relieves: str | None
    ) -> int | None:
        """The posting's amount in minor units, or None if it repeats one already recorded
        (same reference, amount and relief): nothing new to record."""
        require_ref(reference, "reference")
        if relieves is not None:
            require_ref(relieves, "relievesReference")
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

    def _repeats_release(
        self, release_reference: str | None, reference: str, amount: Money | None
    ) -> bool:
        """True if the named release was already made for this commitment and amount (an
        omitted amount, "the rest", matches whatever it released); refused if it was made
        for another commitment or amount."""
        if release_reference is None:
            return False
        require_ref(release_reference, "releaseReference")
        earlier = self.releases.get(release_reference)
        if earlier is None:
            return False
        asked = earlier["amount"] if amount is None else self.minor_of(amount, "amount")
        if (earlier["reference"], earlier["amount"]) == (reference, asked):
            return True
        raise InvalidTransitionError(
            "that release reference is already recorded with another commitment or amount",
            field="releaseReference",
        )

    def _require_funds(self, amount: int) -> bool:
        """Refuse a posting that would take available below zero, unless an active overspend
        authorisation covers it; True if it needs (and has) that authorisation."""
        after = self.available_minor - amount
        if after >= 0:
            return False
        if self.overspend_covered(after):
            return True
        raise InsufficientFundsError(
            "the amount is more than the available balance", field="amount"
        )

    def overspend_covered(self, available_after: int) -> bool:
        """Whether an authorisation still in force allows available to be this low. In force
        is judged when the command is decided, whatever its ``occurred_at``: a back-dated
        posting cannot reach an authorisation that has since lapsed."""
        return (
            self.overspend_expires_at is not None
            and decision_time() < self.overspend_expires_at
            and -available_after <= self.overspend_limit_minor
        )
