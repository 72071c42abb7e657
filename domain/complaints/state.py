"""A complaint case's state: what its events assign, what the deadline watcher reads, and
the guards its commands share.

The state part of :class:`domain.complaints.case.ComplaintCase`, as :mod:`domain.budget.ledger`
is for ``BudgetLine``. Attributes are assigned only by the case's events' ``apply`` (the
assignment methods here are the ones several events share); the guards only read, and
raise the domain's errors before a command triggers anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.complaints import deadlines as ledger
from domain.complaints.vocabulary import BEFORE_RESPONSE, RECEIVED
from domain.shared.errors import InvalidTransitionError, TimestampOrderError

if TYPE_CHECKING:
    from domain.complaints.case import ComplaintCase

_BEFORE_RESPONSE = tuple(sorted(BEFORE_RESPONSE))


class ComplaintState:
    # ---- assigned only by events' apply() ---------------------------------------------
    def initialise(self, received: ComplaintCase.ComplaintReceived) -> None:
        self.status = RECEIVED
        self.received_at = received.occurred_at
        self.last_step_at = received.occurred_at
        for name in (
            "channel", "complainant_ref", "patient_ref", "visit_id", "summary", "policy",
            "service_unit", "event_date", "late_acceptance_reason", "acknowledgement_due_at",
            "response_due_at",
        ):  # fmt: skip
            setattr(self, name, getattr(received, name))
        self.categories = list(received.categories)
        self.kind: str | None = None
        self.primary_category: str | None = None
        self.risk_score: int | None = None
        self.risk_grade: str | None = None
        self.risk_history: list[dict[str, Any]] = []
        self.acknowledged_at: datetime | None = None
        self.acknowledgement_method: str | None = None
        self.investigator_ref: str | None = None
        self.investigation_started_at: datetime | None = None
        self.interim_responses: list[dict[str, Any]] = []
        self.findings: dict[str, Any] | None = None
        self.upheld: str | None = None
        self.draft: dict[str, Any] | None = None
        self.approval: dict[str, Any] | None = None
        self.final_response: dict[str, Any] | None = None
        self.responded_at: datetime | None = None
        self.resolution: str | None = None
        self.staff_present: list[str] = []
        self.closed_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.reopened_count = 0
        self.referrals: list[dict[str, Any]] = []
        self.breaches: list[dict[str, Any]] = []
        #: every deadline the case ran against (see :mod:`domain.complaints.deadlines`).
        self.deadlines: ledger.Ledger = ledger.opened(
            received.acknowledgement_due_at, received.response_due_at
        )

    def step(self, status: str, at: datetime) -> None:
        self.status = status
        self.last_step_at = max(self.last_step_at, at)

    def end_deadline(self, kind: str, at: datetime) -> None:
        self.deadlines = ledger.ended(self.deadlines, kind, at)

    def move_response_deadline(self, due: datetime, at: datetime) -> None:
        self.deadlines = ledger.response_moved(self.deadlines, due, at)
        self.response_due_at = due

    # ---- reading -----------------------------------------------------------------------
    @property
    def running_deadlines(self) -> list[dict[str, Any]]:
        """The deadlines still running: ``[{"deadline", "due_at"}]``, earliest first."""
        return ledger.running(self.deadlines)

    def breached_deadlines(self, at: datetime) -> list[dict[str, Any]]:
        """The deadlines breached by instant ``at`` and not flagged yet, earliest first:
        ``[{"deadline": "acknowledgement" | "response", "due_at": datetime}]``. A deadline is
        breached when it was still running after its due instant."""
        return ledger.breached(self.deadlines, self.breaches, at)

    # ---- guards for command methods ------------------------------------------------------
    def _require(self, *states: str, action: str) -> None:
        if self.status not in states:
            raise InvalidTransitionError(f"cannot {action} a complaint that is {self.status}")

    def _require_no_response(self, *, action: str) -> None:
        """Before the current final response: a reopened case awaits a new one (its
        ``responded_at`` keeps the first), so interims and extensions work again."""
        self._require(*_BEFORE_RESPONSE, action=action)
        if self.final_response is not None:
            raise InvalidTransitionError(f"cannot {action} a complaint already responded to")

    def _check_after_receipt(self, at: datetime) -> None:
        if at < self.received_at:
            raise TimestampOrderError("the time is before the complaint was received")

    def _check_order(self, at: datetime, step: str) -> None:
        """Steps of the lifecycle never go back in time (late entries may, before them)."""
        if at < self.last_step_at:
            raise TimestampOrderError(f"the {step} time is before an earlier step of the case")
