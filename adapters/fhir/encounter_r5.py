"""A visit as a FHIR R5 Encounter (5.0.0).

``status`` is the domain's :data:`~domain.visits.vocabulary.FHIR_STATUS`, and
``subjectStatus`` says where the patient is (arrived, triaged, receiving care, on leave,
departed: what R4 said in the status). ``class`` is a list of CodeableConcept;
``actualPeriod`` runs from arrival to departure, ``plannedStartDate``/``plannedEndDate`` are
a scheduled visit's booking; ``admission`` replaces R4's ``hospitalization``; each location
period is a ``location`` with ``form`` bed when the patient had one. R5 has no
``statusHistory``: R5 keeps it in EncounterHistory resources
(:mod:`adapters.fhir.encounter_history`); each version of this resource is also there to
read (``meta.versionId``; ``Encounter/{id}/_history/{vid}``), and the visit's timeline
(``GET /api/v1/visits/{id}/timeline``) says which facts were corrected.
"""

from __future__ import annotations

from typing import Any

from adapters.fhir import common
from adapters.fhir.encounter_r4 import departure, discharge_details, location_entry
from adapters.fhir.statuses import ENCOUNTER_R5, SUBJECT_STATUS_R5, SUBJECT_STATUS_SYSTEM
from domain.visits.locations import LocationPeriod
from domain.visits.visit import PatientVisit


def encounter_r5(visit: PatientVisit) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(visit.id),
        "meta": common.meta(visit),
        "identifier": common.visit_identifiers(visit),
        "status": ENCOUNTER_R5[visit.status],
        "class": [{"coding": [common.class_coding(visit.visit_class)]}],
        "subject": common.patient_reference(visit.patient_ref),
        "serviceProvider": common.service_provider(visit.service_unit),
    }
    subject_status = SUBJECT_STATUS_R5[visit.status]
    if subject_status is not None:
        code, display = subject_status
        resource["subjectStatus"] = {
            "coding": [{"system": SUBJECT_STATUS_SYSTEM, "code": code, "display": display}]
        }
    if not visit.walk_in:
        resource["appointment"] = [{"reference": f"Appointment/{visit.id}"}]
    if visit.reason_code is not None:
        resource["reason"] = [{"value": [{"concept": common.reason_concept(visit.reason_code)}]}]
    actual = common.period(visit.arrival_at, departure(visit)) if visit.arrival_at else None
    if actual is not None:
        resource["actualPeriod"] = actual
    if visit.scheduled_start is not None:
        resource["plannedStartDate"] = common.instant(visit.scheduled_start)
    if visit.scheduled_end is not None:
        resource["plannedEndDate"] = common.instant(visit.scheduled_end)
    admission = discharge_details(visit)
    if admission:
        resource["admission"] = admission
    if visit.location_periods:
        resource["location"] = [_location(held) for held in visit.location_periods]
    return resource


def _location(held: LocationPeriod) -> dict[str, Any]:
    shown = location_entry(held)
    if held["bed"] is not None:
        shown["form"] = common.bed_form()
    return shown
