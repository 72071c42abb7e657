"""The rules of ComplaintCase beyond its transitions (domain-spec §2), given-when-then:
registration, risk grading, acknowledgement before investigation, findings before a draft,
approver ≠ drafter, the executive sign-off, the policy checklists, closing, withdrawing,
reopening and external referrals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.complaints.case import ComplaintCase
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    NHS_ENGLAND_2009,
    RECEIVED,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    US_CMS,
)
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainValidationError,
    InvalidTransitionError,
    ResponseIncompleteError,
    SegregationOfDutiesError,
    TimestampOrderError,
)
from tests.support.complaints import (
    CHECKLISTS,
    DRAFTER,
    RECEIVED_AT,
    RULES,
    CaseStory,
    hours,
    path_to,
    register_kwargs,
    story_to,
)
from tests.support.gwt import Expect, given, make_envelope, then, then_refused, when

C = ComplaintCase
LATER = hours(24)


def refused(case: Any, command: str, error: type, code: str, **kwargs: Any) -> Any:
    return then_refused(
        case, command, error, code, at=kwargs.pop("at", LATER), role="manager", **kwargs
    )


# ---- registration ---------------------------------------------------------------------
def test_registering_records_the_receipt_with_everything_the_complainant_said() -> None:
    outcome = when(C, "register", at=RECEIVED_AT, **register_kwargs(visit_id=None))
    then(
        outcome,
        Expect(
            C.ComplaintReceived, channel="email", complainant_ref="cmp-0001",
            patient_ref="pt-0001", categories=["communication", "waiting"],
            summary="(personal narrative)", policy=NHS_ENGLAND_2009, service_unit="ED",
            event_date=None, occurred_at=RECEIVED_AT,
        ),
    )  # fmt: skip
    case = outcome.aggregate
    assert (case.status, case.received_at, case.kind, case.risk_grade) == (
        RECEIVED, RECEIVED_AT, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"categories": []}, "categories"),
        ({"categories": ["  "]}, "categories"),
        ({"summary": " "}, "summary"),
        ({"channel": "fax"}, "channel"),
        ({"policy": "nhs-wales-2011"}, "policy"),
    ],
)
def test_registering_without_a_valid_required_value_is_refused(
    changes: dict[str, Any], field: str
) -> None:
    error = then_refused(
        C, "register", DomainValidationError, "VALIDATION", at=RECEIVED_AT,
        **register_kwargs(**changes),
    )  # fmt: skip
    assert error.field == field


def test_an_event_date_after_the_receipt_is_refused() -> None:
    error = then_refused(
        C, "register", TimestampOrderError, "TIMESTAMP_ORDER", at=RECEIVED_AT,
        **register_kwargs(event_date=date(2026, 3, 3)),
    )  # fmt: skip
    assert error.field == "eventDate"


def test_an_nhs_complaint_made_over_12_months_after_the_event_needs_a_reason() -> None:
    late = date(2025, 3, 1)  # 12 months end on 1 March 2026; received 2 March
    error = then_refused(
        C, "register", DomainValidationError, "VALIDATION", at=RECEIVED_AT,
        **register_kwargs(event_date=late),
    )  # fmt: skip
    assert error.field == "lateAcceptanceReason"
    outcome = when(
        C, "register", at=RECEIVED_AT,
        **register_kwargs(event_date=late, late_acceptance_reason="was in hospital"),
    )  # fmt: skip
    then(outcome, Expect(C.ComplaintReceived, event_date="2025-03-01"))


def test_an_nhs_complaint_made_on_the_last_day_of_the_12_months_is_in_time() -> None:
    outcome = when(C, "register", at=RECEIVED_AT, **register_kwargs(event_date=date(2025, 3, 2)))
    then(outcome, Expect(C.ComplaintReceived, late_acceptance_reason=None))


def test_a_us_cms_grievance_has_no_12_month_limit() -> None:
    outcome = when(
        C, "register", at=RECEIVED_AT, **register_kwargs(US_CMS, event_date=date(2020, 1, 1))
    )
    then(outcome, Expect(C.ComplaintReceived, policy=US_CMS))


# ---- facts about the case -------------------------------------------------------------
def test_classifying_records_the_kind_and_primary_category() -> None:
    case = given(path_to(ACKNOWLEDGED))
    outcome = when(case, "classify", at=LATER, kind="grievance", primary_category="billing")
    then(outcome, Expect(C.ComplaintClassified, kind="grievance", primary_category="billing"))
    assert (case.kind, case.primary_category, case.status) == ("grievance", "billing", ACKNOWLEDGED)


def test_an_unknown_kind_is_refused() -> None:
    refused(given(path_to(RECEIVED)), "classify", DomainValidationError, "VALIDATION", kind="x")


@pytest.mark.parametrize(
    ("consequence", "likelihood", "score", "grade"),
    [
        (1, 1, 1, "low"), (1, 3, 3, "low"), (2, 2, 4, "moderate"), (2, 3, 6, "moderate"),
        (2, 4, 8, "high"), (3, 4, 12, "high"), (3, 5, 15, "extreme"), (5, 5, 25, "extreme"),
    ],
)  # fmt: skip
def test_grading_records_the_npsa_score_and_band(
    consequence: int, likelihood: int, score: int, grade: str
) -> None:
    case = given(path_to(RECEIVED))
    outcome = when(case, "grade_risk", at=LATER, consequence=consequence, likelihood=likelihood)
    then(outcome, Expect(C.RiskGraded, score=score, grade=grade))
    assert (case.risk_score, case.risk_grade) == (score, grade)


def test_regrading_keeps_the_earlier_grades() -> None:
    story = story_to(RECEIVED).do("grade_risk", consequence=2, likelihood=2)
    case = given(story.do("grade_risk", consequence=5, likelihood=4).events)
    assert [(g["score"], g["grade"]) for g in case.risk_history] == [
        (4, "moderate"),
        (20, "extreme"),
    ]
    assert case.risk_grade == "extreme"


@pytest.mark.parametrize(("consequence", "likelihood"), [(0, 3), (6, 1), (3, 0), (2, 6)])
def test_a_grade_off_the_matrix_is_refused(consequence: int, likelihood: int) -> None:
    refused(
        given(path_to(RECEIVED)), "grade_risk", DomainValidationError, "VALIDATION",
        consequence=consequence, likelihood=likelihood,
    )  # fmt: skip


def test_assigning_the_investigator_already_assigned_is_refused() -> None:
    case = given(path_to(UNDER_INVESTIGATION))
    error = refused(
        case, "assign_investigator", InvalidTransitionError, "INVALID_TRANSITION",
        investigator_ref="inv-1",
    )  # fmt: skip
    assert error.field == "investigatorRef"
    then(
        when(case, "assign_investigator", at=LATER, investigator_ref="inv-2"),
        Expect(C.InvestigatorAssigned, investigator_ref="inv-2"),
    )
    assert case.investigator_ref == "inv-2"


# ---- acknowledgement before investigation, findings before a draft ------------------
def test_acknowledging_twice_is_refused() -> None:
    refused(
        given(path_to(ACKNOWLEDGED)),
        "acknowledge",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        method="letter",
    )


def test_an_investigation_before_the_acknowledgement_is_refused() -> None:
    error = refused(
        given(path_to(RECEIVED)),
        "start_investigation",
        InvalidTransitionError,
        "INVALID_TRANSITION",
    )
    assert "acknowledge" in error.message


def test_a_draft_before_the_findings_is_refused_and_after_them_accepted() -> None:
    case = given(path_to(UNDER_INVESTIGATION))
    refused(case, "draft_response", InvalidTransitionError, "INVALID_TRANSITION", document_ref="d")
    then(
        when(case, "record_findings", at=LATER, steps_taken="s", conclusions="c", upheld="yes"),
        Expect(C.FindingsRecorded, upheld="yes", actions=None),
    )
    then(
        when(case, "draft_response", at=LATER, document_ref="doc-9"),
        Expect(C.ResponseDrafted, document_ref="doc-9"),
    )
    assert (case.status, case.upheld, case.draft["drafted_by"]) == (
        RESPONSE_DRAFTED,
        "yes",
        "staff-1",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"steps_taken": " "}, "stepsTaken"),
        ({"conclusions": ""}, "conclusions"),
        ({"upheld": "maybe"}, "upheld"),
    ],
)
def test_findings_without_their_parts_are_refused(changes: dict[str, Any], field: str) -> None:
    kwargs = {"steps_taken": "s", "conclusions": "c", "upheld": "no", **changes}
    error = refused(
        given(path_to(UNDER_INVESTIGATION)),
        "record_findings",
        DomainValidationError,
        "VALIDATION",
        **kwargs,
    )
    assert error.field == field


def test_a_new_draft_needs_a_new_approval() -> None:
    case = given(path_to(RESPONSE_DRAFTED))
    assert case.approval is not None
    then(when(case, "draft_response", at=LATER, document_ref="doc-2"), Expect(C.ResponseDrafted))
    assert case.approval is None
    refused(
        case, "send_final_response", ApprovalRequiredError, "APPROVAL_REQUIRED", channel="letter",
        checklist=CHECKLISTS[NHS_ENGLAND_2009], rules=RULES,
    )  # fmt: skip


# ---- approval: approver ≠ drafter, the executive for extreme risk --------------------
def approve_as(case: Any, role: str, actor_id: str) -> Any:
    return when(
        case,
        "approve_response",
        at=LATER,
        envelope=make_envelope(LATER, role=role, actor_id=actor_id),
    )


def test_the_drafter_may_not_approve_the_response() -> None:
    case = given(path_to(RESPONSE_DRAFTED, approve=False))
    with pytest.raises(SegregationOfDutiesError) as refusal:
        approve_as(case, "executive", DRAFTER)
    assert refusal.value.code == "SEGREGATION_OF_DUTIES"
    assert case.pending_events == [] and case.approval is None


def test_another_manager_approves_a_response_that_is_not_extreme() -> None:
    case = given(path_to(RESPONSE_DRAFTED, approve=False, grade=(3, 4)))  # high
    then(
        approve_as(case, "manager", "mgr-2"),
        Expect(C.ResponseApproved, actor_id="mgr-2", actor_role="manager"),
    )
    assert case.approval["role"] == "manager"


def test_an_extreme_risk_response_needs_the_executive() -> None:
    case = given(path_to(RESPONSE_DRAFTED, approve=False, grade=(3, 5)))  # extreme (15)
    with pytest.raises(ApprovalRequiredError):
        approve_as(case, "manager", "mgr-2")
    assert case.pending_events == []
    then(approve_as(case, "executive", "ceo-1"), Expect(C.ResponseApproved, actor_role="executive"))


def test_the_approval_records_the_draft_approved() -> None:
    case = given(path_to(RESPONSE_DRAFTED, approve=False))
    then(
        when(case, "approve_response", at=LATER, role="executive", document_ref="doc-1"),
        Expect(C.ResponseApproved, document_ref="doc-1"),
    )
    assert case.approval["document_ref"] == "doc-1"


def test_approving_a_draft_that_was_replaced_since_it_was_reviewed_is_refused() -> None:
    story = story_to(RESPONSE_DRAFTED, approve=False)
    story.do("draft_response", document_ref="doc-2", actor_id="mgr-1")
    case = given(story.events)
    error = refused(
        case, "approve_response", InvalidTransitionError, "INVALID_TRANSITION",
        document_ref="doc-1",
    )  # fmt: skip
    assert error.field == "documentRef"
    # Without a reference the approval covers the current draft, and says which it was.
    then(
        when(case, "approve_response", at=LATER, role="executive"),
        Expect(C.ResponseApproved, document_ref="doc-2"),
    )


def test_a_response_regraded_extreme_after_a_manager_approved_it_cannot_be_sent() -> None:
    story = story_to(RESPONSE_DRAFTED, approve=False)
    story.do("approve_response", actor_id="mgr-2")
    story.do("grade_risk", consequence=5, likelihood=5)
    refused(
        given(story.events), "send_final_response", ApprovalRequiredError, "APPROVAL_REQUIRED",
        channel="letter", checklist=CHECKLISTS[NHS_ENGLAND_2009], rules=RULES,
    )  # fmt: skip


# ---- the final response's checklist -----------------------------------------------------
@pytest.mark.parametrize("policy", [US_CMS, NHS_ENGLAND_2009])
def test_the_final_response_is_sent_with_its_complete_checklist(policy: str) -> None:
    case = given(path_to(RESPONSE_DRAFTED, policy=policy))
    outcome = when(
        case, "send_final_response", at=LATER, channel="letter", document_hash="sha256:ab",
        checklist=CHECKLISTS[policy], rules=RULES,
    )  # fmt: skip
    then(
        outcome,
        Expect(C.FinalResponseSent, checklist=CHECKLISTS[policy], document_hash="sha256:ab"),
    )
    assert (case.status, case.responded_at) == (RESPONSE_SENT, LATER)


@pytest.mark.parametrize("policy", [US_CMS, NHS_ENGLAND_2009])
def test_a_final_response_missing_any_checklist_item_is_incomplete(policy: str) -> None:
    case = given(path_to(RESPONSE_DRAFTED, policy=policy))
    for item in CHECKLISTS[policy]:
        for blank in (None, "  ", False):
            checklist = {**CHECKLISTS[policy], item: blank}
            error = refused(
                case, "send_final_response", ResponseIncompleteError, "RESPONSE_INCOMPLETE",
                channel="letter", checklist=checklist, rules=RULES,
            )  # fmt: skip
            assert error.field == f"checklist.{item}"


def test_an_item_of_the_other_policys_checklist_is_refused() -> None:
    case = given(path_to(RESPONSE_DRAFTED, policy=US_CMS))
    checklist = {**CHECKLISTS[US_CMS], "ombudsmanRights": True}
    error = refused(
        case, "send_final_response", DomainValidationError, "VALIDATION", channel="letter",
        checklist=checklist, rules=RULES,
    )  # fmt: skip
    assert error.field == "checklist.ombudsmanRights"


# ---- closing, withdrawing, reopening --------------------------------------------------
def test_closing_needs_a_resolution() -> None:
    error = refused(
        given(path_to(RESPONSE_SENT)), "close", DomainValidationError, "VALIDATION", resolution=" "
    )
    assert error.field == "resolution"


def test_closing_without_findings_or_a_sent_response_is_refused() -> None:
    no_findings = refused(
        given(path_to(ACKNOWLEDGED)),
        "close",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        resolution="r",
    )
    assert "findings" in no_findings.message
    not_sent = refused(
        given(path_to(RESPONSE_DRAFTED)),
        "close",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        resolution="r",
    )
    assert "final response" in not_sent.message


def test_a_concern_resolved_on_the_spot_closes_with_the_resolution_and_staff_present() -> None:
    story = story_to(RECEIVED).do("classify", kind="concern_resolved_on_spot")
    case = given(story.events)
    error = refused(
        case, "close", InvalidTransitionError, "INVALID_TRANSITION", resolution="sorted",
        staff_present=[],
    )  # fmt: skip
    assert error.field == "staffPresent"
    outcome = when(case, "close", at=LATER, resolution="sorted", staff_present=["rn-1", "hca-2"])
    then(outcome, Expect(C.ComplaintClosed, resolution="sorted", staff_present=["rn-1", "hca-2"]))
    assert case.status == "closed" and case.running_deadlines == []


def test_a_case_under_investigation_cannot_become_a_concern_resolved_on_the_spot() -> None:
    case = given(path_to(UNDER_INVESTIGATION))
    error = refused(
        case, "classify", InvalidTransitionError, "INVALID_TRANSITION",
        kind="concern_resolved_on_spot",
    )  # fmt: skip
    assert error.field == "kind"
    then(when(case, "classify", at=LATER, kind="grievance"), Expect(C.ComplaintClassified))


def test_a_concern_classified_on_the_spot_then_investigated_closes_like_any_complaint() -> None:
    story = story_to(RECEIVED).do("classify", kind="concern_resolved_on_spot")
    story.do("acknowledge", method="letter").do("start_investigation")
    no_findings = refused(
        given(story.events), "close", InvalidTransitionError, "INVALID_TRANSITION",
        resolution="sorted", staff_present=["rn-1"],
    )  # fmt: skip
    assert "findings" in no_findings.message


def test_withdrawing_needs_a_reason() -> None:
    refused(
        given(path_to(ACKNOWLEDGED)), "withdraw", DomainValidationError, "VALIDATION", reason=" "
    )


def test_reopening_returns_to_investigation_and_needs_a_new_response() -> None:
    case = given(path_to("closed"))
    refused(case, "reopen", DomainValidationError, "VALIDATION", reason="", rules=RULES)
    then(
        when(case, "reopen", at=LATER, reason="new evidence", rules=RULES),
        Expect(C.ComplaintReopened, reason="new evidence"),
    )
    assert (case.status, case.reopened_count, case.draft, case.final_response) == (
        UNDER_INVESTIGATION, 1, None, None,
    )  # fmt: skip
    assert case.responded_at is not None  # the first response still met its deadline
    refused(case, "close", InvalidTransitionError, "INVALID_TRANSITION", resolution="r", at=LATER)


# ---- external referrals: a flag, not a state --------------------------------------------
def test_a_closed_case_is_referred_to_the_ombudsman_and_the_outcome_recorded() -> None:
    case = given(path_to("closed"))
    then(
        when(case, "refer_externally", at=LATER, body="PHSO", reference="PHSO-77"),
        Expect(C.ExternallyReferred),
    )
    refused(
        case,
        "refer_externally",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        body="PHSO",
        reference="PHSO-78",
    )
    outcome = when(case, "record_external_outcome", at=LATER, outcome="not upheld")
    then(
        outcome,
        Expect(C.ExternalReviewConcluded, body="PHSO", reference="PHSO-77", outcome="not upheld"),
    )
    assert case.status == "closed"
    assert case.referrals[0]["outcome"] == "not upheld"


def test_an_outcome_without_an_open_referral_is_refused() -> None:
    refused(
        given(path_to(RECEIVED)),
        "record_external_outcome",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        outcome="x",
    )


def test_an_outcome_with_several_open_referrals_must_name_the_body() -> None:
    story = story_to(RECEIVED).do("refer_externally", body="QIO", reference="Q-1")
    story.do("refer_externally", body="state_agency", reference="S-1")
    case = given(story.events)
    error = refused(
        case, "record_external_outcome", DomainValidationError, "VALIDATION", outcome="x"
    )
    assert error.field == "body"
    then(
        when(case, "record_external_outcome", at=LATER, outcome="x", body="QIO"),
        Expect(C.ExternalReviewConcluded, body="QIO", reference="Q-1"),
    )


# ---- time order ---------------------------------------------------------------------------
def test_a_step_before_an_earlier_step_of_the_case_is_refused() -> None:
    case = given(path_to(UNDER_INVESTIGATION))  # the investigation started at hours(3)
    refused(case, "request_information", TimestampOrderError, "TIMESTAMP_ORDER", at=hours(2))


def test_a_fact_before_the_receipt_is_refused_but_a_late_entry_after_it_is_accepted() -> None:
    case = given(path_to(UNDER_INVESTIGATION))
    refused(
        case,
        "grade_risk",
        TimestampOrderError,
        "TIMESTAMP_ORDER",
        at=hours(-1),
        consequence=1,
        likelihood=1,
    )
    then(when(case, "grade_risk", at=hours(0.5), consequence=1, likelihood=1), Expect(C.RiskGraded))


def test_stories_run_real_commands() -> None:
    """The helper itself: a story refuses what the aggregate refuses."""
    with pytest.raises(InvalidTransitionError):
        CaseStory().do("register", role="clerk", **register_kwargs()).do("start_investigation")


# ---- approval: nobody acting for the drafter, nor the one drafted for ---------------------
def test_another_manager_approving_on_behalf_of_the_drafter_is_refused() -> None:
    """X-On-Behalf-Of does not get round approver ≠ drafter: ann acting for the drafter is
    the drafter approving."""
    case = given(path_to(RESPONSE_DRAFTED, approve=False))
    on_behalf = make_envelope(LATER, role="executive", actor_id="ann", on_behalf_of=DRAFTER)
    with pytest.raises(SegregationOfDutiesError):
        when(case, "approve_response", at=LATER, envelope=on_behalf)
    assert case.pending_events == [] and case.approval is None


def test_the_person_a_draft_was_written_for_may_not_approve_it() -> None:
    story = story_to(UNDER_INVESTIGATION)
    story.do("record_findings", steps_taken="s", conclusions="c", upheld="no")
    drafted = make_envelope(LATER, role="manager", actor_id="pa-1", on_behalf_of="mgr-boss")
    story.case = when(story.case, "draft_response", at=LATER, envelope=drafted,
                      document_ref="doc-9").aggregate  # fmt: skip
    case = story.case
    assert case.draft["drafted_for"] == "mgr-boss"
    with pytest.raises(SegregationOfDutiesError):
        approve_as(case, "executive", "mgr-boss")
    then(approve_as(case, "executive", "ceo-1"), Expect(C.ResponseApproved, actor_id="ceo-1"))
