"""BudgetLine, given-when-then: amendments and overspend authorisations in two steps, a
request and an approval by someone else (domain-spec §3, "requester ≠ approver"), and the
rejection of a request. The one-step commands are in test_budget_line.py.

The requests here are made by the manager "mo"; ``when``/``then_refused`` act as "staff-1"
unless a test says otherwise, so an approval in them is by another person.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.memory import MEMORY_ENV
from application.service import PatientServices
from domain.budget.line import BudgetLine
from domain.budget.vocabulary import AMENDMENT, OVERSPEND, REQUEST_APPROVED, REQUEST_OPEN
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainValidationError,
    InsufficientFundsError,
    InvalidTransitionError,
    SegregationOfDutiesError,
)
from projections.budget.budget_vs_actual import fold
from projections.shared.records import StoredRecord
from tests.support.budget import (
    RULES,
    BudgetStory,
    active_line,
    at,
    closed_line,
    draft_line,
    gbp,
    spent_line,
)
from tests.support.gwt import Expect, make_envelope, then, then_refused, when

INVALID, VALIDATION, SOD = "INVALID_TRANSITION", "VALIDATION", "SEGREGATION_OF_DUTIES"


def amendment_asked(amount: str = "900", *, by: str = "mo") -> tuple[BudgetStory, UUID]:
    """A 12,000 line with an open request (by ``by``) to amend it by ``amount``."""
    story = active_line().do(
        "request_amendment", role="manager", actor=by, amount=gbp(amount), reason="winter ward"
    )
    return story, story.last_event_id()


def overspend_asked(limit: str = "2500", *, by: str = "mo") -> tuple[BudgetStory, UUID]:
    """A 12,000 line with an open request (by ``by``) to overspend by ``limit`` until day 30."""
    story = active_line().do(
        "request_overspend_authorisation", role="manager", actor=by, limit=gbp(limit),
        expires_at=at(30), reason="agency staff",
    )  # fmt: skip
    return story, story.last_event_id()


def amend(line: BudgetLine, request_id: UUID, amount: str = "900", *, role: str = "finance") -> Any:
    return when(
        line, "amend", at=at(1), role=role, amount=gbp(amount), approval_ref="CHG-1",
        rules=RULES, request_id=request_id,
    )  # fmt: skip


# ---- asking --------------------------------------------------------------------------------
def test_a_request_for_an_amendment_is_recorded_and_left_open() -> None:
    line = active_line().given()
    outcome = when(
        line, "request_amendment", at=at(1), role="manager", amount=gbp("-250.50"),
        reason="ward closed",
    )  # fmt: skip
    [requested] = then(
        outcome,
        Expect(
            BudgetLine.AmendmentRequested, amount_minor=-25_050, currency="GBP",
            reason="ward closed",
        ),
    )  # fmt: skip
    assert line.open_requests == {
        str(requested.event_id): {
            "kind": AMENDMENT, "status": REQUEST_OPEN, "requested_by": "staff-1",
            "requested_for": None, "amount": -25_050,
        }
    }  # fmt: skip
    assert line.current_budget == Decimal("12000.00"), "asking changes no figure"


def test_asking_is_not_held_to_the_askers_tier() -> None:
    line = active_line().given()
    outcome = when(
        line, "request_amendment", at=at(1), role="manager", amount=gbp("60000"),
        reason="new service",
    )  # fmt: skip
    then(outcome, Expect(BudgetLine.AmendmentRequested, amount_minor=6_000_000))


def test_a_request_for_an_overspend_authorisation_keeps_its_limit_and_expiry() -> None:
    line = active_line().given()
    outcome = when(
        line, "request_overspend_authorisation", at=at(1), role="manager", limit=gbp("2500"),
        expires_at=at(30), reason="agency staff",
    )  # fmt: skip
    [requested] = then(
        outcome,
        Expect(
            BudgetLine.OverspendAuthorisationRequested, limit_minor=250_000,
            expires_at=at(30), currency="GBP",
        ),
    )  # fmt: skip
    request = line.open_requests[str(requested.event_id)]
    assert (request["kind"], request["limit"], request["expires_at"]) == (
        OVERSPEND, 250_000, at(30),
    )  # fmt: skip
    assert line.overspend_limit_minor == 0, "asking authorises nothing"


@pytest.mark.parametrize(
    ("command", "kwargs", "field"),
    [
        ("request_amendment", {"amount": gbp("0"), "reason": "r"}, "amount"),
        ("request_amendment", {"amount": gbp("10"), "reason": " "}, "reason"),
        ("request_amendment", {"amount": gbp("10"), "reason": None}, "reason"),
        ("request_overspend_authorisation",
         {"limit": gbp("-1"), "expires_at": at(9), "reason": "r"}, "limit"),
        ("request_overspend_authorisation",
         {"limit": gbp("1"), "expires_at": at(1), "reason": "r"}, "expiresAt"),
    ],
)  # fmt: skip
def test_a_request_without_a_reason_or_with_terms_that_could_never_be_approved_is_refused(
    command: str, kwargs: dict[str, Any], field: str
) -> None:
    refusal = then_refused(
        active_line().given(), command, DomainValidationError, VALIDATION, at=at(1),
        role="manager", **kwargs,
    )  # fmt: skip
    assert refusal.field == field


@pytest.mark.parametrize("story", [draft_line, closed_line])
def test_only_an_active_line_takes_requests(story: Any) -> None:
    line = story().given()
    then_refused(
        line, "request_amendment", InvalidTransitionError, INVALID, at=at(1), role="manager",
        amount=gbp("10"), reason="r",
    )  # fmt: skip
    then_refused(
        line, "request_overspend_authorisation", InvalidTransitionError, INVALID, at=at(1),
        role="manager", limit=gbp("10"), expires_at=at(9), reason="r",
    )  # fmt: skip


# ---- approving an amendment request ----------------------------------------------------------
def test_another_person_approves_the_request_within_their_tier_and_it_closes() -> None:
    story, request_id = amendment_asked("900")
    line = story.given()
    outcome = amend(line, request_id, role="finance")
    then(
        outcome,
        Expect(
            BudgetLine.BudgetAmended, amount_minor=90_000, approval_tier="finance",
            request_id=request_id, approval_ref="CHG-1",
        ),
    )  # fmt: skip
    assert line.current_budget == Decimal("12900.00")
    assert line.requests[str(request_id)]["status"] == REQUEST_APPROVED
    assert line.open_requests == {}


@pytest.mark.parametrize("role", ["manager", "board"])
def test_the_requester_may_not_approve_their_own_request_whatever_their_tier(role: str) -> None:
    story, request_id = amendment_asked("900", by="staff-1")
    then_refused(
        story.given(), "amend", SegregationOfDutiesError, SOD, at=at(1), role=role,
        amount=gbp("900"), approval_ref="CHG-1", rules=RULES, request_id=request_id,
    )  # fmt: skip


def test_an_approval_for_another_amount_than_the_request_is_refused_on_the_amount() -> None:
    story, request_id = amendment_asked("900")
    for other in ("900.01", "-900"):
        refusal = then_refused(
            story.given(), "amend", DomainValidationError, VALIDATION, at=at(1),
            role="finance", amount=gbp(other), approval_ref="CHG-1", rules=RULES,
            request_id=request_id,
        )  # fmt: skip
        assert refusal.field == "amount"


def test_the_approvers_tier_decides_and_a_higher_one_may_then_approve() -> None:
    story, request_id = amendment_asked("6000")
    line = story.given()
    then_refused(
        line, "amend", ApprovalRequiredError, "APPROVAL_REQUIRED", at=at(1), role="manager",
        amount=gbp("6000"), approval_ref="CHG-1", rules=RULES, request_id=request_id,
    )  # fmt: skip
    outcome = amend(line, request_id, "6000", role="finance")
    then(outcome, Expect(BudgetLine.BudgetAmended, approval_tier="finance", request_id=request_id))


def test_a_reduction_asked_for_is_checked_against_the_balance_when_approved() -> None:
    story = spent_line().do(
        "request_amendment", role="manager", actor="mo", amount=gbp("-9000"), reason="cut"
    )
    request_id = story.last_event_id()
    story.do("record_pre_encumbrance", role="manager", reference="REQ-9", amount=gbp("600"))
    then_refused(  # available is now 8,900
        story.given(), "amend", InsufficientFundsError, "INSUFFICIENT_FUNDS", at=at(1),
        role="finance", amount=gbp("-9000"), approval_ref="CHG-1", rules=RULES,
        request_id=request_id,
    )  # fmt: skip


def test_a_request_already_approved_or_rejected_is_not_approved_again() -> None:
    story, request_id = amendment_asked("900")
    approved = story.given()
    amend(approved, request_id)
    rejected = story.do("reject_request", request_id=request_id, reason="no case").given()
    for line in (approved, rejected):
        refusal = then_refused(
            line, "amend", InvalidTransitionError, INVALID, at=at(2), role="finance",
            amount=gbp("900"), approval_ref="CHG-2", rules=RULES, request_id=request_id,
        )  # fmt: skip
        assert refusal.field == "requestId"


def test_an_unknown_request_or_a_request_of_the_other_kind_is_refused_on_the_request_id() -> None:
    story, overspend_request = overspend_asked("900")
    for request_id in (uuid4(), overspend_request):
        refusal = then_refused(
            story.given(), "amend", InvalidTransitionError, INVALID, at=at(1), role="finance",
            amount=gbp("900"), approval_ref="CHG-1", rules=RULES, request_id=request_id,
        )  # fmt: skip
        assert refusal.field == "requestId"


def test_an_approver_asked_for_by_a_delegate_may_not_approve() -> None:
    """A PA asks on behalf of staff-1: staff-1 may not approve what was asked in their name."""
    story = active_line().do(
        "request_amendment", role="manager", actor="pa-1", on_behalf_of="staff-1",
        amount=gbp("900"), reason="winter ward",
    )  # fmt: skip
    assert story.given().open_requests[str(story.last_event_id())]["requested_for"] == "staff-1"
    then_refused(
        story.given(), "amend", SegregationOfDutiesError, SOD, at=at(1), role="finance",
        amount=gbp("900"), approval_ref="CHG-1", rules=RULES, request_id=story.last_event_id(),
    )  # fmt: skip


def test_no_one_acting_on_behalf_of_the_requester_may_approve() -> None:
    story, request_id = amendment_asked("900", by="mo")
    line = story.given()
    on_behalf = make_envelope(at(1), role="finance", actor_id="fin-2", on_behalf_of="mo")
    with pytest.raises(SegregationOfDutiesError):
        when(line, "amend", at=at(1), envelope=on_behalf, amount=gbp("900"),
             approval_ref="CHG-1", rules=RULES, request_id=request_id)  # fmt: skip
    assert line.pending_events == [] and line.open_requests == story.given().open_requests


def test_a_one_step_amendment_answers_no_request() -> None:
    story, request_id = amendment_asked("900")
    line = story.given()
    outcome = when(line, "amend", at=at(1), role="finance", amount=gbp("900"),
                   approval_ref="CHG-1", rules=RULES)  # fmt: skip
    then(outcome, Expect(BudgetLine.BudgetAmended, request_id=None))
    assert list(line.open_requests) == [str(request_id)], "the request is still open"


# ---- approving an overspend request ----------------------------------------------------------
def test_another_person_authorises_the_overspend_asked_for() -> None:
    story, request_id = overspend_asked("2500")
    line = story.given()
    outcome = when(
        line, "authorise_overspend", at=at(1), role="manager", limit=gbp("2500"),
        expires_at=at(30), rules=RULES, request_id=request_id,
    )  # fmt: skip
    then(
        outcome,
        Expect(
            BudgetLine.OverspendAuthorised, limit_minor=250_000, expires_at=at(30),
            approval_tier="manager", request_id=request_id,
        ),
    )  # fmt: skip
    assert (line.overspend_limit_minor, line.open_requests) == (250_000, {})


@pytest.mark.parametrize(
    ("limit", "expires", "field"), [("2500.01", 30, "limit"), ("2500", 29, "expiresAt")]
)
def test_an_overspend_approval_with_other_terms_than_the_request_is_refused(
    limit: str, expires: int, field: str
) -> None:
    story, request_id = overspend_asked("2500")
    refusal = then_refused(
        story.given(), "authorise_overspend", DomainValidationError, VALIDATION, at=at(1),
        role="finance", limit=gbp(limit), expires_at=at(expires), rules=RULES,
        request_id=request_id,
    )  # fmt: skip
    assert refusal.field == field


def test_an_overspend_request_above_the_approvers_tier_needs_a_higher_one() -> None:
    story, request_id = overspend_asked("6000")
    then_refused(
        story.given(), "authorise_overspend", ApprovalRequiredError, "APPROVAL_REQUIRED",
        at=at(1), role="manager", limit=gbp("6000"), expires_at=at(30), rules=RULES,
        request_id=request_id,
    )  # fmt: skip


def test_an_overspend_request_that_expired_before_approval_is_refused() -> None:
    story, request_id = overspend_asked("2500")
    refusal = then_refused(
        story.given(), "authorise_overspend", DomainValidationError, VALIDATION, at=at(30),
        role="finance", limit=gbp("2500"), expires_at=at(30), rules=RULES,
        request_id=request_id,
    )  # fmt: skip
    assert refusal.field == "expiresAt"


def test_the_requester_may_not_authorise_their_own_overspend() -> None:
    story, request_id = overspend_asked("2500", by="staff-1")
    then_refused(
        story.given(), "authorise_overspend", SegregationOfDutiesError, SOD, at=at(1),
        role="finance", limit=gbp("2500"), expires_at=at(30), rules=RULES,
        request_id=request_id,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("asked_for", "approver", "approver_for"),
    [("mo", "fin-2", "mo"),  # fin-2 acting for mo, for whom it was asked
     ("staff-1", "staff-1", None)],  # staff-1 itself, for whom it was asked
)  # fmt: skip
def test_no_one_acting_for_whom_an_overspend_was_asked_for_may_authorise_it(
    asked_for: str, approver: str, approver_for: str | None
) -> None:
    story = active_line().do(
        "request_overspend_authorisation", role="manager", actor="pa-1",
        on_behalf_of=asked_for, limit=gbp("2500"), expires_at=at(30), reason="agency staff",
    )  # fmt: skip
    line = story.given()
    envelope = make_envelope(at(1), role="finance", actor_id=approver, on_behalf_of=approver_for)
    with pytest.raises(SegregationOfDutiesError):
        when(line, "authorise_overspend", at=at(1), envelope=envelope, limit=gbp("2500"),
             expires_at=at(30), rules=RULES, request_id=story.last_event_id())  # fmt: skip
    assert line.pending_events == [] and line.overspend_limit_minor == 0


# ---- rejecting -------------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["mo", "staff-1"])  # another person, or the requester (withdrawn)
def test_a_request_is_rejected_with_a_reason_by_anyone_who_may_decide(by: str) -> None:
    story, request_id = amendment_asked("900", by=by)
    line = story.given()
    outcome = when(line, "reject_request", at=at(1), role="manager", request_id=request_id,
                   reason="not this year")  # fmt: skip
    then(outcome, Expect(BudgetLine.RequestRejected, request_id=request_id, reason="not this year"))
    assert line.open_requests == {} and line.current_budget == Decimal("12000.00")
    then_refused(line, "reject_request", InvalidTransitionError, INVALID, at=at(2),
                 role="manager", request_id=request_id, reason="again")  # fmt: skip


def test_a_rejection_without_a_reason_or_of_no_request_is_refused() -> None:
    story, request_id = overspend_asked()
    line = story.given()
    refusal = then_refused(line, "reject_request", DomainValidationError, VALIDATION, at=at(1),
                           role="finance", request_id=request_id, reason=" ")  # fmt: skip
    assert refusal.field == "reason"
    refusal = then_refused(line, "reject_request", InvalidTransitionError, INVALID, at=at(1),
                           role="finance", request_id=uuid4(), reason="r")  # fmt: skip
    assert refusal.field == "requestId"


def test_the_open_requests_of_a_closed_line_may_still_be_rejected() -> None:
    story, request_id = amendment_asked()
    line = story.do("close").given()
    then(when(line, "reject_request", at=at(1), role="finance", request_id=request_id,
              reason="year closed"), Expect(BudgetLine.RequestRejected))  # fmt: skip


# ---- stored events ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["amend", "authorise_overspend"])
def test_a_decision_stored_before_requests_existed_reads_as_one_step(kind: str) -> None:
    """Version 1 of BudgetAmended and OverspendAuthorised had no ``request_id``."""
    if kind == "amend":
        story = active_line().do("amend", amount=gbp("10"), approval_ref="CHG-1")
    else:
        story = active_line().do("authorise_overspend", limit=gbp("10"), expires_at=at(9))
    mapper = PatientServices(env=dict(MEMORY_ENV)).mapper
    stored = mapper.to_stored_event(story.events[-1])
    state = msgspec.json.decode(stored.state)
    assert (state.pop("class_version"), state.pop("request_id")) == (2, None)
    version_1 = StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=msgspec.json.encode(state),
    )  # fmt: skip
    read = mapper.to_domain_event(version_1)
    assert read.request_id is None
    assert read.mutate(given_before_last(story)) == story.given()


def given_before_last(story: BudgetStory) -> BudgetLine:
    line: Any = None
    for event in story.events[:-1]:
        line = event.mutate(line)
    return line


def test_the_budget_read_model_counts_approvals_and_passes_over_requests() -> None:
    story, request_id = amendment_asked("900")
    story.do("amend", amount=gbp("900"), approval_ref="CHG-1", request_id=request_id)
    story.do("request_overspend_authorisation", role="manager", actor="mo", limit=gbp("10"),
             expires_at=at(30), reason="r")  # fmt: skip
    story.do("reject_request", request_id=story.last_event_id(), reason="no")
    mapper = PatientServices(env=dict(MEMORY_ENV)).mapper
    state = None
    for position, event in enumerate(story.events, start=1):
        stored = mapper.to_stored_event(event)
        record = StoredRecord(
            position, stored.originator_id, stored.originator_version, stored.topic, stored.state
        )
        state = fold(state, record, RULES)
    assert state is not None
    assert (state.version, state.budget_minor) == (len(story.events), 1_290_000)
