"""The Visits resource: ``POST /api/v1/visits``, ``/walk-ins``, one ``POST`` per action of
:data:`application.visits.commands.VISIT_ACTIONS`, ``GET /api/v1/visits/{id}`` (now, as of
a version, or as of a time) and ``GET /api/v1/visits`` (the search, in
:mod:`adapters.http.visit_search`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from litestar import Router
from litestar.handlers import HTTPRouteHandler

from adapters.http.kit.aggregate_state import state_handler
from adapters.http.kit.commands import action_handler, untargeted_handler
from adapters.http.kit.resources import Resource
from adapters.http.visit_search import search_visits
from application.shared.access import READ_VISIT
from application.shared.permissions import VISIT_READERS
from application.visits.commands import VISIT_ACTIONS, RegisterWalkIn, ScheduleVisit
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import FHIR_STATUS
from projections.visits.flow_views import Location

VISITS = Resource(path="/api/v1/visits", noun="visit", name="visits")
_CREATED = "Visit created: its id, version and log position"


class VisitState(msgspec.Struct, frozen=True, rename="camel"):
    """A visit as it stands (or stood, for ``asOf``/``asOfVersion``). Times are UTC."""

    id: UUID
    version: int
    #: The visit's state: scheduled, arrived, triaged, with_clinician, admitted, on_leave,
    #: discharged, closed, cancelled, no_show, left_without_being_seen or entered_in_error.
    status: str
    #: The state as FHIR R5 Encounter.status (planned, in-progress, on-hold, discharged, completed,
    #: cancelled, discontinued or entered-in-error).
    fhir_status: str
    patient_ref: str
    #: HL7 v2 PV1-19 and its assigning authority (null when the visit has none).
    visit_number: str | None
    visit_number_authority: str | None
    visit_class: str
    service_unit: str
    #: Whether the visit began as a walk-in (registered on arrival, never scheduled).
    walk_in: bool
    #: The reason for the visit, as a code (null when none was given).
    reason_code: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    arrival_at: datetime | None
    #: How the patient arrived, as a code (null when not given or not yet arrived).
    arrival_mode: str | None
    #: When the patient was triaged (null until triage).
    triage_at: datetime | None
    #: The triage scale the acuity is on: ESI or MTS (null until triage).
    acuity_scale: str | None
    #: The triage acuity, 1 (most urgent) to 5 (null until triage).
    acuity_level: int | None
    #: When a clinician first saw the patient (null until then).
    provider_seen_at: datetime | None
    #: The clinician of the latest clinician contact (null until one).
    clinician_ref: str | None
    #: When the decision to admit was recorded: the boarding clock's start (null if none).
    decision_to_admit_at: datetime | None
    #: The unit the patient is to be admitted to, from the decision to admit (null if none).
    target_unit: str | None
    #: When the patient was admitted (null unless admitted).
    admitted_at: datetime | None
    #: The unit and bed the patient is in now (null when the visit holds no location).
    current_location: Location | None
    #: When the current or latest leave of absence started (null if none).
    leave_started_at: datetime | None
    #: When the patient on leave is expected back (null when not on leave or not given).
    expected_return: datetime | None
    #: When the patient was discharged (null unless discharged).
    discharged_at: datetime | None
    #: The discharge disposition: home, other-hcf, snf, rehab, hosp, aadvice, lbtc, exp or oth (null
    #: until discharge).
    disposition: str | None
    #: Where the patient went on discharge, as a code (null when not given).
    destination: str | None
    #: The time of death, for a discharge with disposition exp (null otherwise).
    deceased_at: datetime | None
    #: When the patient left without being seen (null otherwise).
    left_at: datetime | None
    #: When the visit was administratively closed (null until then).
    closed_at: datetime | None
    #: When the scheduled visit was cancelled (null unless cancelled).
    cancelled_at: datetime | None
    #: Whether the cancellation came within the facility's late-cancellation window before the
    #: start.
    late_cancellation: bool
    #: When the visit was marked a no-show (null otherwise).
    no_show_at: datetime | None

    @classmethod
    def of(cls, visit: PatientVisit) -> VisitState:
        location = visit.current_location
        return cls(
            id=visit.id,
            version=visit.version,
            status=visit.status,
            fhir_status=FHIR_STATUS[visit.status],
            patient_ref=visit.patient_ref,
            visit_number=visit.visit_number,
            visit_number_authority=visit.visit_number_authority,
            visit_class=visit.visit_class,
            service_unit=visit.service_unit,
            walk_in=visit.walk_in,
            reason_code=visit.reason_code,
            scheduled_start=visit.scheduled_start,
            scheduled_end=visit.scheduled_end,
            arrival_at=visit.arrival_at,
            arrival_mode=visit.arrival_mode,
            triage_at=visit.triage_at,
            acuity_scale=visit.acuity_scale,
            acuity_level=visit.acuity_level,
            provider_seen_at=visit.provider_seen_at,
            clinician_ref=visit.clinician_ref,
            decision_to_admit_at=visit.decision_to_admit_at,
            target_unit=visit.target_unit,
            admitted_at=visit.admitted_at,
            current_location=Location(location["unit"], location["bed"]) if location else None,
            leave_started_at=visit.leave_started_at,
            expected_return=visit.expected_return,
            discharged_at=visit.discharged_at,
            disposition=visit.disposition,
            destination=visit.destination,
            deceased_at=visit.deceased_at,
            left_at=visit.left_at,
            closed_at=visit.closed_at,
            cancelled_at=visit.cancelled_at,
            late_cancellation=bool(visit.late_cancellation),
            no_show_at=visit.no_show_at,
        )


get_visit = state_handler(
    VISITS, PatientVisit, VisitState, VISIT_READERS,
    operation_id="getVisit", summary="A visit now, as of a version, or as of a time",
    access=READ_VISIT,
)  # fmt: skip


def visits_router() -> Router:
    handlers: list[HTTPRouteHandler] = [
        untargeted_handler(VISITS, "/", ScheduleVisit, _CREATED),
        untargeted_handler(VISITS, "/walk-ins", RegisterWalkIn, _CREATED),
        *(action_handler(VISITS, action, command) for action, command in VISIT_ACTIONS.items()),
        get_visit,
        search_visits,
    ]
    return Router(path="/visits", route_handlers=handlers, tags=["Visits"])
