"""A visit as a FHIR R4 Encounter (4.0.1; validated against R4B, whose Encounter is the same).

``status`` per :data:`~adapters.fhir.statuses.ENCOUNTER_R4`; ``statusHistory`` and
``classHistory`` from the visit's events (:mod:`adapters.fhir.history`); ``period`` the
actual one (arrival to departure) once the patient has arrived, the planned one before (R4
has no separate planned period); ``hospitalization`` with the discharge disposition and
destination; one ``location`` per location period. There is no ``admitSource``: the service
does not record where an admission came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.fhir import common, history
from adapters.fhir.statuses import ENCOUNTER_R4
from domain.visits.locations import LocationPeriod
from domain.visits.visit import PatientVisit


def encounter_r4(visit: PatientVisit, events: Sequence[PatientVisit.Event]) -> dict[str, Any]:
    """The Encounter of ``visit``; ``events`` are the events that made it (for the history)."""
    spans = history.spans(events)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(visit.id),
        "meta": common.meta(visit),
        "identifier": common.visit_identifiers(visit),
        "status": ENCOUNTER_R4[visit.status],
        "statusHistory": [
            {"status": stretch.value, "period": common.period(stretch.start, stretch.end)}
            for stretch in history.stretches(spans, lambda span: ENCOUNTER_R4[span.state])
        ],
        "class": common.class_coding(visit.visit_class),
        "subject": common.patient_reference(visit.patient_ref),
        "serviceProvider": common.service_provider(visit.service_unit),
    }
    classes = history.stretches(spans, lambda span: span.visit_class)
    if len(classes) > 1:
        resource["classHistory"] = [
            {"class": common.class_coding(str(stretch.value)),
             "period": common.period(stretch.start, stretch.end)}
            for stretch in classes
        ]  # fmt: skip
    if not visit.walk_in:
        resource["appointment"] = [{"reference": f"Appointment/{visit.id}"}]
    if visit.reason_code is not None:
        resource["reasonCode"] = [common.reason_concept(visit.reason_code)]
    shown_period = encounter_period(visit)
    if shown_period is not None:
        resource["period"] = shown_period
    hospitalization = discharge_details(visit)
    if hospitalization:
        resource["hospitalization"] = hospitalization
    if visit.location_periods:
        resource["location"] = [location_entry(held) for held in visit.location_periods]
    return resource


def departure(visit: PatientVisit) -> datetime | None:
    """When the patient left: discharged, or left without being seen."""
    return visit.discharged_at or visit.left_at


def encounter_period(visit: PatientVisit) -> dict[str, str] | None:
    if visit.arrival_at is not None:
        return common.period(visit.arrival_at, departure(visit))
    return common.period(visit.scheduled_start, visit.scheduled_end)


def discharge_details(visit: PatientVisit) -> dict[str, Any]:
    """R4 ``hospitalization``, R5 ``admission``: where the patient went, and how."""
    shown: dict[str, Any] = {}
    if visit.destination is not None:
        shown["destination"] = {"type": "Location", "display": visit.destination}
    if visit.disposition is not None:
        shown["dischargeDisposition"] = common.disposition_concept(visit.disposition)
    return shown


def location_entry(held: LocationPeriod) -> dict[str, Any]:
    """One location period: the unit (or bed), ``active`` while it is open."""
    return {
        "location": common.location_reference(held["unit"], held["bed"]),
        "status": "active" if held["end"] is None else "completed",
        "period": common.period(held["start"], held["end"]),
    }
