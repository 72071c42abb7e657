"""Every command of domain-spec §1 from every state: accepted from the states the table
allows (with its event and resulting status), refused as INVALID_TRANSITION with no event
from all others. Final states accept nothing but MarkEnteredInError and compensations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

import pytest

from domain.shared.errors import InvalidTransitionError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ACTIVE_STATES,
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    DISCHARGED,
    ENTERED_IN_ERROR,
    FINAL_STATES,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    STATES,
    TRIAGED,
    WITH_CLINICIAN,
)
from tests.support.gwt import START, Expect, at, given, path_to, then, then_refused, when

#: A time after every step of every canonical history, on the day of the visit.
LATER = at(360)
UNCHANGED = "unchanged"


class Row(NamedTuple):
    kwargs: dict[str, Any]
    allowed: frozenset[str]
    event: type
    #: the status after the event (UNCHANGED: the status it was in)
    status: str


TABLE: dict[str, Row] = {
    "reschedule": Row(
        {"scheduled_start": START + timedelta(days=1), "scheduled_end": None},
        frozenset({SCHEDULED}),
        PatientVisit.VisitRescheduled,
        UNCHANGED,
    ),
    "cancel": Row(
        {"reason": "patient asked"}, frozenset({SCHEDULED}), PatientVisit.VisitCancelled, CANCELLED
    ),
    "mark_no_show": Row({}, frozenset({SCHEDULED}), PatientVisit.VisitMarkedNoShow, NO_SHOW),
    "revert_no_show": Row({}, frozenset({NO_SHOW}), PatientVisit.NoShowReverted, SCHEDULED),
    "register_arrival": Row(
        {"arrival_mode": "walked"}, frozenset({SCHEDULED}), PatientVisit.PatientArrived, ARRIVED
    ),
    "record_triage": Row(
        {"acuity_scale": "ESI", "acuity_level": 2},
        frozenset({ARRIVED}),
        PatientVisit.PatientTriaged,
        TRIAGED,
    ),
    "start_clinician_contact": Row(
        {"clinician_ref": "dr-2"},
        frozenset({ARRIVED, TRIAGED}),
        PatientVisit.ClinicianContactStarted,
        WITH_CLINICIAN,
    ),
    "record_decision_to_admit": Row(
        {"target_unit": "W2"}, frozenset({WITH_CLINICIAN}), PatientVisit.AdmissionDecided, UNCHANGED
    ),
    "admit": Row(
        {"unit": "W2", "bed": "B2"},
        frozenset({ARRIVED, TRIAGED, WITH_CLINICIAN}),
        PatientVisit.PatientAdmitted,
        ADMITTED,
    ),
    "transfer": Row(
        {"to_unit": "W9", "to_bed": "B9"}, ACTIVE_STATES, PatientVisit.PatientTransferred, UNCHANGED
    ),
    "start_leave_of_absence": Row(
        {}, frozenset({ADMITTED}), PatientVisit.LeaveOfAbsenceStarted, ON_LEAVE
    ),
    "end_leave_of_absence": Row(
        {}, frozenset({ON_LEAVE}), PatientVisit.LeaveOfAbsenceEnded, ADMITTED
    ),
    "record_left_without_being_seen": Row(
        {},
        frozenset({ARRIVED, TRIAGED}),
        PatientVisit.PatientLeftWithoutBeingSeen,
        LEFT_WITHOUT_BEING_SEEN,
    ),
    "discharge": Row(
        {"disposition": "home"}, ACTIVE_STATES, PatientVisit.PatientDischarged, DISCHARGED
    ),
    "close": Row(
        {}, frozenset({DISCHARGED, LEFT_WITHOUT_BEING_SEEN}), PatientVisit.VisitClosed, CLOSED
    ),
    "mark_entered_in_error": Row(
        {"reason": "duplicate record"},
        frozenset(STATES) - {ENTERED_IN_ERROR},
        PatientVisit.VisitMarkedEnteredInError,
        ENTERED_IN_ERROR,
    ),
    "correct_details": Row(
        {"changes": {"reason_code": "R2"}, "reason": "typo"},
        frozenset(STATES) - FINAL_STATES,
        PatientVisit.VisitDetailsCorrected,
        UNCHANGED,
    ),
    # The canonical histories: an admission after a decision, a discharge from admitted,
    # left-without-being-seen after triage; none has a transfer (see the compensation tests).
    "cancel_admission": Row(
        {"reason": "wrong patient"},
        frozenset({ADMITTED}),
        PatientVisit.AdmissionCancelled,
        WITH_CLINICIAN,
    ),
    "cancel_transfer": Row(
        {"reason": "wrong bed"}, frozenset(), PatientVisit.TransferCancelled, UNCHANGED
    ),
    "cancel_discharge": Row(
        {"reason": "not yet"}, frozenset({DISCHARGED}), PatientVisit.DischargeCancelled, ADMITTED
    ),
    "cancel_left_without_being_seen": Row(
        {"reason": "came back"},
        frozenset({LEFT_WITHOUT_BEING_SEEN}),
        PatientVisit.LeftWithoutBeingSeenCancelled,
        TRIAGED,
    ),
}

COMPENSATIONS = frozenset(
    {"revert_no_show", "cancel_admission", "cancel_transfer", "cancel_discharge",
     "cancel_left_without_being_seen"}
)  # fmt: skip

CASES = [(command, status) for command in TABLE for status in STATES]


def test_the_table_covers_every_public_command_of_the_visit() -> None:
    commands = {
        name for name, member in vars(PatientVisit).items()
        if callable(member) and not name.startswith("_") and name[0].islower()
        and name not in {"initialise", "arrive", "open_location", "close_location",
                         "remember_flow", "restore_before", "compensation_target"}
    }  # fmt: skip
    assert commands == set(TABLE)


@pytest.mark.parametrize(("command", "status"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_each_command_is_accepted_only_from_the_states_it_is_allowed_from(
    command: str, status: str
) -> None:
    row = TABLE[command]
    visit = given(path_to(status))
    if status in row.allowed:
        outcome = when(visit, command, at=LATER, **row.kwargs)
        then(outcome, Expect(row.event))
        assert visit.status == (status if row.status == UNCHANGED else row.status)
    else:
        then_refused(
            visit, command, InvalidTransitionError, "INVALID_TRANSITION", at=LATER, **row.kwargs
        )


@pytest.mark.parametrize("status", sorted(FINAL_STATES))
def test_final_states_accept_nothing_but_entered_in_error_and_compensations(status: str) -> None:
    visit = given(path_to(status))
    for command, row in TABLE.items():
        if command in COMPENSATIONS or command == "mark_entered_in_error":
            continue
        then_refused(
            visit, command, InvalidTransitionError, "INVALID_TRANSITION", at=LATER, **row.kwargs
        )
    if status != ENTERED_IN_ERROR:
        then(
            when(visit, "mark_entered_in_error", at=LATER, reason="duplicate"),
            Expect(PatientVisit.VisitMarkedEnteredInError, previous_status=status),
        )
