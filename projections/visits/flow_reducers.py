"""The flow read model's reducer: one function per PatientVisit event class, each mirroring
that class's ``apply`` for the fields :class:`~projections.visits.flow_state.VisitState` holds.

A property test (``tests/unit/test_flow_reducer.py``) holds the reducer equal to the domain
over random command sequences; ``tests/unit/test_projection_coverage.py`` holds
:data:`REDUCERS` equal to the fold's declared ``HANDLED`` names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    DISCHARGED,
    ENTERED_IN_ERROR,
    INPATIENT_CLASS,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    WITH_CLINICIAN,
)
from projections.shared.records import key_text, key_text_or_none
from projections.visits.flow_events import FlowEvent, canonical_uuid, micros, micros_of, plain
from projections.visits.flow_state import VisitState

#: How one event changes the state: (state, event, its occurred_at in µs).
Reducer = Callable[[VisitState, FlowEvent, int], None]


def _initialise(state: VisitState, event: FlowEvent) -> None:
    # The patient and the visit number are indexed (the visit search): clipped if too long.
    state.patient_ref = key_text(event.patient_ref)
    state.visit_number = key_text_or_none(event.visit_number)
    state.visit_number_authority = event.visit_number_authority
    state.visit_class = event.visit_class
    state.service_unit = event.service_unit


def _scheduled(state: VisitState, event: FlowEvent, at: int) -> None:
    _initialise(state, event)
    state.status = SCHEDULED
    state.scheduled_start = micros(event.scheduled_start)
    state.scheduled_end = micros(event.scheduled_end)


def _walk_in(state: VisitState, event: FlowEvent, at: int) -> None:
    _initialise(state, event)
    state.walk_in = True
    _arrived(state, event, at)


def _rescheduled(state: VisitState, event: FlowEvent, at: int) -> None:
    state.scheduled_start = micros(event.scheduled_start)
    state.scheduled_end = micros(event.scheduled_end)


def _cancelled(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = CANCELLED
    state.cancelled_at = at
    state.late_cancellation = event.late_cancellation


def _no_show(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = NO_SHOW
    state.no_show_at = at


def _arrived(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ARRIVED
    state.arrival_at = at
    state.open_location(state.service_unit, None, at)


def _triaged(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = TRIAGED
    state.triage_at = at
    state.acuity_scale = event.acuity_scale
    state.acuity_level = event.acuity_level


def _contact(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = WITH_CLINICIAN
    if event.first_contact:
        state.provider_seen_at = at


def _decided(state: VisitState, event: FlowEvent, at: int) -> None:
    state.decision_to_admit_at = at
    state.target_unit = event.target_unit


def _admitted(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ADMITTED
    state.admitted_at = at
    state.visit_class = INPATIENT_CLASS
    state.open_location(event.unit, event.bed, at)


def _transferred(state: VisitState, event: FlowEvent, at: int) -> None:
    state.open_location(event.to_unit, event.to_bed, at)


def _leave_started(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ON_LEAVE  # the location period stays open: the bed is kept


def _leave_ended(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ADMITTED


def _left(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = LEFT_WITHOUT_BEING_SEEN
    state.left_at = at
    state.close_location(at)


def _discharged(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = DISCHARGED
    state.discharged_at = at
    state.disposition = event.disposition
    state.close_location(at)


def _closed(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = CLOSED


def _entered_in_error(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ENTERED_IN_ERROR
    state.close_location(at)  # an erroneous visit holds no bed
    state.locations_revision += 1  # and leaves the census


#: The correctable details the rows show, and how a correction's "after" becomes a value.
_CORRECTED: dict[str, Callable[[Any], Any]] = {
    "visit_class": lambda value: value,
    "service_unit": lambda value: value,
    "scheduled_end": lambda value: None if value is None else micros_of(value),
}


def _details_corrected(state: VisitState, event: FlowEvent, at: int) -> None:
    for name, change in event.changes.items():
        convert = _CORRECTED.get(name)
        if convert is not None:
            setattr(state, name, convert(plain(change["after"])))


def _compensated(state: VisitState, event: FlowEvent, at: int) -> None:
    assert event.corrects_event_id is not None
    before, version = state.facts[canonical_uuid(event.corrects_event_id)]
    state.restore(before)
    state.cancelled_version = version


_V = PatientVisit
#: Event class → (its reducer, whether a compensation may cancel it: then the state before
#: it is kept).
REDUCERS: dict[type, tuple[Reducer, bool]] = {
    _V.VisitScheduled: (_scheduled, False),
    _V.WalkInRegistered: (_walk_in, False),
    _V.VisitRescheduled: (_rescheduled, False),
    _V.VisitCancelled: (_cancelled, False),
    _V.VisitMarkedNoShow: (_no_show, True),
    _V.PatientArrived: (_arrived, False),
    _V.PatientTriaged: (_triaged, False),
    _V.ClinicianContactStarted: (_contact, False),
    _V.AdmissionDecided: (_decided, False),
    _V.PatientAdmitted: (_admitted, True),
    _V.PatientTransferred: (_transferred, True),
    _V.LeaveOfAbsenceStarted: (_leave_started, False),
    _V.LeaveOfAbsenceEnded: (_leave_ended, False),
    _V.PatientLeftWithoutBeingSeen: (_left, True),
    _V.PatientDischarged: (_discharged, True),
    _V.VisitClosed: (_closed, False),
    _V.VisitMarkedEnteredInError: (_entered_in_error, False),
    _V.VisitDetailsCorrected: (_details_corrected, False),
    _V.AdmissionCancelled: (_compensated, False),
    _V.TransferCancelled: (_compensated, False),
    _V.DischargeCancelled: (_compensated, False),
    _V.LeftWithoutBeingSeenCancelled: (_compensated, False),
    _V.NoShowReverted: (_compensated, False),
}
