"""Compensating events: AdmissionCancelled (A11), TransferCancelled (A12),
DischargeCancelled (A13), LeftWithoutBeingSeenCancelled and NoShowReverted. Each names
the fact it cancels and restores the visit to exactly the state before that fact
(domain-spec §0 and §1)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InvalidTransitionError,
)
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ADMITTED, ARRIVED, DISCHARGED, LEFT_WITHOUT_BEING_SEEN, TRIAGED
from tests.support.gwt import (
    Expect,
    Story,
    at,
    given,
    scheduled_story,
    state_of,
    story_to,
    then,
    then_refused,
    walk_in_story,
    when,
)

#: compensation command → (the fact's event class, the compensating event class)
COMPENSATIONS: dict[str, tuple[type, type]] = {
    "cancel_admission": (PatientVisit.PatientAdmitted, PatientVisit.AdmissionCancelled),
    "cancel_transfer": (PatientVisit.PatientTransferred, PatientVisit.TransferCancelled),
    "cancel_discharge": (PatientVisit.PatientDischarged, PatientVisit.DischargeCancelled),
    "cancel_left_without_being_seen": (
        PatientVisit.PatientLeftWithoutBeingSeen,
        PatientVisit.LeftWithoutBeingSeenCancelled,
    ),  # fmt: skip
    "revert_no_show": (PatientVisit.VisitMarkedNoShow, PatientVisit.NoShowReverted),
}

#: Histories that end with a fact, and the compensation that cancels it.
FACTS: dict[str, tuple[str, Callable[[], Story]]] = {
    "admission-after-decision": ("cancel_admission", lambda: story_to(ADMITTED)),
    "admission-straight-after-walk-in": (
        "cancel_admission",
        lambda: walk_in_story().do("admit", at=at(10), unit="W1", bed="B1"),
    ),  # fmt: skip
    "admission-from-arrived": (
        "cancel_admission",
        lambda: story_to(ARRIVED).do("admit", at=at(10), unit="W1"),
    ),  # fmt: skip
    "transfer-in-the-ed": (
        "cancel_transfer",
        lambda: story_to(TRIAGED).do("transfer", at=at(20), to_unit="ED-2"),
    ),  # fmt: skip
    "transfer-on-the-ward": (
        "cancel_transfer",
        lambda: story_to(ADMITTED).do("transfer", at=at(40), to_unit="W2", to_bed="B4"),
    ),
    "transfer-straight-after-walk-in": (
        "cancel_transfer",
        lambda: walk_in_story().do("transfer", at=at(10), to_unit="ED-2"),
    ),  # fmt: skip
    "discharge-of-an-inpatient": ("cancel_discharge", lambda: story_to(DISCHARGED)),
    "discharge-straight-after-walk-in": (
        "cancel_discharge",
        lambda: walk_in_story().do("discharge", at=at(10), disposition="aadvice"),
    ),
    "discharge-as-deceased": (
        "cancel_discharge",
        lambda: story_to(ADMITTED).do(
            "discharge", at=at(60), disposition="exp", deceased_at=at(50)
        ),
    ),
    "left-after-triage": (
        "cancel_left_without_being_seen",
        lambda: story_to(LEFT_WITHOUT_BEING_SEEN),
    ),
    "left-straight-after-walk-in": (
        "cancel_left_without_being_seen",
        lambda: walk_in_story().do("record_left_without_being_seen", at=at(10)),
    ),
    "no-show": ("revert_no_show", lambda: scheduled_story().do("mark_no_show", at=at(20))),
}


@pytest.mark.parametrize(("compensation", "make_story"), FACTS.values(), ids=FACTS.keys())
def test_each_compensation_restores_the_exact_state_before_the_fact(
    compensation: str, make_story: Callable[[], Story]
) -> None:
    story = make_story()
    fact_class, compensation_class = COMPENSATIONS[compensation]
    assert type(story.events[-1]) is fact_class
    before = given(story.events[:-1])
    visit = given(story.events)
    outcome = when(visit, compensation, at=at(120), reason="entered against the wrong visit")
    then(
        outcome,
        Expect(
            compensation_class,
            corrects_event_id=story.last_event_id(),
            restored_status=before.status,
            reason="entered against the wrong visit",
        ),  # fmt: skip
    )
    assert state_of(visit) == state_of(before)


@pytest.mark.parametrize(("compensation", "make_story"), FACTS.values(), ids=FACTS.keys())
def test_a_second_cancel_of_the_same_fact_is_already_cancelled(
    compensation: str, make_story: Callable[[], Story]
) -> None:
    story = make_story()
    fact_id = story.last_event_id()
    story.do(compensation, at=at(120), reason="error")
    visit = given(story.events)
    for named in (None, fact_id):
        then_refused(
            visit, compensation, AlreadyCancelledError, "ALREADY_CANCELLED", at=at(130),
            reason="error again", corrects_event_id=named,
        )  # fmt: skip


@pytest.mark.parametrize(("compensation", "make_story"), FACTS.values(), ids=FACTS.keys())
def test_a_compensation_naming_an_event_that_is_not_its_fact_is_refused(
    compensation: str, make_story: Callable[[], Story]
) -> None:
    story = make_story()
    fact_class, _ = COMPENSATIONS[compensation]
    other_visit = make_story()
    wrong_ids = [
        story.events[0].event_id,  # the creation of this visit
        uuid4(),  # nothing at all
        other_visit.event_id_of(fact_class),  # the same kind of fact, of another visit
    ]
    visit = given(story.events)
    for wrong in wrong_ids:
        error = then_refused(
            visit, compensation, InvalidTransitionError, "INVALID_TRANSITION", at=at(120),
            reason="error", corrects_event_id=wrong,
        )  # fmt: skip
        assert error.field == "correctsEventId"


@pytest.mark.parametrize(("compensation", "make_story"), FACTS.values(), ids=FACTS.keys())
def test_a_compensation_naming_its_fact_is_accepted(
    compensation: str, make_story: Callable[[], Story]
) -> None:
    story = make_story()
    visit = given(story.events)
    outcome = when(
        visit, compensation, at=at(120), reason="error", corrects_event_id=story.last_event_id()
    )
    _, compensation_class = COMPENSATIONS[compensation]
    then(outcome, Expect(compensation_class, corrects_event_id=story.last_event_id()))


@pytest.mark.parametrize("compensation", [c for c in COMPENSATIONS if c != "revert_no_show"])
@pytest.mark.parametrize("reason", ["", "  "], ids=["empty", "blank"])
def test_a_compensation_without_a_reason_is_refused(compensation: str, reason: str) -> None:
    make_story = next(make for name, make in FACTS.values() if name == compensation)
    visit = given(make_story().events)
    error = then_refused(
        visit, compensation, DomainValidationError, "VALIDATION", at=at(120), reason=reason
    )
    assert error.field == "reason"


@pytest.mark.parametrize(
    ("compensation", "status"),
    [("cancel_admission", TRIAGED), ("cancel_transfer", ADMITTED), ("cancel_discharge", ADMITTED),
     ("cancel_left_without_being_seen", TRIAGED), ("revert_no_show", "scheduled")],
)  # fmt: skip
def test_a_compensation_with_no_fact_to_cancel_is_refused(compensation: str, status: str) -> None:
    visit = given(story_to(status).events)
    then_refused(
        visit, compensation, InvalidTransitionError, "INVALID_TRANSITION", at=at(120), reason="x"
    )


# ---- a fact that later facts depend on cannot be cancelled --------------------------
DEPENDENT: dict[str, tuple[str, Callable[[], Story]]] = {
    "admission-then-transfer": (
        "cancel_admission",
        lambda: story_to(ADMITTED).do("transfer", at=at(40), to_unit="W2"),
    ),  # fmt: skip
    "admission-then-leave": (
        "cancel_admission",
        lambda: story_to(ADMITTED).do("start_leave_of_absence", at=at(40)),
    ),  # fmt: skip
    "admission-then-leave-and-return": (
        "cancel_admission",
        lambda: (
            story_to(ADMITTED)
            .do("start_leave_of_absence", at=at(40))
            .do("end_leave_of_absence", at=at(50))
        ),
    ),
    "admission-then-discharge": ("cancel_admission", lambda: story_to(DISCHARGED)),
    "transfer-then-admission": (
        "cancel_transfer",
        lambda: (
            story_to(TRIAGED)
            .do("transfer", at=at(20), to_unit="ED-2")
            .do("admit", at=at(30), unit="W1")
        ),
    ),
    "transfer-then-clinician-contact": (
        "cancel_transfer",
        lambda: (
            story_to(TRIAGED)
            .do("transfer", at=at(20), to_unit="ED-2")
            .do("start_clinician_contact", at=at(30), clinician_ref="dr-1")
        ),
    ),
    "discharge-then-close": ("cancel_discharge", lambda: story_to("closed")),
    "discharge-then-entered-in-error": (
        "cancel_discharge",
        lambda: story_to(DISCHARGED).do("mark_entered_in_error", at=at(60), reason="duplicate"),
    ),
    "left-then-close": (
        "cancel_left_without_being_seen",
        lambda: story_to(LEFT_WITHOUT_BEING_SEEN).do("close", at=at(60)),
    ),
}


@pytest.mark.parametrize(("compensation", "make_story"), DEPENDENT.values(), ids=DEPENDENT.keys())
def test_cancelling_a_fact_that_later_facts_depend_on_is_refused(
    compensation: str, make_story: Callable[[], Story]
) -> None:
    story = make_story()
    fact_class, _ = COMPENSATIONS[compensation]
    fact_id = story.event_id_of(fact_class)
    visit = given(story.events)
    for named in (None, fact_id):
        then_refused(
            visit, compensation, InvalidTransitionError, "INVALID_TRANSITION", at=at(120),
            reason="error", corrects_event_id=named,
        )  # fmt: skip


def test_an_earlier_of_two_transfers_cannot_be_cancelled_before_the_later_one() -> None:
    story = (
        story_to(ADMITTED)
        .do("transfer", at=at(40), to_unit="W2")
        .do("transfer", at=at(50), to_unit="W3")
    )
    first, second = (
        e.event_id for e in story.events if isinstance(e, PatientVisit.PatientTransferred)
    )
    visit = given(story.events)
    then_refused(
        visit, "cancel_transfer", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
        reason="error", corrects_event_id=first,
    )  # fmt: skip
    then(
        when(visit, "cancel_transfer", at=at(60), reason="error"),
        Expect(PatientVisit.TransferCancelled, corrects_event_id=second),
    )
    then(
        when(visit, "cancel_transfer", at=at(61), reason="error", corrects_event_id=first),
        Expect(PatientVisit.TransferCancelled, corrects_event_id=first),
    )
    assert visit.current_location == {"unit": "W1", "bed": "B1"}


def test_once_the_later_fact_is_cancelled_the_earlier_one_can_be() -> None:
    story = story_to(ADMITTED)
    before_admission = given(story.events[:-1])
    story.do("transfer", at=at(40), to_unit="W2")
    story.do("cancel_transfer", at=at(45), reason="bed not ready")
    visit = given(story.events)
    then(
        when(visit, "cancel_admission", at=at(50), reason="wrong patient"),
        Expect(PatientVisit.AdmissionCancelled, restored_status="with_clinician"),
    )
    assert state_of(visit) == state_of(before_admission)


def test_after_a_cancelled_admission_a_new_admission_can_be_made_and_cancelled() -> None:
    story = story_to(ADMITTED).do("cancel_admission", at=at(30), reason="wrong bed")
    first_admission = story.event_id_of(PatientVisit.PatientAdmitted)
    story.do("admit", at=at(40), unit="W2", bed="B2")
    second_admission = story.last_event_id()
    visit = given(story.events)
    then_refused(
        visit, "cancel_admission", AlreadyCancelledError, "ALREADY_CANCELLED", at=at(50),
        reason="x", corrects_event_id=first_admission,
    )  # fmt: skip
    then(
        when(visit, "cancel_admission", at=at(50), reason="wrong ward"),
        Expect(PatientVisit.AdmissionCancelled, corrects_event_id=second_admission),
    )
    assert visit.status == "with_clinician"
    assert visit.visit_class == "AMB"
    assert visit.current_location == {"unit": "ED", "bed": None}


def test_a_cancelled_discharge_reopens_the_last_location() -> None:
    visit = given(story_to(DISCHARGED).events)
    when(visit, "cancel_discharge", at=at(60), reason="still in bed")
    assert visit.current_location == {"unit": "W1", "bed": "B1"}
    assert visit.discharged_at is None and visit.disposition is None
