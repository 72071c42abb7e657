"""The complaint commands of the HTTP contract through PatientServices.execute, on the
in-memory store: bodies as the contract writes them, who may issue what (domain-spec §5),
and due dates that a later change of policy leaves alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import msgspec
import pytest

from application.complaints.commands import (
    COMPLAINT_ACTIONS,
    AcknowledgeComplaint,
    ApproveResponse,
    DraftResponse,
    FlagSlaBreach,
    RecordFindings,
    RegisterComplaint,
    SendFinalResponse,
    StartInvestigation,
)
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import CommandValidationError, NotAuthorisedError
from application.shared.permissions import acting_role
from application.shared.policies import Policies
from application.visits.commands import RegisterWalkIn
from domain.complaints.case import ComplaintCase
from domain.complaints.policy import NHS_ENGLAND_2009_POLICY, ComplaintRules
from domain.shared.errors import SegregationOfDutiesError
from domain.shared.working_days import Period

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIVED = "2026-03-02T10:00:00Z"

#: One body per action, written as the contract writes it (camelCase).
BODIES: dict[str, dict[str, Any]] = {
    "classify": {"kind": "complaint", "primaryCategory": "communication"},
    "grade-risk": {"consequence": 3, "likelihood": 4},
    "acknowledge": {"method": "letter"},
    "assign": {"investigatorRef": "inv-1"},
    "start-investigation": {},
    "request-information": {"details": "ward notes"},
    "receive-information": {},
    "extend-deadline": {"newDueAt": "2026-10-01T00:00:00Z", "complainantAgreedAt": RECEIVED},
    "interim-response": {"promisedBy": "2026-03-20T00:00:00+01:00"},
    "findings": {"stepsTaken": "s", "conclusions": "c", "upheld": "partly", "actions": "a"},
    "draft-response": {"documentRef": "doc-1"},
    "approve-response": {"documentRef": "doc-1"},
    "send-response": {
        "channel": "letter",
        "documentHash": "sha256:0f",
        "checklist": {
            "contactPerson": "PALS",
            "stepsTaken": "s",
            "results": "r",
            "completionDate": "2026-03-09",
        },
    },  # fmt: skip
    "close": {"resolution": "apology", "staffPresent": ["rn-1"]},
    "withdraw": {"reason": "resolved informally"},
    "reopen": {"reason": "new evidence"},
    "refer-externally": {"body": "PHSO", "reference": "PHSO-1"},
    "external-outcome": {"outcome": "not upheld"},
}
REGISTER_BODY: dict[str, Any] = {
    "channel": "email", "receivedAt": RECEIVED, "complainantRef": "cmp-1",
    "patientRef": "pt-1", "visitId": "0b5b2c43-46d6-4e8f-9a4e-3d0f5a1b2c3d",
    "categories": ["communication"], "summary": "(narrative)", "policy": "nhs-england-2009",
    "eventDate": "2026-02-20", "lateAcceptanceReason": None, "serviceUnit": "ED",
}  # fmt: skip


def decode(command: type, body: dict[str, Any]) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=command)


def context(role: str, actor_id: str | None = None) -> RequestContext:
    return RequestContext(actor_id=actor_id or f"{role}-1", actor_role=role, correlation_id="r")


@pytest.fixture
def complaint_app(memory_env: dict[str, str]) -> PatientServices:
    return PatientServices(env=memory_env, clock=lambda: NOW)


def a_visit(app: PatientServices) -> UUID:
    """A visit that exists, for a complaint to name (a walk-in: one record, and no booking
    to overlap the next one's)."""
    walk_in = RegisterWalkIn(
        patient_ref="pt-1", visit_class="EMER", service_unit="ED",
        arrival_at=NOW - timedelta(hours=1),
    )  # fmt: skip
    return app.execute(walk_in, context("clerk")).id


def register(app: PatientServices, **changes: Any) -> UUID:
    body = {**REGISTER_BODY, "visitId": str(a_visit(app)), **changes}
    return app.execute(decode(RegisterComplaint, body), context("clerk")).id


# ---- the contract's shape -------------------------------------------------------------------
def test_the_actions_are_exactly_the_contracts_segments() -> None:
    assert sorted(COMPLAINT_ACTIONS) == sorted(BODIES)


@pytest.mark.parametrize("action", sorted(BODIES))
def test_each_action_decodes_the_contracts_body_and_refuses_unknown_fields(action: str) -> None:
    command_class = COMPLAINT_ACTIONS[action]
    command = decode(command_class, {**BODIES[action], "occurredAt": RECEIVED})
    assert command.occurred_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        decode(command_class, {**BODIES[action], "summary": "x"})


def test_a_checklist_keeps_the_contracts_item_names() -> None:
    command = decode(SendFinalResponse, BODIES["send-response"])
    assert command.checklist.given() == BODIES["send-response"]["checklist"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("categories", []),
        ("policy", "nhs-scotland"),
        ("channel", "fax"),
        ("receivedAt", "2026-03-02T10:00:00"),
    ],
)
def test_a_registration_with_a_bad_value_does_not_decode(field: str, value: Any) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(RegisterComplaint, {**REGISTER_BODY, field: value})


# ---- registration through the application ---------------------------------------------------
def test_a_registration_records_the_receipt_time_as_the_facts_time(
    complaint_app: PatientServices,
) -> None:
    case = complaint_app.get_aggregate(register(complaint_app), ComplaintCase)
    (received,) = complaint_app.events.get(case.id)
    assert received.occurred_at == case.received_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert (received.actor_role, received.service_unit, received.event_date) == (
        "clerk", "ED", "2026-02-20",
    )  # fmt: skip
    assert case.acknowledgement_due_at == datetime(2026, 3, 6, tzinfo=UTC)


def test_a_registration_naming_a_visit_that_does_not_exist_is_refused_on_visit_id(
    complaint_app: PatientServices,
) -> None:
    before = complaint_app.recorder.max_notification_id() or 0
    for missing in (REGISTER_BODY["visitId"], str(register(complaint_app))):  # none, or not a visit
        command = decode(RegisterComplaint, {**REGISTER_BODY, "visitId": missing})
        with pytest.raises(CommandValidationError) as refused:
            complaint_app.execute(command, context("clerk"))
        assert (refused.value.code, refused.value.field) == ("VALIDATION", "visitId")
    assert (
        complaint_app.recorder.max_notification_id() == before + 2
    )  # the visit and complaint above
    case = complaint_app.get_aggregate(register(complaint_app), ComplaintCase)
    assert complaint_app.get_visit(case.visit_id).patient_ref == "pt-1"
    assert (
        complaint_app.get_aggregate(register(complaint_app, visitId=None), ComplaintCase).visit_id
        is None
    )


def test_a_registration_giving_two_different_times_is_refused(
    complaint_app: PatientServices,
) -> None:
    command = decode(RegisterComplaint, {**REGISTER_BODY, "occurredAt": "2026-03-02T11:00:00Z"})
    with pytest.raises(CommandValidationError):
        complaint_app.execute(command, context("clerk"))


def test_a_later_change_of_policy_leaves_recorded_due_dates_alone(
    complaint_app: PatientServices,
) -> None:
    first = register(complaint_app)
    before = complaint_app.get_aggregate(first, ComplaintCase)
    slower = replace(NHS_ENGLAND_2009_POLICY, acknowledgement=Period(5, "working_days"))
    complaint_app.policies = Policies(complaints=ComplaintRules(policies=(slower,)))
    second = complaint_app.get_aggregate(register(complaint_app), ComplaintCase)
    again = complaint_app.get_aggregate(first, ComplaintCase)
    assert second.acknowledgement_due_at == datetime(2026, 3, 10, tzinfo=UTC)
    assert (again.acknowledgement_due_at, again.response_due_at) == (
        before.acknowledgement_due_at, before.response_due_at,
    )  # fmt: skip
    assert again.acknowledgement_due_at == datetime(2026, 3, 6, tzinfo=UTC)


# ---- who may do what ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["clerk", "nurse", "manager"])
def test_front_desk_nurses_and_managers_may_register_a_complaint(role: str) -> None:
    assert acting_role([role], RegisterComplaint) == role


@pytest.mark.parametrize(
    "role", ["clinician", "finance", "auditor", "admin", "integration", "system"]
)
def test_other_roles_may_not_register_a_complaint(role: str) -> None:
    with pytest.raises(NotAuthorisedError):
        acting_role([role], RegisterComplaint)


@pytest.mark.parametrize("action", sorted(BODIES))
def test_only_managers_work_a_complaint(action: str) -> None:
    command = COMPLAINT_ACTIONS[action]
    assert acting_role(["clerk", "manager"], command) == "manager"
    for role in ("clerk", "nurse", "clinician", "system", "auditor"):
        with pytest.raises(NotAuthorisedError):
            acting_role([role], command)


def test_an_approval_is_given_as_executive_by_a_caller_who_is_also_a_manager() -> None:
    assert acting_role(["manager", "executive"], ApproveResponse) == "executive"
    assert acting_role(["executive"], ApproveResponse) == "executive"
    with pytest.raises(NotAuthorisedError):
        acting_role(["executive"], AcknowledgeComplaint)


def test_only_the_deadline_watcher_flags_a_breach() -> None:
    assert acting_role(["system"], FlagSlaBreach) == "system"
    with pytest.raises(NotAuthorisedError):
        acting_role(["manager"], FlagSlaBreach)
    assert "flag" not in " ".join(COMPLAINT_ACTIONS)


def test_a_denied_command_records_nothing_on_the_case(complaint_app: PatientServices) -> None:
    case_id = register(complaint_app)
    with pytest.raises(NotAuthorisedError):
        complaint_app.execute(
            AcknowledgeComplaint(method="letter"), context("clerk"), target=case_id
        )
    assert complaint_app.get_aggregate(case_id, ComplaintCase).version == 1


def test_the_watcher_flags_what_the_case_says_is_breached(complaint_app: PatientServices) -> None:
    case_id = register(complaint_app)
    complaint_app.clock = lambda: datetime(2026, 3, 6, 0, 5, tzinfo=UTC)
    case = complaint_app.get_aggregate(case_id, ComplaintCase)
    (breach,) = case.breached_deadlines(complaint_app.clock())
    flag = FlagSlaBreach(deadline=breach["deadline"], due_at=breach["due_at"])
    complaint_app.execute(flag, context("system", "deadline-watcher"), target=case_id)
    flagged = complaint_app.get_aggregate(case_id, ComplaintCase)
    assert flagged.breaches[0]["deadline"] == "acknowledgement"
    assert flagged.breached_deadlines(complaint_app.clock()) == []


def test_the_drafter_cannot_approve_through_the_application(complaint_app: PatientServices) -> None:
    case_id = register(complaint_app)
    manager = context("manager", "mgr-1")
    for command in (
        AcknowledgeComplaint(method="letter", occurred_at=NOW - timedelta(minutes=50)),
        StartInvestigation(occurred_at=NOW - timedelta(minutes=40)),
        RecordFindings(
            steps_taken="s", conclusions="c", upheld="no", occurred_at=NOW - timedelta(minutes=30)
        ),
        DraftResponse(document_ref="doc-1", occurred_at=NOW - timedelta(minutes=20)),
    ):
        complaint_app.execute(command, manager, target=case_id)
    with pytest.raises(SegregationOfDutiesError):
        complaint_app.execute(ApproveResponse(), manager, target=case_id)
    approved = complaint_app.execute(
        ApproveResponse(), context("executive", "ceo-1"), target=case_id
    )
    assert approved.version == 6
