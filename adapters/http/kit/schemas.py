"""Response bodies of the HTTP API (request bodies are the application's command Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import FHIR_STATUS
from projections.visits.flow_views import Location


class CommandAccepted(msgspec.Struct, frozen=True):
    """The reply to every command on an aggregate; also sent in an ``ETag: "<version>"``."""

    id: UUID
    version: int
    #: The event's position in the global log: pass it as ``minPosition`` to read models.
    position: int


class VisitState(msgspec.Struct, frozen=True, rename="camel"):
    """A visit as it stands (or stood, for ``asOf``/``asOfVersion``). Times are UTC."""

    id: UUID
    version: int
    status: str
    fhir_status: str
    patient_ref: str
    visit_class: str
    service_unit: str
    walk_in: bool
    reason_code: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    arrival_at: datetime | None
    arrival_mode: str | None
    triage_at: datetime | None
    acuity_scale: str | None
    acuity_level: int | None
    provider_seen_at: datetime | None
    clinician_ref: str | None
    decision_to_admit_at: datetime | None
    target_unit: str | None
    admitted_at: datetime | None
    current_location: Location | None
    leave_started_at: datetime | None
    expected_return: datetime | None
    discharged_at: datetime | None
    disposition: str | None
    destination: str | None
    deceased_at: datetime | None
    left_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    late_cancellation: bool
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


class HealthStatus(msgspec.Struct, frozen=True):
    status: Literal["ok"] = "ok"


class ReadModelLag(msgspec.Struct, frozen=True, rename="camel"):
    """How far one read model has read the log, and how stale it may be."""

    name: str
    #: The generation readers use (a rebuild fills the next one, then switches).
    generation: int
    #: The last log position it has processed.
    position: int
    #: Events in the log after ``position``.
    lag_events: int
    #: Seconds since it last had nothing newer to read (0 when caught up).
    lag_seconds: float
    rebuilding_generation: int | None = None
    rebuilding_position: int | None = None
    #: ``degraded`` while records are parked: records it could not apply, kept aside with
    #: their error so the worker moves on; a rebuild after the fix applies them.
    #: ``rebuilding`` while the serving generation was built by an older release: it is
    #: rebuilt automatically (queries it cannot answer are 503 PROJECTION_REBUILDING).
    state: Literal["ok", "degraded", "rebuilding"] = "ok"
    #: How many records are parked, and the first of them by position.
    parked: int = 0
    parked_positions: list[int] = msgspec.field(default_factory=list)


class ReadyStatus(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    status: Literal["ready"]
    #: The newest position in the global event log (0 when it is empty).
    position: int
    #: Each read model's position and lag (absent when this process has no read models).
    read_models: list[ReadModelLag] | None = None
