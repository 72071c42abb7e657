"""Corrections: MarkEnteredInError and CorrectVisitDetails; and the rule that no event is
recorded without saying who did it (domain-spec §0, §1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.shared.envelope import MissingEnvelopeError
from domain.shared.errors import DomainValidationError, InvalidTransitionError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    ENTERED_IN_ERROR,
    FINAL_STATES,
    SCHEDULED,
)
from tests.support.gwt import (
    START,
    Expect,
    at,
    given,
    path_to,
    then,
    then_refused,
    walk_in_story,
    when,
)


# ---- MarkEnteredInError -------------------------------------------------------------
def test_marking_entered_in_error_records_the_previous_status_and_the_reason() -> None:
    visit = given(path_to(ADMITTED))
    outcome = when(
        visit, "mark_entered_in_error", at=at(60), role="manager", reason="wrong patient"
    )
    then(
        outcome,
        Expect(
            PatientVisit.VisitMarkedEnteredInError,
            previous_status=ADMITTED,
            reason="wrong patient",
            actor_role="manager",
        ),  # fmt: skip
    )
    assert visit.status == ENTERED_IN_ERROR


def test_marking_entered_in_error_twice_is_refused() -> None:
    visit = given(path_to(ENTERED_IN_ERROR))
    then_refused(
        visit, "mark_entered_in_error", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
        reason="again",
    )  # fmt: skip


@pytest.mark.parametrize("reason", ["", " \t"], ids=["empty", "blank"])
def test_marking_entered_in_error_without_a_reason_is_refused(reason: str) -> None:
    visit = given(path_to(ARRIVED))
    error = then_refused(
        visit,
        "mark_entered_in_error",
        DomainValidationError,
        "VALIDATION",
        at=at(60),
        reason=reason,
    )
    assert error.field == "reason"


# ---- CorrectVisitDetails ------------------------------------------------------------
def test_a_correction_records_each_changed_field_before_and_after() -> None:
    visit = given(path_to(SCHEDULED))
    changes = {
        "reason_code": "R2", "service_unit": "CLINIC-4", "visit_class": "OBSENC",
        "scheduled_end": at(60),
    }  # fmt: skip
    outcome = when(visit, "correct_details", at=at(-600), changes=changes, reason="booking typo")
    then(
        outcome,
        Expect(
            PatientVisit.VisitDetailsCorrected,
            changes={
                "reason_code": {"before": "R1", "after": "R2"},
                "service_unit": {"before": "ED", "after": "CLINIC-4"},
                "visit_class": {"before": "AMB", "after": "OBSENC"},
                "scheduled_end": {"before": at(30), "after": at(60)},
            },
            reason="booking typo",
        ),
    )
    assert (visit.reason_code, visit.service_unit, visit.visit_class, visit.scheduled_end) == (
        "R2", "CLINIC-4", "OBSENC", at(60),
    )  # fmt: skip
    assert visit.status == SCHEDULED


def test_a_correction_leaves_out_the_fields_it_does_not_change() -> None:
    visit = given(path_to(ARRIVED))
    outcome = when(
        visit, "correct_details", at=at(30), changes={"reason_code": "R1", "service_unit": "UCC"}
    )
    then(
        outcome,
        Expect(
            PatientVisit.VisitDetailsCorrected,
            changes={"service_unit": {"before": "ED", "after": "UCC"}},
            reason=None,
        ),  # fmt: skip
    )


def test_clearing_the_scheduled_end_is_a_correction() -> None:
    visit = given(path_to(SCHEDULED))
    outcome = when(visit, "correct_details", at=at(-600), changes={"scheduled_end": None})
    then(
        outcome,
        Expect(
            PatientVisit.VisitDetailsCorrected,
            changes={"scheduled_end": {"before": at(30), "after": None}},
        ),
    )
    assert visit.scheduled_end is None


@pytest.mark.parametrize(
    "changes", [{}, {"reason_code": "R1"}, {"visit_class": "AMB", "service_unit": "ED"}],
    ids=["empty", "same-reason", "same-class-and-unit"],
)  # fmt: skip
def test_a_correction_that_changes_nothing_is_refused(changes: dict[str, Any]) -> None:
    visit = given(path_to(ARRIVED))
    error = then_refused(
        visit, "correct_details", DomainValidationError, "VALIDATION", at=at(30), changes=changes
    )
    assert error.field == "changes"


@pytest.mark.parametrize(
    "changes",
    [{"status": "closed"}, {"arrival_at": START}, {"patient_ref": "pt-9"},
     {"reason_code": "R2", "disposition": "home"}],
    ids=["status", "arrival-time", "patient", "one-unknown-among-known"],
)  # fmt: skip
def test_a_correction_of_anything_but_the_correctable_details_is_refused(
    changes: dict[str, Any],
) -> None:
    visit = given(path_to(ARRIVED))
    then_refused(
        visit, "correct_details", DomainValidationError, "VALIDATION", at=at(30), changes=changes
    )


@pytest.mark.parametrize("status", sorted(FINAL_STATES))
def test_a_correction_in_a_final_state_is_refused(status: str) -> None:
    visit = given(path_to(status))
    then_refused(
        visit, "correct_details", InvalidTransitionError, "INVALID_TRANSITION", at=at(300),
        changes={"reason_code": "R2"},
    )  # fmt: skip


def test_a_corrected_end_before_the_start_is_refused() -> None:
    visit = given(path_to(SCHEDULED))
    then_refused(
        visit, "correct_details", DomainValidationError, "VALIDATION", at=at(-600),
        changes={"scheduled_end": at(-1)},
    )  # fmt: skip


def test_a_walk_in_cannot_be_given_a_scheduled_end() -> None:
    visit = given(walk_in_story().events)
    then_refused(
        visit, "correct_details", DomainValidationError, "VALIDATION", at=at(30),
        changes={"scheduled_end": at(60)},
    )  # fmt: skip


# ---- no event without an envelope ---------------------------------------------------
def test_a_command_outside_recording_raises_missing_envelope_error_and_records_nothing() -> None:
    visit = given(path_to(ARRIVED))
    before = copy.deepcopy(vars(visit))
    with pytest.raises(MissingEnvelopeError):
        visit.record_triage(acuity_scale="ESI", acuity_level=2, at=at(30))
    assert visit.pending_events == []
    assert vars(visit) == before


def test_a_creation_outside_recording_raises_missing_envelope_error() -> None:
    with pytest.raises(MissingEnvelopeError):
        PatientVisit.schedule(
            patient_ref="pt-0001", visit_class="AMB", service_unit="ED", scheduled_start=START,
            at=START,
        )  # fmt: skip


# ---- found in review: corrections and erroneous visits ---------------------------------
def test_an_entered_in_error_visit_gives_up_its_bed() -> None:
    visit = given(path_to(ADMITTED))
    assert visit.current_location == {"unit": "W1", "bed": "B1"}
    when(visit, "mark_entered_in_error", at=at(60), role="manager", reason="wrong patient")
    assert visit.current_location is None
    assert visit.location_periods[-1]["end"] == at(60)


def test_a_backdated_entered_in_error_never_ends_a_period_before_it_starts() -> None:
    visit = given(path_to(ADMITTED))  # admitted into W1/B1 at at(25)
    when(visit, "mark_entered_in_error", at=at(0), role="manager", reason="wrong patient")
    period = visit.location_periods[-1]
    assert period["end"] == period["start"] == at(25)


def test_cancelling_an_admission_after_its_class_was_corrected_is_refused() -> None:
    # The admission set the class to IMP; restoring the state before it would silently
    # undo the later correction, so the cancellation must wait for the class to be settled.
    visit = given(path_to(ADMITTED))
    when(visit, "correct_details", at=at(30), changes={"visit_class": "OBSENC"})
    then_refused(
        visit, "cancel_admission", InvalidTransitionError, "INVALID_TRANSITION", at=at(35),
        role="clinician", reason="admitted in error",
    )  # fmt: skip
    assert visit.visit_class == "OBSENC"


def test_a_correction_of_other_details_does_not_block_cancelling_an_admission() -> None:
    visit = given(path_to(ADMITTED))
    when(visit, "correct_details", at=at(30), changes={"reason_code": "R9"})
    when(visit, "cancel_admission", at=at(35), role="clinician", reason="admitted in error")
    assert (visit.status, visit.reason_code) == ("with_clinician", "R9")
