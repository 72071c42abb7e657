"""ComplaintCase: one complaint or grievance, from receipt to close (domain-spec §2).

Command methods (public verbs) check every rule, then trigger an event; each event's
``apply`` only assigns, because it runs again on every replay and replay must never re-run
today's rules. Due dates are computed from the case's policy when the command runs (see
:mod:`domain.complaints.policy`) and stored in the event, so history never changes.

The rules are pure functions beside this module, one per command (the package's docstring
lists them). The case keeps a ledger of the deadlines it ran against (``deadlines``); the
deadline watcher asks :meth:`breached_deadlines` and records each breach once with
:meth:`flag_sla_breach`.

The complaint's narrative (``summary``) and the free text of findings, information requests,
resolutions and reasons are personal data of the complainant (:data:`PERSONAL_TEXT`): the event
store seals them under the complainant's data key, and only the aggregate holds them opened,
never a read model, log line or error message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.complaints import checks, deadlines, lifecycle, referrals, responses
from domain.complaints import vocabulary as v
from domain.complaints.policy import ComplaintRules
from domain.shared.base import AuditedAggregate
from domain.shared.personal_data import PersonalText

#: The case's personal free text, sealed per complainant (see :mod:`domain.shared.personal_data`).
PERSONAL_TEXT = PersonalText(
    subject_field="complainant_ref",
    fields={
        "ComplaintReceived": ("summary", "late_acceptance_reason"),
        "InformationRequested": ("details",),
        "FindingsRecorded": ("steps_taken", "conclusions", "actions"),
        "ComplaintClosed": ("resolution",),
        "ExternalReviewConcluded": ("outcome",),
        # A mapping of answers: each text answer is sealed on its own.
        "FinalResponseSent": ("checklist",),
    },
    kinds={
        "summary": "the complaint's narrative",
        "late_acceptance_reason": "why a late complaint was accepted",
        "details": "the information asked of the complainant",
        "steps_taken": "the investigation's findings",
        "conclusions": "the investigation's findings",
        "actions": "the investigation's findings",
        "resolution": "the resolution given at closing",
        "outcome": "the outcome an external review (an ombudsman) reported",
        "checklist": "the final response's checklist answers",
        "reason": "the reason given for a step of the case",
    },
)


class ComplaintCase(AuditedAggregate):
    personal_text = PERSONAL_TEXT

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
            case._step(v.ACKNOWLEDGED, self.occurred_at, ends=(v.ACKNOWLEDGEMENT,))
            case.acknowledged_at, case.acknowledgement_method = self.occurred_at, self.method

    class InvestigationStarted(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(v.UNDER_INVESTIGATION, self.occurred_at)
            case.investigation_started_at = self.occurred_at

    class InformationRequested(AuditedAggregate.Event):
        details: str | None

        def apply(self, case: ComplaintCase) -> None:
            case._step(v.AWAITING_INFORMATION, self.occurred_at)

    class InformationReceived(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(v.UNDER_INVESTIGATION, self.occurred_at)

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
            case._step(v.RESPONSE_DRAFTED, self.occurred_at)
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
            case._step(v.RESPONSE_SENT, self.occurred_at, ends=(v.RESPONSE,))
            if case.responded_at is None:
                case.responded_at = self.occurred_at
            case.final_response = {
                "channel": self.channel, "document_hash": self.document_hash,
                "checklist": dict(self.checklist), "sent_at": self.occurred_at,
            }  # fmt: skip

    class ComplaintClosed(AuditedAggregate.Event):
        resolution: str
        staff_present: list[str]

        def apply(self, case: ComplaintCase) -> None:
            case._step(v.CLOSED, self.occurred_at, ends=v.DEADLINE_KINDS)
            case.resolution, case.staff_present = self.resolution, list(self.staff_present)
            case.closed_at = self.occurred_at

    class ComplaintWithdrawn(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case._step(v.WITHDRAWN, self.occurred_at, ends=v.DEADLINE_KINDS)
            case.withdrawn_at = self.occurred_at

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
            case._step(v.UNDER_INVESTIGATION, self.occurred_at)
            if self.response_due_at is not None:
                case._move_response_deadline(self.response_due_at, self.occurred_at)
            case.reopened_count += 1
            case.closed_at = case.resolution = case.final_response = None
            case.draft = case.approval = None
            case.staff_present = []

    # ---- the state: assigned only by the events' apply() -------------------------------
    def _receive(self, e: ComplaintCase.ComplaintReceived) -> None:
        """Every attribute of the case, as its receipt sets them."""
        self.status = v.RECEIVED
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

    def _step(self, status: str, at: datetime, ends: tuple[str, ...] = ()) -> None:
        """A step of the lifecycle to ``status``, ending the running deadlines of ``ends``."""
        self.status = status
        self.last_step_at = max(self.last_step_at, at)
        for kind in ends:
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
        lifecycle.check_classification(self, kind, at)
        self.trigger_event(
            self.ComplaintClassified, kind=kind, primary_category=primary_category, occurred_at=at
        )

    def grade_risk(self, *, consequence: int, likelihood: int, at: datetime) -> None:
        score, grade = lifecycle.check_grading(self, consequence, likelihood, at)
        self.trigger_event(
            self.RiskGraded, consequence=consequence, likelihood=likelihood, score=score,
            grade=grade, occurred_at=at,
        )  # fmt: skip

    def assign_investigator(self, *, investigator_ref: str, at: datetime) -> None:
        lifecycle.check_investigator(self, investigator_ref, at)
        self.trigger_event(
            self.InvestigatorAssigned, investigator_ref=investigator_ref, occurred_at=at
        )

    def refer_externally(self, *, body: str, reference: str, at: datetime) -> None:
        referrals.check_referral(self, body, reference, at)
        self.trigger_event(self.ExternallyReferred, body=body, reference=reference, occurred_at=at)

    def record_external_outcome(
        self, *, outcome: str, body: str | None = None, at: datetime
    ) -> None:
        referral = referrals.referral_to_conclude(self, outcome, body, at)
        self.trigger_event(
            self.ExternalReviewConcluded, body=referral["body"], reference=referral["reference"],
            outcome=outcome, occurred_at=at,
        )  # fmt: skip

    # ---- commands: the lifecycle -----------------------------------------------------
    def acknowledge(self, *, method: str, at: datetime) -> None:
        lifecycle.check_acknowledgement(self, method, at)
        self.trigger_event(self.ComplaintAcknowledged, method=method, occurred_at=at)

    def start_investigation(self, *, at: datetime) -> None:
        lifecycle.check_investigation_start(self, at)
        self.trigger_event(self.InvestigationStarted, occurred_at=at)

    def request_information(self, *, details: str | None = None, at: datetime) -> None:
        lifecycle.check_information_request(self, at)
        self.trigger_event(self.InformationRequested, details=details, occurred_at=at)

    def receive_information(self, *, at: datetime) -> None:
        lifecycle.check_information_received(self, at)
        self.trigger_event(self.InformationReceived, occurred_at=at)

    def extend_response_deadline(
        self, *, new_due_at: datetime, complainant_agreed_at: datetime, at: datetime
    ) -> None:
        """See :func:`domain.complaints.deadlines.check_extension`."""
        deadlines.check_extension(
            self, new_due_at=new_due_at, complainant_agreed_at=complainant_agreed_at, at=at
        )
        self.trigger_event(
            self.ResponseDeadlineExtended, previous_due_at=self.response_due_at,
            response_due_at=new_due_at, complainant_agreed_at=complainant_agreed_at,
            occurred_at=at,
        )  # fmt: skip

    def send_interim_response(
        self, *, promised_by: datetime | None = None, at: datetime, rules: ComplaintRules
    ) -> None:
        """It may move the final response's due date: see :mod:`domain.complaints.deadlines`."""
        due = deadlines.check_interim(self, promised_by, at, rules)
        self.trigger_event(
            self.InterimResponseSent, promised_by=promised_by, response_due_at=due, occurred_at=at
        )

    def record_findings(
        self, *, steps_taken: str, conclusions: str, upheld: str, actions: str | None = None,
        at: datetime,
    ) -> None:  # fmt: skip
        lifecycle.check_findings_recorded(self, steps_taken, conclusions, upheld, at)
        self.trigger_event(
            self.FindingsRecorded, steps_taken=steps_taken, conclusions=conclusions,
            upheld=upheld, actions=actions, occurred_at=at,
        )  # fmt: skip

    def draft_response(self, *, document_ref: str, at: datetime) -> None:
        responses.check_drafting(self, document_ref, at)
        self.trigger_event(self.ResponseDrafted, document_ref=document_ref, occurred_at=at)

    def approve_response(self, *, document_ref: str | None = None, at: datetime) -> None:
        """See :func:`domain.complaints.responses.check_approval`."""
        approved = responses.check_approval(self, document_ref, at)
        self.trigger_event(self.ResponseApproved, document_ref=approved, occurred_at=at)

    def send_final_response(
        self, *, channel: str, checklist: dict[str, Any], document_hash: str | None = None,
        at: datetime, rules: ComplaintRules,
    ) -> None:  # fmt: skip
        """See :func:`domain.complaints.responses.check_final_response`."""
        responses.check_final_response(self, channel, checklist, at, rules)
        self.trigger_event(
            self.FinalResponseSent, channel=channel, document_hash=document_hash,
            checklist=dict(checklist), occurred_at=at,
        )  # fmt: skip

    def close(
        self, *, resolution: str, staff_present: list[str] | None = None, at: datetime
    ) -> None:
        """See :func:`domain.complaints.lifecycle.staff_for_closing` for what closing needs."""
        staff = lifecycle.check_closing(self, resolution, staff_present, at)
        self.trigger_event(
            self.ComplaintClosed, resolution=resolution, staff_present=staff, occurred_at=at
        )

    def withdraw(self, *, reason: str, at: datetime) -> None:
        lifecycle.check_withdrawal(self, reason, at)
        self.trigger_event(self.ComplaintWithdrawn, reason=reason, occurred_at=at)

    def reopen(self, *, reason: str, at: datetime, rules: ComplaintRules) -> None:
        """The new response is due the policy's response period after the reopening."""
        due = lifecycle.check_reopening(self, reason, at, rules)
        self.trigger_event(
            self.ComplaintReopened, reason=reason, response_due_at=due, occurred_at=at
        )

    # ---- the deadline watcher ----------------------------------------------------------
    def flag_sla_breach(self, *, deadline: str, due_at: datetime, at: datetime) -> None:
        """Record a breach once per (deadline, due instant)."""
        deadlines.check_breach_flag(self, deadline, due_at, at)
        self.trigger_event(self.SlaBreached, deadline=deadline, due_at=due_at, occurred_at=at)


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.complaints:ComplaintCase", ComplaintCase)
