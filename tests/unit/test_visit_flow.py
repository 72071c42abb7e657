"""PatientVisit, from arrival to close: triage, clinician contact, decision to admit,
admission, transfer, leave of absence, left-without-being-seen, discharge, close
(domain-spec §1, invariants 1 to 4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.shared.errors import DomainValidationError, InvalidTransitionError, TimestampOrderError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    CLOSED,
    DISCHARGED,
    DISPOSITIONS,
    LEFT_WITHOUT_BEING_SEEN,
    ON_LEAVE,
    TRIAGED,
    WITH_CLINICIAN,
)
from tests.support.gwt import (
    Expect,
    assert_locations_consistent,
    at,
    effective_times,
    given,
    path_to,
    story_to,
    then,
    then_refused,
    walk_in_story,
    when,
)


# ---- RecordTriage -------------------------------------------------------------------
def test_triage_records_the_acuity_scale_and_level() -> None:
    visit = given(path_to(ARRIVED))
    outcome = when(
        visit, "record_triage", at=at(10), role="nurse", acuity_scale="MTS", acuity_level=2
    )
    then(
        outcome,
        Expect(PatientVisit.PatientTriaged, acuity_scale="MTS", acuity_level=2, actor_role="nurse"),
    )
    assert (visit.status, visit.triage_at, visit.acuity_level) == (TRIAGED, at(10), 2)


@pytest.mark.parametrize("level", [0, 6])
def test_triage_with_an_acuity_level_outside_1_to_5_is_refused(level: int) -> None:
    visit = given(path_to(ARRIVED))
    error = then_refused(
        visit, "record_triage", DomainValidationError, "VALIDATION", at=at(10),
        acuity_scale="ESI", acuity_level=level,
    )  # fmt: skip
    assert error.field == "acuityLevel"


def test_a_second_triage_is_refused() -> None:
    visit = given(path_to(TRIAGED))
    then_refused(
        visit, "record_triage", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
        acuity_scale="ESI", acuity_level=1,
    )  # fmt: skip


# ---- StartClinicianContact ----------------------------------------------------------
@pytest.mark.parametrize("status", [ARRIVED, TRIAGED])
def test_the_first_clinician_contact_sets_provider_seen(status: str) -> None:
    visit = given(path_to(status))
    outcome = when(
        visit, "start_clinician_contact", at=at(30), role="clinician", clinician_ref="dr-9"
    )
    then(
        outcome,
        Expect(PatientVisit.ClinicianContactStarted, clinician_ref="dr-9", first_contact=True),
    )
    assert (visit.status, visit.provider_seen_at, visit.clinician_ref) == (
        WITH_CLINICIAN,
        at(30),
        "dr-9",
    )


# ---- RecordDecisionToAdmit ----------------------------------------------------------
def test_a_decision_to_admit_starts_the_boarding_clock_without_changing_status() -> None:
    visit = given(path_to(WITH_CLINICIAN))
    outcome = when(visit, "record_decision_to_admit", at=at(30), role="clinician", target_unit="W4")
    then(outcome, Expect(PatientVisit.AdmissionDecided, target_unit="W4"))
    assert (visit.status, visit.decision_to_admit_at, visit.target_unit) == (
        WITH_CLINICIAN, at(30), "W4",
    )  # fmt: skip


def test_a_second_decision_to_admit_is_refused() -> None:
    story = story_to(ADMITTED).do("cancel_admission", at=at(40), role="clinician", reason="error")
    visit = given(story.events)
    assert visit.status == WITH_CLINICIAN and visit.decision_to_admit_at is not None
    then_refused(
        visit, "record_decision_to_admit", InvalidTransitionError, "INVALID_TRANSITION",
        at=at(50), target_unit="W2",
    )  # fmt: skip


# ---- AdmitPatient -------------------------------------------------------------------
@pytest.mark.parametrize("status", [ARRIVED, TRIAGED, WITH_CLINICIAN])
def test_admission_moves_the_patient_to_a_unit_and_makes_the_visit_inpatient(status: str) -> None:
    visit = given(path_to(status))
    outcome = when(visit, "admit", at=at(60), role="clinician", unit="W2", bed="B7")
    then(outcome, Expect(PatientVisit.PatientAdmitted, unit="W2", bed="B7"))
    assert (visit.status, visit.admitted_at, visit.visit_class) == (ADMITTED, at(60), "IMP")
    assert visit.location_periods == [
        {"unit": "ED", "bed": None, "start": at(5), "end": at(60)},
        {"unit": "W2", "bed": "B7", "start": at(60), "end": None},
    ]


def test_an_admission_without_a_unit_is_refused() -> None:
    visit = given(path_to(WITH_CLINICIAN))
    error = then_refused(visit, "admit", DomainValidationError, "VALIDATION", at=at(60), unit="")
    assert error.field == "unit"


def test_an_admission_from_a_scheduled_visit_is_refused() -> None:
    visit = given(path_to("scheduled"))
    then_refused(visit, "admit", InvalidTransitionError, "INVALID_TRANSITION", at=at(60), unit="W2")


# ---- TransferPatient ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "current"),
    [(ARRIVED, ("ED", None)), (TRIAGED, ("ED", None)), (WITH_CLINICIAN, ("ED", None)),
     (ADMITTED, ("W1", "B1"))],
)  # fmt: skip
def test_a_transfer_closes_the_current_location_and_opens_the_next(
    status: str, current: tuple[str, str | None]
) -> None:
    visit = given(path_to(status))
    periods_before = len(visit.location_periods)
    outcome = when(
        visit, "transfer", at=at(60), role="nurse", to_unit="W3", to_bed="B3",
        from_unit=current[0], from_bed=current[1],
    )  # fmt: skip
    then(
        outcome,
        Expect(
            PatientVisit.PatientTransferred,
            from_unit=current[0],
            from_bed=current[1],
            to_unit="W3",
            to_bed="B3",
        ),  # fmt: skip
    )
    assert visit.status == status
    assert visit.current_location == {"unit": "W3", "bed": "B3"}
    assert len(visit.location_periods) == periods_before + 1
    assert visit.location_periods[-2]["end"] == at(60) == visit.location_periods[-1]["start"]
    assert_locations_consistent(visit)


def test_a_transfer_without_a_from_records_the_current_location_as_from() -> None:
    visit = given(path_to(ADMITTED))
    outcome = when(visit, "transfer", at=at(60), role="nurse", to_unit="W3")
    then(
        outcome, Expect(PatientVisit.PatientTransferred, from_unit="W1", from_bed="B1", to_bed=None)
    )


@pytest.mark.parametrize(
    ("from_unit", "from_bed", "field"),
    [
        ("W9", "B1", "fromUnit"),
        ("W1", "B9", "fromBed"),
        (None, "B9", "fromBed"),
        ("W9", None, "fromUnit"),
    ],
    ids=["other-unit", "other-bed", "only-a-wrong-bed", "only-a-wrong-unit"],
)  # fmt: skip
def test_a_transfer_whose_from_is_not_the_current_location_is_refused(
    from_unit: str | None, from_bed: str | None, field: str
) -> None:
    visit = given(path_to(ADMITTED))
    error = then_refused(
        visit, "transfer", InvalidTransitionError, "INVALID_TRANSITION", at=at(60),
        to_unit="W3", from_unit=from_unit, from_bed=from_bed,
    )  # fmt: skip
    assert error.field == field


def test_a_transfer_whose_given_part_of_from_matches_is_accepted() -> None:
    visit = given(path_to(ADMITTED))
    outcome = when(visit, "transfer", at=at(60), role="nurse", to_unit="W3", from_unit="W1")
    then(outcome, Expect(PatientVisit.PatientTransferred, from_unit="W1", from_bed="B1"))


def test_a_transfer_to_the_current_location_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(
        visit, "transfer", DomainValidationError, "VALIDATION", at=at(60), to_unit="W1", to_bed="B1"
    )


def test_a_transfer_while_on_leave_is_refused() -> None:
    visit = given(path_to(ON_LEAVE))
    then_refused(
        visit, "transfer", InvalidTransitionError, "INVALID_TRANSITION", at=at(60), to_unit="W3"
    )


# ---- Leave of absence ---------------------------------------------------------------
def test_a_leave_of_absence_keeps_the_bed_reserved() -> None:
    visit = given(path_to(ADMITTED))
    outcome = when(
        visit, "start_leave_of_absence", at=at(60), role="nurse", expected_return=at(600)
    )
    then(outcome, Expect(PatientVisit.LeaveOfAbsenceStarted, expected_return=at(600)))
    assert (visit.status, visit.leave_started_at) == (ON_LEAVE, at(60))
    assert visit.current_location == {"unit": "W1", "bed": "B1"}


def test_the_end_of_a_leave_of_absence_returns_the_patient_to_the_bed() -> None:
    visit = given(path_to(ON_LEAVE))
    outcome = when(visit, "end_leave_of_absence", at=at(90), role="nurse")
    then(outcome, Expect(PatientVisit.LeaveOfAbsenceEnded))
    assert (visit.status, visit.leave_ended_at, visit.expected_return) == (ADMITTED, at(90), None)
    assert visit.current_location == {"unit": "W1", "bed": "B1"}
    assert len(visit.location_periods) == 2


def test_a_leave_expected_to_end_before_it_starts_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(
        visit, "start_leave_of_absence", TimestampOrderError, "TIMESTAMP_ORDER", at=at(60),
        expected_return=at(59),
    )  # fmt: skip


def test_ending_a_leave_that_was_not_started_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(
        visit, "end_leave_of_absence", InvalidTransitionError, "INVALID_TRANSITION", at=at(60)
    )


# ---- RecordLeftWithoutBeingSeen -----------------------------------------------------
@pytest.mark.parametrize("status", [ARRIVED, TRIAGED])
def test_leaving_without_being_seen_ends_the_location_period(status: str) -> None:
    visit = given(path_to(status))
    outcome = when(visit, "record_left_without_being_seen", at=at(60), role="nurse")
    then(outcome, Expect(PatientVisit.PatientLeftWithoutBeingSeen))
    assert (visit.status, visit.left_at) == (LEFT_WITHOUT_BEING_SEEN, at(60))
    assert visit.current_location is None
    assert visit.location_periods[-1]["end"] == at(60)


@pytest.mark.parametrize("story", ["with_clinician", "admission-cancelled"])
def test_leaving_without_being_seen_is_refused_once_seen_by_a_clinician(story: str) -> None:
    if story == "with_clinician":
        events = path_to(WITH_CLINICIAN)
    else:
        events = (
            walk_in_story()
            .do("start_clinician_contact", at=at(5), role="clinician", clinician_ref="dr-1")
            .do("admit", at=at(10), role="clinician", unit="W1")
            .do("cancel_admission", at=at(15), role="clinician", reason="error")
            .events
        )
    visit = given(events)
    assert visit.provider_seen_at is not None
    then_refused(
        visit, "record_left_without_being_seen", InvalidTransitionError, "INVALID_TRANSITION",
        at=at(60),
    )  # fmt: skip


# ---- DischargePatient ---------------------------------------------------------------
@pytest.mark.parametrize("status", [ARRIVED, TRIAGED, WITH_CLINICIAN, ADMITTED])
def test_a_discharge_from_any_active_state_ends_the_stay(status: str) -> None:
    visit = given(path_to(status))
    outcome = when(
        visit, "discharge", at=at(90), role="clinician", disposition="snf", destination="SNF-12"
    )
    then(
        outcome,
        Expect(
            PatientVisit.PatientDischarged,
            disposition="snf",
            destination="SNF-12",
            deceased_at=None,
        ),
    )
    assert (visit.status, visit.discharged_at, visit.disposition) == (DISCHARGED, at(90), "snf")
    assert visit.current_location is None
    assert visit.location_periods[-1]["end"] == at(90)
    assert_locations_consistent(visit)


@pytest.mark.parametrize("disposition", DISPOSITIONS)
def test_every_disposition_code_is_accepted(disposition: str) -> None:
    visit = given(path_to(WITH_CLINICIAN))
    deceased_at = at(80) if disposition == "exp" else None
    outcome = when(visit, "discharge", at=at(90), disposition=disposition, deceased_at=deceased_at)
    then(
        outcome,
        Expect(PatientVisit.PatientDischarged, disposition=disposition, deceased_at=deceased_at),
    )


def test_a_discharge_without_disposition_is_refused() -> None:
    visit = given(path_to(WITH_CLINICIAN))
    error = then_refused(
        visit, "discharge", DomainValidationError, "VALIDATION", at=at(90), disposition=""
    )
    assert error.field == "disposition"


def test_a_discharge_as_deceased_without_a_time_of_death_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    error = then_refused(
        visit, "discharge", DomainValidationError, "VALIDATION", at=at(90), disposition="exp"
    )
    assert error.field == "deceasedAt"


def test_a_time_of_death_with_another_disposition_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(
        visit, "discharge", DomainValidationError, "VALIDATION", at=at(90), disposition="home",
        deceased_at=at(80),
    )  # fmt: skip


def test_a_time_of_death_after_the_discharge_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(
        visit, "discharge", TimestampOrderError, "TIMESTAMP_ORDER", at=at(90), disposition="exp",
        deceased_at=at(91),
    )  # fmt: skip


def test_a_time_of_death_before_the_arrival_is_refused() -> None:
    visit = given(path_to(ADMITTED))  # arrived at at(5)
    then_refused(
        visit, "discharge", TimestampOrderError, "TIMESTAMP_ORDER", at=at(90), disposition="exp",
        deceased_at=at(4),
    )  # fmt: skip


def test_a_time_of_death_at_the_discharge_is_accepted() -> None:
    visit = given(path_to(ADMITTED))
    outcome = when(visit, "discharge", at=at(90), disposition="exp", deceased_at=at(90))
    then(outcome, Expect(PatientVisit.PatientDischarged, disposition="exp", deceased_at=at(90)))
    assert visit.deceased_at == at(90)


def test_a_discharge_while_on_leave_is_refused() -> None:
    visit = given(path_to(ON_LEAVE))
    then_refused(
        visit,
        "discharge",
        InvalidTransitionError,
        "INVALID_TRANSITION",
        at=at(90),
        disposition="home",
    )


# ---- CloseVisit ---------------------------------------------------------------------
@pytest.mark.parametrize("status", [DISCHARGED, LEFT_WITHOUT_BEING_SEEN])
def test_closing_completes_a_departed_visit(status: str) -> None:
    visit = given(path_to(status))
    outcome = when(visit, "close", at=at(120), role="manager")
    then(outcome, Expect(PatientVisit.VisitClosed, actor_role="manager"))
    assert (visit.status, visit.closed_at) == (CLOSED, at(120))


def test_closing_a_visit_still_in_progress_is_refused() -> None:
    visit = given(path_to(ADMITTED))
    then_refused(visit, "close", InvalidTransitionError, "INVALID_TRANSITION", at=at(120))


# ---- Invariant 2: effective times are ordered ---------------------------------------
#: (status it starts from, command, arguments, time of the latest earlier step in minutes)
ORDERED_STEPS: list[tuple[str, str, dict[str, Any], int]] = [
    (ARRIVED, "record_triage", {"acuity_scale": "ESI", "acuity_level": 3}, 5),
    (ARRIVED, "start_clinician_contact", {"clinician_ref": "dr-1"}, 5),
    (TRIAGED, "start_clinician_contact", {"clinician_ref": "dr-1"}, 10),
    (WITH_CLINICIAN, "record_decision_to_admit", {"target_unit": "W1"}, 15),
    (TRIAGED, "admit", {"unit": "W1"}, 10),
    (ADMITTED, "transfer", {"to_unit": "W2"}, 25),
    (ARRIVED, "transfer", {"to_unit": "W2"}, 5),
    (ADMITTED, "start_leave_of_absence", {}, 25),
    (ON_LEAVE, "end_leave_of_absence", {}, 30),
    (TRIAGED, "record_left_without_being_seen", {}, 10),
    (ADMITTED, "discharge", {"disposition": "home"}, 25),
    (DISCHARGED, "close", {}, 35),
    (LEFT_WITHOUT_BEING_SEEN, "close", {}, 15),
]


@pytest.mark.parametrize(
    ("status", "command", "kwargs", "latest"), ORDERED_STEPS,
    ids=[f"{command}-from-{status}" for status, command, _, _ in ORDERED_STEPS],
)  # fmt: skip
def test_a_step_dated_before_an_earlier_step_is_refused(
    status: str, command: str, kwargs: dict[str, Any], latest: int
) -> None:
    visit = given(path_to(status))
    then_refused(
        visit, command, TimestampOrderError, "TIMESTAMP_ORDER",
        at=at(latest) - timedelta(seconds=1), **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "command", "kwargs", "latest"), ORDERED_STEPS,
    ids=[f"{command}-from-{status}" for status, command, _, _ in ORDERED_STEPS],
)  # fmt: skip
def test_a_step_dated_at_the_same_instant_as_the_latest_step_is_accepted(
    status: str, command: str, kwargs: dict[str, Any], latest: int
) -> None:
    visit = given(path_to(status))
    outcome = when(visit, command, at=at(latest), **kwargs)
    assert len(outcome.events) == 1
    times = effective_times(visit)
    assert times == sorted(times)


def test_a_step_dated_before_a_transfer_is_refused() -> None:
    story = story_to(ADMITTED).do("transfer", at=at(50), role="nurse", to_unit="W2")
    visit = given(story.events)
    then_refused(
        visit, "discharge", TimestampOrderError, "TIMESTAMP_ORDER", at=at(45), disposition="home"
    )


def test_a_late_entry_in_order_is_accepted() -> None:
    """occurred_at may be long past, as long as the visit's own steps stay in order."""
    visit = given(walk_in_story(at(0)).events)
    then(
        when(visit, "record_triage", at=at(1), acuity_scale="ESI", acuity_level=4),
        Expect(PatientVisit.PatientTriaged),
    )


# ---- Invariant 1: one location at a time, periods never overlap ---------------------
def test_location_periods_never_overlap_through_a_whole_stay() -> None:
    story = walk_in_story(at(0))
    steps: list[tuple[str, dict[str, Any]]] = [
        ("transfer", {"to_unit": "ED-RESUS"}),
        ("start_clinician_contact", {"clinician_ref": "dr-1"}),
        ("transfer", {"to_unit": "ED-MAJORS", "to_bed": "M4"}),
        ("admit", {"unit": "W1", "bed": "B1"}),
        ("transfer", {"to_unit": "W1", "to_bed": "B2"}),
        ("start_leave_of_absence", {}),
        ("end_leave_of_absence", {}),
        ("transfer", {"to_unit": "W5", "to_bed": "B1"}),
        ("cancel_transfer", {"reason": "bed not ready"}),
        ("discharge", {"disposition": "home"}),
    ]
    for minutes, (command, kwargs) in enumerate(steps, start=1):
        story.do(command, at=at(10 * minutes), **kwargs)
        assert story.visit is not None
        assert_locations_consistent(story.visit)
        open_periods = [p for p in story.visit.location_periods if p["end"] is None]
        assert len(open_periods) == (0 if story.visit.status == DISCHARGED else 1)
    visit = given(story.events)
    assert [(p["unit"], p["bed"]) for p in visit.location_periods] == [
        ("ED", None), ("ED-RESUS", None), ("ED-MAJORS", "M4"), ("W1", "B1"), ("W1", "B2"),
    ]  # fmt: skip
    assert visit.location_periods[-1]["end"] == at(100)
