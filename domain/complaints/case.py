"""ComplaintCase: one complaint or grievance, from receipt to close (domain-spec §2).

Command methods (public verbs) check every rule, then trigger an event; each event's
``apply`` only assigns, because it runs again on every replay and replay must never re-run
today's rules. Due dates are computed from the case's policy when the command runs (see
:mod:`domain.complaints.policy`) and stored in the event, so history never changes.

The rules are pure functions over the case's values, beside this module: what a command is
given (:mod:`~domain.complaints.checks`), which status allows a step and in what order
(:mod:`~domain.complaints.lifecycle`), the response's draft, approval and checklist
(:mod:`~domain.complaints.responses`) and the external referrals
(:mod:`~domain.complaints.referrals`). The case keeps a ledger of the deadlines it ran against
(``deadlines``, see :mod:`domain.complaints.deadlines`); the deadline watcher asks
:meth:`breached_deadlines` and records each breach once with :meth:`flag_sla_breach`.

The complaint's narrative (``summary``) and the free text of findings, responses and
resolutions are personal data: only the aggregate holds them, never a read model, log line
or error message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.complaints import checks, deadlines, lifecycle, referrals, responses
from domain.complaints.checks import require_text
from domain.complaints.lifecycle import check_after_receipt, check_order, require_status
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    ACKNOWLEDGEMENT,
    AWAITING_INFORMATION,
    BEFORE_RESPONSE,
    CLOSED,
    KINDS,
    OPEN_STATES,
    RECEIVED,
    RESPONSE,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    WITHDRAWN,
    risk_grade,
)
from domain.shared.base import AuditedAggregate
from domain.shared.envelope import current_envelope
from domain.shared.errors import InvalidTransitionError

_DRAFTABLE = (UNDER_INVESTIGATION, RESPONSE_DRAFTED)


class ComplaintCase(AuditedAggregate):
    # ---- creation ------------------------------------------------------------------
    class ComplaintReceived(AuditedAggregate.Created):
        """``occurred_at`` is when the complaint was received; the due dates were computed
        from the policy then."""

        channel: str
        complainant_ref: str
        patient_ref: str | None
        visit_id: UUID | None
        categories: list[str]
        summary: str
        policy: str
        service_unit: str | None
        event_date: str | None  # ISO date: the transcoder stores no ``date``
        late_acceptance_reason: str | None
        acknowledgement_due_at: datetime | None
        response_due_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            case._receive(self)

    # ---- facts about the case (no change of status) ----------------------------------
    class ComplaintClassified(AuditedAggregate.Event):
        kind: str
        primary_category: str | None

        def apply(self, case: ComplaintCase) -> None:
            case.kind, case.primary_category = self.kind, self.primary_category

    class RiskGraded(AuditedAggregate.Event):
        consequence: int
        likelihood: int
        score: int
        grade: str

        def apply(self, case: ComplaintCase) -> None:
            case.risk_score, case.risk_grade = self.score, self.grade
            graded = {
                "consequence": self.consequence, "likelihood": self.likelihood,
                "score": self.score, "grade": self.grade, "graded_at": self.occurred_at,
                "graded_by": self.actor_id,
            }  # fmt: skip
            case.risk_history = [*case.risk_history, graded]

    class InvestigatorAssigned(AuditedAggregate.Event):
        investigator_ref: str

        def apply(self, case: ComplaintCase) -> None:
            case.investigator_ref = self.investigator_ref

    class ExternallyReferred(AuditedAggregate.Event):
        body: str
        reference: str

        def apply(self, case: ComplaintCase) -> None:
            at = self.occurred_at
            case.referrals = referrals.referred(case.referrals, self.body, self.reference, at)

    class ExternalReviewConcluded(AuditedAggregate.Event):
        body: str
        reference: str
        outcome: str

        def apply(self, case: ComplaintCase) -> None:
            case.referrals = referrals.concluded(
                case.referrals, self.body, self.reference, self.outcome, self.occurred_at
            )

    class SlaBreached(AuditedAggregate.Event):
        """Recorded by the deadline watcher: a fact, no change of status."""

        deadline: str
        due_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            breach = {"deadline": self.deadline, "due_at": self.due_at}
            case.breaches = [*case.breaches, {**breach, "flagged_at": self.occurred_at}]

    # ---- the lifecycle ---------------------------------------------------------------
    class ComplaintAcknowledged(AuditedAggregate.Event):
        method: str

        def apply(self, case: ComplaintCase) -> None:
            case._step(ACKNOWLEDGED, self.occurred_at)
            case.acknowledged_at, case.acknowledgement_method = self.occurred_at, self.method
            case._end_deadline(ACKNOWLEDGEMENT, self.occurred_at)

    class InvestigationStarted(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(UNDER_INVESTIGATION, self.occurred_at)
            case.investigation_started_at = self.occurred_at

    class InformationRequested(AuditedAggregate.Event):
        details: str | None

        def apply(self, case: ComplaintCase) -> None:
            case._step(AWAITING_INFORMATION, self.occurred_at)

    class InformationReceived(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(UNDER_INVESTIGATION, self.occurred_at)

    class ResponseDeadlineExtended(AuditedAggregate.Event):
        previous_due_at: datetime
        response_due_at: datetime
        complainant_agreed_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            case._step(case.status, self.occurred_at)
            case._move_response_deadline(self.response_due_at, self.occurred_at)

    class InterimResponseSent(AuditedAggregate.Event):
        """``response_due_at``: when the final response is due from now on (unchanged where
        the policy does not let an interim response move it)."""

        promised_by: datetime | None
        response_due_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            case._step(case.status, self.occurred_at)
            interim = {"sent_at": self.occurred_at, "promised_by": self.promised_by}
            case.interim_responses = [*case.interim_responses, interim]
            if self.response_due_at != case.response_due_at:
                case._move_response_deadline(self.response_due_at, self.occurred_at)

    class FindingsRecorded(AuditedAggregate.Event):
        steps_taken: str
        conclusions: str
        upheld: str
        actions: str | None

        def apply(self, case: ComplaintCase) -> None:
            case._step(case.status, self.occurred_at)
            case.upheld = self.upheld
            case.findings = {
                "steps_taken": self.steps_taken, "conclusions": self.conclusions,
                "upheld": self.upheld, "actions": self.actions, "recorded_at": self.occurred_at,
            }  # fmt: skip

    class ResponseDrafted(AuditedAggregate.Event):
        document_ref: str

        def apply(self, case: ComplaintCase) -> None:
            case._step(RESPONSE_DRAFTED, self.occurred_at)
            case.draft = {
                "document_ref": self.document_ref, "drafted_by": self.actor_id,
                "drafted_for": self.on_behalf_of, "drafted_at": self.occurred_at,
            }  # fmt: skip
            case.approval = None

    class ResponseApproved(AuditedAggregate.Event):
        """``document_ref``: the draft approved (None in events recorded before it was
        kept)."""

        class_version = 2
        document_ref: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["document_ref"] = None

        def apply(self, case: ComplaintCase) -> None:
            case._step(case.status, self.occurred_at)
            case.approval = {
                "approved_by": self.actor_id, "role": self.actor_role,
                "approved_at": self.occurred_at, "document_ref": self.document_ref,
            }  # fmt: skip

    class FinalResponseSent(AuditedAggregate.Event):
        channel: str
        document_hash: str | None
        checklist: dict[str, Any]

        def apply(self, case: ComplaintCase) -> None:
            case._step(RESPONSE_SENT, self.occurred_at)
            if case.responded_at is None:
                case.responded_at = self.occurred_at
            case.final_response = {
                "channel": self.channel, "document_hash": self.document_hash,
                "checklist": dict(self.checklist), "sent_at": self.occurred_at,
            }  # fmt: skip
            case._end_deadline(RESPONSE, self.occurred_at)

    class ComplaintClosed(AuditedAggregate.Event):
        resolution: str
        staff_present: list[str]

        def apply(self, case: ComplaintCase) -> None:
            case._step(CLOSED, self.occurred_at)
            case.resolution, case.staff_present = self.resolution, list(self.staff_present)
            case.closed_at = self.occurred_at
            case._end_deadline(ACKNOWLEDGEMENT, self.occurred_at)
            case._end_deadline(RESPONSE, self.occurred_at)

    class ComplaintWithdrawn(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(WITHDRAWN, self.occurred_at)
            case.withdrawn_at = self.occurred_at
            case._end_deadline(ACKNOWLEDGEMENT, self.occurred_at)
            case._end_deadline(RESPONSE, self.occurred_at)

    class ComplaintReopened(AuditedAggregate.Event):
        """Back to investigation: a new response must be drafted, approved and sent, due
        at ``response_due_at`` (the policy's response period from the reopening; None in
        events recorded before a reopened case had a deadline)."""

        class_version = 2
        response_due_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["response_due_at"] = None

        def apply(self, case: ComplaintCase) -> None:
            case._step(UNDER_INVESTIGATION, self.occurred_at)
            if self.response_due_at is not None:
                case._move_response_deadline(self.response_due_at, self.occurred_at)
            case.reopened_count += 1
            case.closed_at = case.resolution = case.final_response = None
            case.draft = case.approval = None
            case.staff_present = []

    # ---- the state: assigned only by the events' apply() -------------------------------
    def _receive(self, e: ComplaintCase.ComplaintReceived) -> None:
        """Every attribute of the case, as its receipt sets them."""
        self.status = RECEIVED
        self.received_at: datetime = e.occurred_at
        self.last_step_at: datetime = e.occurred_at
        self.channel, self.complainant_ref, self.patient_ref = (
            e.channel, e.complainant_ref, e.patient_ref,
        )  # fmt: skip
        self.visit_id, self.categories, self.summary = e.visit_id, list(e.categories), e.summary
        self.policy, self.service_unit, self.event_date = e.policy, e.service_unit, e.event_date
        self.late_acceptance_reason = e.late_acceptance_reason
        self.acknowledgement_due_at = e.acknowledgement_due_at
        self.response_due_at = e.response_due_at
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
        self.referrals: referrals.Referrals = []
        self.breaches: list[dict[str, Any]] = []
        #: every deadline the case ran against (see :mod:`domain.complaints.deadlines`).
        self.deadlines: deadlines.Ledger = deadlines.opened(
            e.acknowledgement_due_at, e.response_due_at
        )

    def _step(self, status: str, at: datetime) -> None:
        self.status = status
        self.last_step_at = max(self.last_step_at, at)

    def _end_deadline(self, kind: str, at: datetime) -> None:
        self.deadlines = deadlines.ended(self.deadlines, kind, at)

    def _move_response_deadline(self, due: datetime, at: datetime) -> None:
        self.deadlines = deadlines.response_moved(self.deadlines, due, at)
        self.response_due_at = due

    # ---- reading -----------------------------------------------------------------------
    @property
    def running_deadlines(self) -> list[dict[str, Any]]:
        """The deadlines still running: ``[{"deadline", "due_at"}]``, earliest first."""
        return deadlines.running(self.deadlines)

    def breached_deadlines(self, at: datetime) -> list[dict[str, Any]]:
        """The deadlines breached by instant ``at`` and not flagged yet, earliest first:
        ``[{"deadline": "acknowledgement" | "response", "due_at": datetime}]``. A deadline is
        breached when it was still running after its due instant."""
        return deadlines.breached(self.deadlines, self.breaches, at)

    # ---- commands: creation ------------------------------------------------------------
    @classmethod
    def register(
        cls, *, channel: str, complainant_ref: str, categories: list[str], summary: str,
        policy: str, at: datetime, rules: ComplaintRules, patient_ref: str | None = None,
        visit_id: UUID | None = None, service_unit: str | None = None,
        event_date: date | None = None, late_acceptance_reason: str | None = None,
    ) -> ComplaintCase:  # fmt: skip
        """``at`` is when the complaint was received."""
        terms = checks.check_registration(
            channel=channel, policy=policy, categories=categories, summary=summary,
            event_date=event_date, late_acceptance_reason=late_acceptance_reason, at=at,
            rules=rules,
        )  # fmt: skip
        case: ComplaintCase = cls._create(
            cls.ComplaintReceived, channel=channel, complainant_ref=complainant_ref,
            patient_ref=patient_ref, visit_id=visit_id, categories=list(dict.fromkeys(categories)),
            summary=summary, policy=policy, service_unit=service_unit,
            event_date=None if event_date is None else event_date.isoformat(),
            late_acceptance_reason=late_acceptance_reason,
            acknowledgement_due_at=rules.acknowledgement_due(terms, at),
            response_due_at=rules.response_due(terms, at), occurred_at=at,
        )  # fmt: skip
        return case

    # ---- commands: facts (late entries allowed, but not before the receipt) --------------
    def classify(self, *, kind: str, primary_category: str | None = None, at: datetime) -> None:
        require_status(self.status, OPEN_STATES, action="classify")
        checks.require_one_of(kind, KINDS, "kind")
        lifecycle.check_kind(kind, investigated=self.investigation_started_at is not None)
        check_after_receipt(self.received_at, at)
        self.trigger_event(
            self.ComplaintClassified, kind=kind, primary_category=primary_category, occurred_at=at
        )

    def grade_risk(self, *, consequence: int, likelihood: int, at: datetime) -> None:
        require_status(self.status, OPEN_STATES, action="grade")
        checks.check_risk_scale(consequence, likelihood)
        check_after_receipt(self.received_at, at)
        score, grade = risk_grade(consequence, likelihood)
        self.trigger_event(
            self.RiskGraded, consequence=consequence, likelihood=likelihood, score=score,
            grade=grade, occurred_at=at,
        )  # fmt: skip

    def assign_investigator(self, *, investigator_ref: str, at: datetime) -> None:
        require_status(self.status, BEFORE_RESPONSE, action="assign an investigator to")
        require_text(investigator_ref, "investigatorRef")
        lifecycle.check_new_investigator(investigator_ref, self.investigator_ref)
        check_after_receipt(self.received_at, at)
        self.trigger_event(
            self.InvestigatorAssigned, investigator_ref=investigator_ref, occurred_at=at
        )

    def refer_externally(self, *, body: str, reference: str, at: datetime) -> None:
        referrals.check_referral(self.referrals, body, reference)
        check_after_receipt(self.received_at, at)
        self.trigger_event(self.ExternallyReferred, body=body, reference=reference, occurred_at=at)

    def record_external_outcome(
        self, *, outcome: str, body: str | None = None, at: datetime
    ) -> None:
        referral = referrals.referral_to_conclude(self.referrals, outcome=outcome, body=body, at=at)
        self.trigger_event(
            self.ExternalReviewConcluded, body=referral["body"], reference=referral["reference"],
            outcome=outcome, occurred_at=at,
        )  # fmt: skip

    # ---- commands: the lifecycle -----------------------------------------------------
    def acknowledge(self, *, method: str, at: datetime) -> None:
        if self.acknowledged_at is not None:
            raise InvalidTransitionError("the complaint is already acknowledged")
        require_status(self.status, (RECEIVED,), action="acknowledge")
        require_text(method, "method")
        check_order(self.last_step_at, at, "acknowledgement")
        self.trigger_event(self.ComplaintAcknowledged, method=method, occurred_at=at)

    def start_investigation(self, *, at: datetime) -> None:
        if self.status == RECEIVED:
            raise InvalidTransitionError("acknowledge the complaint before investigating it")
        require_status(self.status, (ACKNOWLEDGED,), action="start an investigation of")
        check_order(self.last_step_at, at, "investigation")
        self.trigger_event(self.InvestigationStarted, occurred_at=at)

    def request_information(self, *, details: str | None = None, at: datetime) -> None:
        require_status(self.status, (UNDER_INVESTIGATION,), action="request information for")
        check_order(self.last_step_at, at, "information request")
        self.trigger_event(self.InformationRequested, details=details, occurred_at=at)

    def receive_information(self, *, at: datetime) -> None:
        require_status(self.status, (AWAITING_INFORMATION,), action="receive information for")
        check_order(self.last_step_at, at, "information")
        self.trigger_event(self.InformationReceived, occurred_at=at)

    def extend_response_deadline(
        self, *, new_due_at: datetime, complainant_agreed_at: datetime, at: datetime
    ) -> None:
        """Only before the current due date, with the complainant's agreement given before
        it too (see :func:`domain.complaints.deadlines.check_extension`)."""
        action = "extend the response deadline of"
        lifecycle.require_no_response(self.status, self.final_response, action=action)
        due = self.response_due_at
        deadlines.check_extension(
            due=due, received_at=self.received_at, new_due_at=new_due_at,
            complainant_agreed_at=complainant_agreed_at, at=at, breaches=self.breaches,
        )  # fmt: skip
        check_order(self.last_step_at, at, "extension")
        self.trigger_event(
            self.ResponseDeadlineExtended, previous_due_at=due, response_due_at=new_due_at,
            complainant_agreed_at=complainant_agreed_at, occurred_at=at,
        )  # fmt: skip

    def send_interim_response(
        self, *, promised_by: datetime | None = None, at: datetime, rules: ComplaintRules
    ) -> None:
        """CMS: "still working on it, a written answer by D"; the final is then due by D
        (or the policy's default after receipt). Under a policy where an interim response
        does not move the deadline, D may not be after the current due date."""
        if self.status == RECEIVED:
            raise InvalidTransitionError("acknowledge the complaint before an interim response")
        action = "send an interim response for"
        lifecycle.require_no_response(self.status, self.final_response, action=action)
        deadlines.check_promise(promised_by, at)
        due = deadlines.due_after_interim(
            rules, self.policy, promised_by=promised_by, due=self.response_due_at,
            received_at=self.received_at,
        )  # fmt: skip
        check_order(self.last_step_at, at, "interim response")
        self.trigger_event(
            self.InterimResponseSent, promised_by=promised_by, response_due_at=due, occurred_at=at
        )

    def record_findings(
        self, *, steps_taken: str, conclusions: str, upheld: str, actions: str | None = None,
        at: datetime,
    ) -> None:  # fmt: skip
        require_status(self.status, (UNDER_INVESTIGATION,), action="record findings for")
        checks.check_findings(steps_taken, conclusions, upheld)
        check_order(self.last_step_at, at, "findings")
        self.trigger_event(
            self.FindingsRecorded, steps_taken=steps_taken, conclusions=conclusions,
            upheld=upheld, actions=actions, occurred_at=at,
        )  # fmt: skip

    def draft_response(self, *, document_ref: str, at: datetime) -> None:
        require_status(self.status, _DRAFTABLE, action="draft a response for")
        responses.check_draft(self.findings, document_ref)
        check_order(self.last_step_at, at, "draft")
        self.trigger_event(self.ResponseDrafted, document_ref=document_ref, occurred_at=at)

    def approve_response(self, *, document_ref: str | None = None, at: datetime) -> None:
        """``document_ref``, when given, names the draft the approver reviewed: refused if
        the draft was replaced since."""
        require_status(self.status, (RESPONSE_DRAFTED,), action="approve the response of")
        assert self.draft is not None
        responses.check_approvable(self.draft, self.approval, document_ref)
        responses.check_approver(self.draft, self.risk_grade, current_envelope())
        check_order(self.last_step_at, at, "approval")
        self.trigger_event(
            self.ResponseApproved, document_ref=self.draft["document_ref"], occurred_at=at
        )

    def send_final_response(
        self, *, channel: str, checklist: dict[str, Any], document_hash: str | None = None,
        at: datetime, rules: ComplaintRules,
    ) -> None:  # fmt: skip
        """Refused (``RESPONSE_INCOMPLETE``) unless every item of the policy's checklist is
        given: a non-blank text or ``true``."""
        require_status(self.status, (RESPONSE_DRAFTED,), action="send the final response of")
        responses.check_sending(
            self.approval, risk_grade=self.risk_grade, channel=channel, policy=self.policy,
            checklist=checklist, rules=rules,
        )  # fmt: skip
        check_order(self.last_step_at, at, "final response")
        self.trigger_event(
            self.FinalResponseSent, channel=channel, document_hash=document_hash,
            checklist=dict(checklist), occurred_at=at,
        )  # fmt: skip

    def close(
        self, *, resolution: str, staff_present: list[str] | None = None, at: datetime
    ) -> None:
        """See :func:`domain.complaints.lifecycle.staff_for_closing` for what closing needs."""
        require_status(self.status, OPEN_STATES, action="close")
        staff = lifecycle.staff_for_closing(
            staff_present, kind=self.kind, status=self.status,
            investigated=self.investigation_started_at is not None,
            reopened_count=self.reopened_count, has_findings=self.findings is not None,
        )  # fmt: skip
        require_text(resolution, "resolution")
        check_order(self.last_step_at, at, "close")
        self.trigger_event(
            self.ComplaintClosed, resolution=resolution, staff_present=staff, occurred_at=at
        )

    def withdraw(self, *, reason: str, at: datetime) -> None:
        require_status(self.status, OPEN_STATES, action="withdraw")
        require_text(reason, "reason")
        check_order(self.last_step_at, at, "withdrawal")
        self.trigger_event(self.ComplaintWithdrawn, reason=reason, occurred_at=at)

    def reopen(self, *, reason: str, at: datetime, rules: ComplaintRules) -> None:
        """The new response is due the policy's response period after the reopening."""
        require_status(self.status, (CLOSED,), action="reopen")
        require_text(reason, "reason")
        check_order(self.last_step_at, at, "reopening")
        due = rules.response_due(rules.policy(self.policy), at)
        self.trigger_event(
            self.ComplaintReopened, reason=reason, response_due_at=due, occurred_at=at
        )

    # ---- the deadline watcher ----------------------------------------------------------
    def flag_sla_breach(self, *, deadline: str, due_at: datetime, at: datetime) -> None:
        """Record a breach once per (deadline, due instant): see
        :func:`domain.complaints.deadlines.check_breach_flag`."""
        deadlines.check_breach_flag(
            self.deadlines, self.breaches, deadline=deadline, due_at=due_at, at=at
        )
        self.trigger_event(self.SlaBreached, deadline=deadline, due_at=due_at, occurred_at=at)


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.complaints:ComplaintCase", ComplaintCase)
