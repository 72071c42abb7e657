"""The ComplaintCase commands of the HTTP contract, and who may issue them (domain-spec §5).

Patient-services managers may issue every complaint command; front-desk clerks and nurses
may also register one. An approval is preferably the executive's: an extreme-risk response
needs it. ``FlagSlaBreach`` is not an HTTP action: the deadline watcher issues it with the
role ``system``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.complaints.settings import rules_in_force

# The command payload's values live in values.py; callers may still import
# ResponseChecklist from here.
from application.complaints.values import (
    Categories,
    Channel,
    ComplaintPolicyName,
    Deadline,
    DocumentHash,
    ExternalBody,
    Kind,
    ResponseChecklist,
    RiskScale,
    StaffRefs,
    Text,
    Upheld,
)
from application.shared.commands import (
    AggregateCommand,
    AwareDatetime,
    Creation,
    Loader,
    Reason,
    Ref,
)
from application.shared.errors import CommandValidationError, NotFoundError
from application.shared.policies import Policies
from domain.complaints.case import ComplaintCase
from domain.visits.visit import PatientVisit

CLERK, NURSE, MANAGER, EXECUTIVE, SYSTEM = "clerk", "nurse", "manager", "executive", "system"
MANAGERS = frozenset({MANAGER})


class ComplaintCommand(AggregateCommand, kw_only=True, frozen=True):
    aggregate_type = ComplaintCase
    roles = MANAGERS

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        return super().decide(load, target, at, rules_in_force(load, policies))

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        raise NotImplementedError


# ---- creation ---------------------------------------------------------------------
class RegisterComplaint(Creation, kw_only=True, frozen=True):
    """``receivedAt`` is the fact's time: it becomes the event's ``occurred_at``."""

    aggregate_type = ComplaintCase
    roles = frozenset({CLERK, NURSE, MANAGER})
    #: How the complaint was made: verbal, written, email or portal.
    channel: Channel
    #: When the complaint was received: the due dates are computed from it.
    received_at: AwareDatetime
    #: The complainant's opaque reference (never a name).
    complainant_ref: Ref
    #: What the complaint is about, as category codes (1 to 20).
    categories: Categories
    #: The complaint's narrative. Personal data: shown only on the case, never in a read model.
    summary: Text
    #: The complaint-handling rules the case follows: us-cms or nhs-england-2009. When left
    #: out, the facility's default policy (``GET /complaint-settings``); 400 if it has none.
    policy: ComplaintPolicyName | None = None
    patient_ref: Ref | None = None
    visit_id: UUID | None = None
    #: Added to the contract: the unit complained about, for the themes read model.
    service_unit: Ref | None = None
    #: The date of the event complained of (ISO 8601); not after the receipt.
    event_date: date | None = None
    #: Why a complaint made later than the policy allows (nhs-england-2009: 12 months) is accepted.
    late_acceptance_reason: Reason | None = None

    def business_time(self) -> tuple[str, datetime | None]:
        if self.occurred_at is not None and self.occurred_at != self.received_at:
            raise CommandValidationError(
                "give the time of receipt as receivedAt only", field="occurredAt"
            )
        return "receivedAt", self.received_at

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        if self.visit_id is not None:
            require_visit(load, self.visit_id)
        return super().decide(load, target, at, rules_in_force(load, policies))

    def create(self, at: datetime, policies: Policies) -> ComplaintCase:
        fields = self.fields()
        del fields["received_at"]
        fields["policy"] = self.policy or policies.complaints.default_policy
        if fields["policy"] is None:
            raise CommandValidationError(
                "name the case's policy: the facility has chosen no default policy",
                field="policy",
            )
        return ComplaintCase.register(**fields, at=at, rules=policies.complaints)


def require_visit(load: Loader[Any], visit_id: UUID) -> None:
    """The visit a complaint names must exist (as a visit): refused as invalid input on
    ``visitId`` otherwise, so no case points at nothing. The visit is only read."""
    try:
        load(visit_id, PatientVisit)
    except NotFoundError:
        raise CommandValidationError("no visit has this id", field="visitId") from None


# ---- facts about the case ---------------------------------------------------------
class ClassifyComplaint(ComplaintCommand, kw_only=True, frozen=True):
    #: What the case is: concern_resolved_on_spot, complaint or grievance.
    kind: Kind
    #: The main category, as a code.
    primary_category: Ref | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.classify(**self.fields(), at=at)


class GradeRisk(ComplaintCommand, kw_only=True, frozen=True):
    #: The NPSA risk matrix's consequence, 1 to 5.
    consequence: RiskScale
    #: The NPSA risk matrix's likelihood, 1 to 5.
    likelihood: RiskScale

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.grade_risk(**self.fields(), at=at)


class AssignInvestigator(ComplaintCommand, kw_only=True, frozen=True):
    #: The investigator's opaque reference.
    investigator_ref: Ref

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.assign_investigator(investigator_ref=self.investigator_ref, at=at)


class ReferExternally(ComplaintCommand, kw_only=True, frozen=True):
    #: The external body referred to: QIO, state_agency, PHSO or accreditor.
    body: ExternalBody
    reference: Ref

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.refer_externally(**self.fields(), at=at)


class RecordExternalOutcome(ComplaintCommand, kw_only=True, frozen=True):
    #: The outcome of the external review, as text.
    outcome: Text
    #: Added to the contract: which referral concluded, when several are open.
    body: ExternalBody | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.record_external_outcome(**self.fields(), at=at)


class FlagSlaBreach(ComplaintCommand, kw_only=True, frozen=True):
    """Issued by the deadline watcher (role ``system``) for each deadline the case's
    ``breached_deadlines(now)`` names; a second flag of the same deadline is refused."""

    roles = frozenset({SYSTEM})
    deadline: Deadline
    due_at: AwareDatetime

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.flag_sla_breach(**self.fields(), at=at)


# ---- the lifecycle ----------------------------------------------------------------
class AcknowledgeComplaint(ComplaintCommand, kw_only=True, frozen=True):
    #: How the complaint was acknowledged, as a code.
    method: Ref

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.acknowledge(method=self.method, at=at)


class StartInvestigation(ComplaintCommand, kw_only=True, frozen=True):
    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.start_investigation(at=at)


class RequestInformation(ComplaintCommand, kw_only=True, frozen=True):
    #: The information asked of the complainant. Personal data: shown only on the case.
    details: Text | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.request_information(details=self.details, at=at)


class ReceiveInformation(ComplaintCommand, kw_only=True, frozen=True):
    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.receive_information(at=at)


class ExtendResponseDeadline(ComplaintCommand, kw_only=True, frozen=True):
    #: When the final response is due from now on.
    new_due_at: AwareDatetime
    #: When the complainant agreed to the extension: before the current due date.
    complainant_agreed_at: AwareDatetime

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.extend_response_deadline(**self.fields(), at=at)


class SendInterimResponse(ComplaintCommand, kw_only=True, frozen=True):
    #: When the interim response promises the final one, in the future. Under us-cms it becomes the
    #: due date; under nhs-england-2009 it may not be after it.
    promised_by: AwareDatetime

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.send_interim_response(promised_by=self.promised_by, at=at, rules=policies.complaints)


class RecordFindings(ComplaintCommand, kw_only=True, frozen=True):
    #: What the investigation did. Personal data: shown only on the case.
    steps_taken: Text
    #: What the investigation concluded. Personal data: shown only on the case.
    conclusions: Text
    #: Whether the complaint is upheld: yes, partly or no.
    upheld: Upheld
    #: The actions taken or to be taken. Personal data: shown only on the case.
    actions: Text | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.record_findings(**self.fields(), at=at)


class DraftResponse(ComplaintCommand, kw_only=True, frozen=True):
    #: The draft response document's reference.
    document_ref: Ref

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.draft_response(document_ref=self.document_ref, at=at)


class ApproveResponse(ComplaintCommand, kw_only=True, frozen=True):
    """The approver may not be the drafter; an extreme-risk case needs the executive.
    ``documentRef`` (added to the contract) names the draft reviewed: refused if it is no
    longer the current draft."""

    roles = frozenset({MANAGER, EXECUTIVE})
    preferred_roles = (EXECUTIVE, MANAGER)
    #: The draft reviewed; refused if it is no longer the current draft.
    document_ref: Ref | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.approve_response(document_ref=self.document_ref, at=at)


class SendFinalResponse(ComplaintCommand, kw_only=True, frozen=True):
    #: How the final response was sent, as a code.
    channel: Ref
    #: What the response contains: every item the case's policy asks for, and no other.
    checklist: ResponseChecklist
    #: The hash of the document sent.
    document_hash: DocumentHash | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.send_final_response(
            channel=self.channel, checklist=self.checklist.given(),
            document_hash=self.document_hash, at=at, rules=policies.complaints,
        )  # fmt: skip


class CloseCase(ComplaintCommand, kw_only=True, frozen=True):
    #: How the case was resolved. Personal data: shown only on the case.
    resolution: Text
    #: The staff present, as references: required for a concern resolved on the spot.
    staff_present: StaffRefs | None = None

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.close(**self.fields(), at=at)


class WithdrawComplaint(ComplaintCommand, kw_only=True, frozen=True):
    reason: Reason

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.withdraw(reason=self.reason, at=at)


class ReopenCase(ComplaintCommand, kw_only=True, frozen=True):
    reason: Reason

    def apply(self, case: ComplaintCase, at: datetime, policies: Policies) -> None:
        case.reopen(reason=self.reason, at=at, rules=policies.complaints)


#: URL action segment (POST /api/v1/complaints/{id}/<action>) → command, as in the contract.
#: ``RegisterComplaint`` is ``POST /api/v1/complaints``; ``FlagSlaBreach`` has no route.
COMPLAINT_ACTIONS: dict[str, type[ComplaintCommand]] = {
    "classify": ClassifyComplaint,
    "grade-risk": GradeRisk,
    "acknowledge": AcknowledgeComplaint,
    "assign": AssignInvestigator,
    "start-investigation": StartInvestigation,
    "request-information": RequestInformation,
    "receive-information": ReceiveInformation,
    "extend-deadline": ExtendResponseDeadline,
    "interim-response": SendInterimResponse,
    "findings": RecordFindings,
    "draft-response": DraftResponse,
    "approve-response": ApproveResponse,
    "send-response": SendFinalResponse,
    "close": CloseCase,
    "withdraw": WithdrawComplaint,
    "reopen": ReopenCase,
    "refer-externally": ReferExternally,
    "external-outcome": RecordExternalOutcome,
}
