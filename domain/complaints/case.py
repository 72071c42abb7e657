"""ComplaintCase: one complaint or grievance, from receipt to close (domain-spec §2).

Command methods (public verbs) check every rule, then trigger an event; each event's
``apply`` only assigns, because it runs again on every replay and replay must never re-run
today's rules. Due dates are computed from the case's policy when the command runs (see
:mod:`domain.complaints.policy`) and stored in the event, so history never changes.

The case keeps a ledger of the deadlines it ran against (``deadlines``, see
:mod:`domain.complaints.deadlines`); the deadline watcher asks :meth:`breached_deadlines`
and records each breach once with :meth:`flag_sla_breach`. The state the events assign, and
the guards the commands share, are in :mod:`domain.complaints.state`; checks on what a command
is given, in :mod:`domain.complaints.checks`.

The complaint's narrative (``summary``) and the free text of findings, responses and
resolutions are personal data: only the aggregate holds them, never a read model, log line
or error message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.complaints import deadlines
from domain.complaints.checks import check_checklist, check_event_date, require_one_of, require_text
from domain.complaints.policy import ComplaintRules
from domain.complaints.state import ComplaintState
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    ACKNOWLEDGEMENT,
    AWAITING_INFORMATION,
    BEFORE_RESPONSE,
    CHANNELS,
    CLOSED,
    CONCERN_RESOLVED_ON_SPOT,
    DEADLINE_KINDS,
    EXECUTIVE_ROLE,
    EXTERNAL_BODIES,
    EXTREME,
    KINDS,
    OPEN_STATES,
    RECEIVED,
    RESPONSE,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    UPHELD_VALUES,
    WITHDRAWN,
    risk_grade,
)
from domain.shared.base import AuditedAggregate
from domain.shared.duties import people_acting, people_of, require_two_people
from domain.shared.envelope import current_envelope
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainValidationError,
    InvalidTransitionError,
    TimestampOrderError,
)

_OPEN = tuple(sorted(OPEN_STATES))
_BEFORE_RESPONSE = tuple(sorted(BEFORE_RESPONSE))


class ComplaintCase(AuditedAggregate, ComplaintState):
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
            case.initialise(self)

    # ---- facts about the case (no change of status) ----------------------------------
    class ComplaintClassified(AuditedAggregate.Event):
        kind: str
        primary_category: str | None

        def apply(self, case: ComplaintCase) -> None:
            case.kind = self.kind
            case.primary_category = self.primary_category

    class RiskGraded(AuditedAggregate.Event):
        consequence: int
        likelihood: int
        score: int
        grade: str

        def apply(self, case: ComplaintCase) -> None:
            case.risk_score = self.score
            case.risk_grade = self.grade
            case.risk_history = [
                *case.risk_history,
                {
                    "consequence": self.consequence, "likelihood": self.likelihood,
                    "score": self.score, "grade": self.grade, "graded_at": self.occurred_at,
                    "graded_by": self.actor_id,
                },
            ]  # fmt: skip

    class InvestigatorAssigned(AuditedAggregate.Event):
        investigator_ref: str

        def apply(self, case: ComplaintCase) -> None:
            case.investigator_ref = self.investigator_ref

    class ExternallyReferred(AuditedAggregate.Event):
        body: str
        reference: str

        def apply(self, case: ComplaintCase) -> None:
            referral = {
                "body": self.body, "reference": self.reference, "referred_at": self.occurred_at,
                "outcome": None, "concluded_at": None,
            }  # fmt: skip
            case.referrals = [*case.referrals, referral]

    class ExternalReviewConcluded(AuditedAggregate.Event):
        body: str
        reference: str
        outcome: str

        def apply(self, case: ComplaintCase) -> None:
            case.referrals = [
                {**r, "outcome": self.outcome, "concluded_at": self.occurred_at}
                if (r["body"], r["reference"], r["outcome"]) == (self.body, self.reference, None)
                else r
                for r in case.referrals
            ]

    class SlaBreached(AuditedAggregate.Event):
        """Recorded by the deadline watcher: a fact, no change of status."""

        deadline: str
        due_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            breach = {
                "deadline": self.deadline,
                "due_at": self.due_at,
                "flagged_at": self.occurred_at,
            }
            case.breaches = [*case.breaches, breach]

    # ---- the lifecycle ---------------------------------------------------------------
    class ComplaintAcknowledged(AuditedAggregate.Event):
        method: str

        def apply(self, case: ComplaintCase) -> None:
            case.step(ACKNOWLEDGED, self.occurred_at)
            case.acknowledged_at = self.occurred_at
            case.acknowledgement_method = self.method
            case.end_deadline(ACKNOWLEDGEMENT, self.occurred_at)

    class InvestigationStarted(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case.step(UNDER_INVESTIGATION, self.occurred_at)
            case.investigation_started_at = self.occurred_at

    class InformationRequested(AuditedAggregate.Event):
        details: str | None

        def apply(self, case: ComplaintCase) -> None:
            case.step(AWAITING_INFORMATION, self.occurred_at)

    class InformationReceived(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case.step(UNDER_INVESTIGATION, self.occurred_at)

    class ResponseDeadlineExtended(AuditedAggregate.Event):
        previous_due_at: datetime
        response_due_at: datetime
        complainant_agreed_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            case.step(case.status, self.occurred_at)
            case.move_response_deadline(self.response_due_at, self.occurred_at)

    class InterimResponseSent(AuditedAggregate.Event):
        """``response_due_at``: when the final response is due from now on (unchanged where
        the policy does not let an interim response move it)."""

        promised_by: datetime | None
        response_due_at: datetime

        def apply(self, case: ComplaintCase) -> None:
            case.step(case.status, self.occurred_at)
            case.interim_responses = [
                *case.interim_responses,
                {"sent_at": self.occurred_at, "promised_by": self.promised_by},
            ]
            if self.response_due_at != case.response_due_at:
                case.move_response_deadline(self.response_due_at, self.occurred_at)

    class FindingsRecorded(AuditedAggregate.Event):
        steps_taken: str
        conclusions: str
        upheld: str
        actions: str | None

        def apply(self, case: ComplaintCase) -> None:
            case.step(case.status, self.occurred_at)
            case.upheld = self.upheld
            case.findings = {
                "steps_taken": self.steps_taken, "conclusions": self.conclusions,
                "upheld": self.upheld, "actions": self.actions, "recorded_at": self.occurred_at,
            }  # fmt: skip

    class ResponseDrafted(AuditedAggregate.Event):
        document_ref: str

        def apply(self, case: ComplaintCase) -> None:
            case.step(RESPONSE_DRAFTED, self.occurred_at)
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
            case.step(case.status, self.occurred_at)
            case.approval = {
                "approved_by": self.actor_id, "role": self.actor_role,
                "approved_at": self.occurred_at, "document_ref": self.document_ref,
            }  # fmt: skip

    class FinalResponseSent(AuditedAggregate.Event):
        channel: str
        document_hash: str | None
        checklist: dict[str, Any]

        def apply(self, case: ComplaintCase) -> None:
            case.step(RESPONSE_SENT, self.occurred_at)
            if case.responded_at is None:
                case.responded_at = self.occurred_at
            case.final_response = {
                "channel": self.channel, "document_hash": self.document_hash,
                "checklist": dict(self.checklist), "sent_at": self.occurred_at,
            }  # fmt: skip
            case.end_deadline(RESPONSE, self.occurred_at)

    class ComplaintClosed(AuditedAggregate.Event):
        resolution: str
        staff_present: list[str]

        def apply(self, case: ComplaintCase) -> None:
            case.step(CLOSED, self.occurred_at)
            case.resolution = self.resolution
            case.staff_present = list(self.staff_present)
            case.closed_at = self.occurred_at
            case.end_deadline(ACKNOWLEDGEMENT, self.occurred_at)
            case.end_deadline(RESPONSE, self.occurred_at)

    class ComplaintWithdrawn(AuditedAggregate.Event):
        def apply(self, case: ComplaintCase) -> None:
            case.step(WITHDRAWN, self.occurred_at)
            case.withdrawn_at = self.occurred_at
            case.end_deadline(ACKNOWLEDGEMENT, self.occurred_at)
            case.end_deadline(RESPONSE, self.occurred_at)

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
            case.step(UNDER_INVESTIGATION, self.occurred_at)
            if self.response_due_at is not None:
                case.move_response_deadline(self.response_due_at, self.occurred_at)
            case.reopened_count += 1
            case.closed_at = None
            case.resolution = None
            case.staff_present = []
            case.draft = None
            case.approval = None
            case.final_response = None

    # ---- commands: creation ------------------------------------------------------------
    @classmethod
    def register(
        cls, *, channel: str, complainant_ref: str, categories: list[str], summary: str,
        policy: str, at: datetime, rules: ComplaintRules, patient_ref: str | None = None,
        visit_id: UUID | None = None, service_unit: str | None = None,
        event_date: date | None = None, late_acceptance_reason: str | None = None,
    ) -> ComplaintCase:  # fmt: skip
        """``at`` is when the complaint was received."""
        require_one_of(channel, CHANNELS, "channel")
        terms = rules.policy(policy)
        if not categories or any(not c.strip() for c in categories):
            raise DomainValidationError("at least one category is required", field="categories")
        require_text(summary, "summary")
        if event_date is not None:
            check_event_date(event_date, late_acceptance_reason, at=at, rules=rules, terms=terms)
        return cls._create(
            cls.ComplaintReceived, channel=channel, complainant_ref=complainant_ref,
            patient_ref=patient_ref, visit_id=visit_id, categories=list(dict.fromkeys(categories)),
            summary=summary, policy=policy, service_unit=service_unit,
            event_date=None if event_date is None else event_date.isoformat(),
            late_acceptance_reason=late_acceptance_reason,
            acknowledgement_due_at=rules.acknowledgement_due(terms, at),
            response_due_at=rules.response_due(terms, at), occurred_at=at,
        )  # fmt: skip

    # ---- commands: facts -------------------------------------------------------------
    def classify(self, *, kind: str, primary_category: str | None = None, at: datetime) -> None:
        self._require(*_OPEN, action="classify")
        require_one_of(kind, KINDS, "kind")
        if kind == CONCERN_RESOLVED_ON_SPOT and self.investigation_started_at is not None:
            # Once investigated, it closes with findings and a response (see close()).
            raise InvalidTransitionError(
                "a complaint under investigation cannot be a concern resolved on the spot",
                field="kind",
            )
        self._check_after_receipt(at)
        self.trigger_event(
            self.ComplaintClassified, kind=kind, primary_category=primary_category, occurred_at=at
        )

    def grade_risk(self, *, consequence: int, likelihood: int, at: datetime) -> None:
        self._require(*_OPEN, action="grade")
        for value, field in ((consequence, "consequence"), (likelihood, "likelihood")):
            if not 1 <= value <= 5:
                raise DomainValidationError(f"the {field} must be 1 to 5", field=field)
        self._check_after_receipt(at)
        score, grade = risk_grade(consequence, likelihood)
        self.trigger_event(
            self.RiskGraded, consequence=consequence, likelihood=likelihood, score=score,
            grade=grade, occurred_at=at,
        )  # fmt: skip

    def assign_investigator(self, *, investigator_ref: str, at: datetime) -> None:
        self._require(*_BEFORE_RESPONSE, action="assign an investigator to")
        require_text(investigator_ref, "investigatorRef")
        if investigator_ref == self.investigator_ref:
            raise InvalidTransitionError(
                "that investigator is already assigned", field="investigatorRef"
            )
        self._check_after_receipt(at)
        self.trigger_event(
            self.InvestigatorAssigned, investigator_ref=investigator_ref, occurred_at=at
        )

    def refer_externally(self, *, body: str, reference: str, at: datetime) -> None:
        require_one_of(body, EXTERNAL_BODIES, "body")
        require_text(reference, "reference")
        if any(r["body"] == body and r["outcome"] is None for r in self.referrals):
            raise InvalidTransitionError(f"the case is already referred to {body}, still open")
        self._check_after_receipt(at)
        self.trigger_event(self.ExternallyReferred, body=body, reference=reference, occurred_at=at)

    def record_external_outcome(
        self, *, outcome: str, body: str | None = None, at: datetime
    ) -> None:
        require_text(outcome, "outcome")
        open_referrals = [
            r for r in self.referrals if r["outcome"] is None and body in (None, r["body"])
        ]
        if not open_referrals:
            raise InvalidTransitionError("there is no open external referral to conclude")
        if len(open_referrals) > 1:
            raise DomainValidationError("name the body of the referral concluded", field="body")
        (referral,) = open_referrals
        if at < referral["referred_at"]:
            raise TimestampOrderError("the outcome is before the referral")
        self.trigger_event(
            self.ExternalReviewConcluded, body=referral["body"], reference=referral["reference"],
            outcome=outcome, occurred_at=at,
        )  # fmt: skip

    # ---- commands: the lifecycle -----------------------------------------------------
    def acknowledge(self, *, method: str, at: datetime) -> None:
        if self.acknowledged_at is not None:
            raise InvalidTransitionError("the complaint is already acknowledged")
        self._require(RECEIVED, action="acknowledge")
        require_text(method, "method")
        self._check_order(at, "acknowledgement")
        self.trigger_event(self.ComplaintAcknowledged, method=method, occurred_at=at)

    def start_investigation(self, *, at: datetime) -> None:
        if self.status == RECEIVED:
            raise InvalidTransitionError("acknowledge the complaint before investigating it")
        self._require(ACKNOWLEDGED, action="start an investigation of")
        self._check_order(at, "investigation")
        self.trigger_event(self.InvestigationStarted, occurred_at=at)

    def request_information(self, *, details: str | None = None, at: datetime) -> None:
        self._require(UNDER_INVESTIGATION, action="request information for")
        self._check_order(at, "information request")
        self.trigger_event(self.InformationRequested, details=details, occurred_at=at)

    def receive_information(self, *, at: datetime) -> None:
        self._require(AWAITING_INFORMATION, action="receive information for")
        self._check_order(at, "information")
        self.trigger_event(self.InformationReceived, occurred_at=at)

    def extend_response_deadline(
        self, *, new_due_at: datetime, complainant_agreed_at: datetime, at: datetime
    ) -> None:
        """Only before the current due date, with the complainant's agreement given before
        it too (see :func:`domain.complaints.deadlines.check_extension`)."""
        self._require_no_response(action="extend the response deadline of")
        due = self.response_due_at
        deadlines.check_extension(
            due=due, received_at=self.received_at, new_due_at=new_due_at,
            complainant_agreed_at=complainant_agreed_at, at=at, breaches=self.breaches,
        )  # fmt: skip
        self._check_order(at, "extension")
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
        self._require_no_response(action="send an interim response for")
        if promised_by is not None and promised_by <= at:
            raise DomainValidationError(
                "the promised date must be in the future", field="promisedBy"
            )
        due = deadlines.due_after_interim(
            rules, self.policy, promised_by=promised_by, due=self.response_due_at,
            received_at=self.received_at,
        )  # fmt: skip
        self._check_order(at, "interim response")
        self.trigger_event(
            self.InterimResponseSent, promised_by=promised_by, response_due_at=due, occurred_at=at
        )

    def record_findings(
        self, *, steps_taken: str, conclusions: str, upheld: str, actions: str | None = None,
        at: datetime,
    ) -> None:  # fmt: skip
        self._require(UNDER_INVESTIGATION, action="record findings for")
        require_text(steps_taken, "stepsTaken")
        require_text(conclusions, "conclusions")
        require_one_of(upheld, UPHELD_VALUES, "upheld")
        self._check_order(at, "findings")
        self.trigger_event(
            self.FindingsRecorded, steps_taken=steps_taken, conclusions=conclusions,
            upheld=upheld, actions=actions, occurred_at=at,
        )  # fmt: skip

    def draft_response(self, *, document_ref: str, at: datetime) -> None:
        self._require(UNDER_INVESTIGATION, RESPONSE_DRAFTED, action="draft a response for")
        if self.findings is None:
            raise InvalidTransitionError("record the findings before drafting the response")
        require_text(document_ref, "documentRef")
        self._check_order(at, "draft")
        self.trigger_event(self.ResponseDrafted, document_ref=document_ref, occurred_at=at)

    def approve_response(self, *, document_ref: str | None = None, at: datetime) -> None:
        """``document_ref``, when given, names the draft the approver reviewed: refused if
        the draft was replaced since."""
        self._require(RESPONSE_DRAFTED, action="approve the response of")
        assert self.draft is not None
        if self.approval is not None:
            raise InvalidTransitionError("the draft is already approved")
        if document_ref is not None and document_ref != self.draft["document_ref"]:
            raise InvalidTransitionError(
                "the draft was replaced: review the current one", field="documentRef"
            )
        envelope = current_envelope()
        require_two_people(
            people_of(self.draft["drafted_by"], self.draft.get("drafted_for")),
            people_acting(envelope),
            message="the drafter of a response (or whom it was drafted for) may not approve it",
        )
        if self.risk_grade == EXTREME and envelope.actor_role != EXECUTIVE_ROLE:
            raise ApprovalRequiredError("an extreme-risk complaint needs the executive's sign-off")
        self._check_order(at, "approval")
        self.trigger_event(
            self.ResponseApproved, document_ref=self.draft["document_ref"], occurred_at=at
        )

    def send_final_response(
        self, *, channel: str, checklist: dict[str, Any], document_hash: str | None = None,
        at: datetime, rules: ComplaintRules,
    ) -> None:  # fmt: skip
        """Refused (``RESPONSE_INCOMPLETE``) unless every item of the policy's checklist is
        given: a non-blank text or ``true``."""
        self._require(RESPONSE_DRAFTED, action="send the final response of")
        if self.approval is None:
            raise ApprovalRequiredError("the response must be approved before it is sent")
        if self.risk_grade == EXTREME and self.approval["role"] != EXECUTIVE_ROLE:
            raise ApprovalRequiredError(
                "the case is now extreme-risk: the response needs the executive's sign-off"
            )
        require_text(channel, "channel")
        check_checklist(self.policy, rules.policy(self.policy).checklist, checklist)
        self._check_order(at, "final response")
        self.trigger_event(
            self.FinalResponseSent, channel=channel, document_hash=document_hash,
            checklist=dict(checklist), occurred_at=at,
        )  # fmt: skip

    def close(
        self, *, resolution: str, staff_present: list[str] | None = None, at: datetime
    ) -> None:
        """Needs findings, a resolution and a sent final response; a concern resolved on
        the spot needs only the resolution and the staff present — unless it was
        investigated or reopened: then it closes like any complaint."""
        self._require(*_OPEN, action="close")
        staff = [s for s in staff_present or [] if s.strip()]
        on_the_spot = (
            self.kind == CONCERN_RESOLVED_ON_SPOT
            and self.status != RESPONSE_SENT
            and self.investigation_started_at is None
            and not self.reopened_count
        )
        if on_the_spot:
            if not staff:
                raise InvalidTransitionError(
                    "a concern resolved on the spot names the staff present", field="staffPresent"
                )
        else:
            if self.findings is None:
                raise InvalidTransitionError("a case cannot be closed without findings")
            if self.status != RESPONSE_SENT:
                raise InvalidTransitionError(
                    "a case cannot be closed before its final response is sent"
                )
        require_text(resolution, "resolution")
        self._check_order(at, "close")
        self.trigger_event(
            self.ComplaintClosed, resolution=resolution, staff_present=staff, occurred_at=at
        )

    def withdraw(self, *, reason: str, at: datetime) -> None:
        self._require(*_OPEN, action="withdraw")
        require_text(reason, "reason")
        self._check_order(at, "withdrawal")
        self.trigger_event(self.ComplaintWithdrawn, reason=reason, occurred_at=at)

    def reopen(self, *, reason: str, at: datetime, rules: ComplaintRules) -> None:
        """The new response is due the policy's response period after the reopening."""
        self._require(CLOSED, action="reopen")
        require_text(reason, "reason")
        self._check_order(at, "reopening")
        due = rules.response_due(rules.policy(self.policy), at)
        self.trigger_event(
            self.ComplaintReopened, reason=reason, response_due_at=due, occurred_at=at
        )

    # ---- the deadline watcher ----------------------------------------------------------
    def flag_sla_breach(self, *, deadline: str, due_at: datetime, at: datetime) -> None:
        """Record a breach once per (deadline, due instant); refused for a deadline that is
        not breached at ``at`` or was flagged already."""
        require_one_of(deadline, DEADLINE_KINDS, "deadline")
        if any((b["deadline"], b["due_at"]) == (deadline, due_at) for b in self.breaches):
            raise InvalidTransitionError(f"that {deadline} deadline breach is already flagged")
        if {"deadline": deadline, "due_at": due_at} not in self.breached_deadlines(at):
            raise InvalidTransitionError(f"that {deadline} deadline is not breached")
        self.trigger_event(self.SlaBreached, deadline=deadline, due_at=due_at, occurred_at=at)


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.complaints:ComplaintCase", ComplaintCase)
