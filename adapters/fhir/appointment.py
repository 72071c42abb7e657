"""A scheduled visit's booking as a FHIR Appointment, R4 (4.0.1, validated against R4B) and
R5. A walk-in was never booked: it has no Appointment (None here, 404 over HTTP).

The Appointment has the visit's id, so ``Encounter.appointment`` is ``Appointment/{id}``.
``status`` per :data:`~adapters.fhir.statuses.APPOINTMENT`. The one participant is the
patient, as the same identifier reference as the Encounter's subject (R5 also names it in
``subject``). ``start``/``end`` are the booked slot; a booking made without an end has only
``start`` (FHIR's invariant app-2 asks for both or neither: we do not invent an end).
"""

from __future__ import annotations

from typing import Any

from adapters.fhir import common
from adapters.fhir.statuses import APPOINTMENT
from domain.visits import vocabulary as v
from domain.visits.visit import PatientVisit

#: Why a booking is cancelled when the patient came but left before being seen (the reason a
#: cancellation gives is free text, which may say anything about the patient: not shown).
LEFT_UNSEEN = {"text": "Left without being seen"}


def _common(visit: PatientVisit) -> dict[str, Any] | None:
    if visit.walk_in:
        return None
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(visit.id),
        "meta": common.meta(visit),
        "identifier": [common.uuid_identifier(visit.id)],
        "status": APPOINTMENT[visit.status],
        "created": common.instant(visit.created_on),
    }
    if visit.scheduled_start is not None:
        resource["start"] = common.instant(visit.scheduled_start)
    if visit.scheduled_end is not None:
        resource["end"] = common.instant(visit.scheduled_end)
    return resource


def appointment_r4(visit: PatientVisit) -> dict[str, Any] | None:
    resource = _common(visit)
    if resource is None:
        return None
    resource["participant"] = [{
        "actor": common.patient_reference(visit.patient_ref),
        "required": "required",
        "status": "accepted",
    }]  # fmt: skip
    if visit.reason_code is not None:
        resource["reasonCode"] = [common.reason_concept(visit.reason_code)]
    if visit.status == v.LEFT_WITHOUT_BEING_SEEN:
        resource["cancelationReason"] = LEFT_UNSEEN  # sic: one L in R4
    return resource


def appointment_r5(visit: PatientVisit) -> dict[str, Any] | None:
    resource = _common(visit)
    if resource is None:
        return None
    resource["class"] = [{"coding": [common.class_coding(visit.visit_class)]}]
    resource["subject"] = common.patient_reference(visit.patient_ref)
    resource["participant"] = [{
        "actor": common.patient_reference(visit.patient_ref),
        "required": True,
        "status": "accepted",
    }]  # fmt: skip
    if visit.reason_code is not None:
        resource["reason"] = [{"concept": common.reason_concept(visit.reason_code)}]
    if visit.status == v.LEFT_WITHOUT_BEING_SEEN:
        resource["cancellationReason"] = LEFT_UNSEEN
    cancelled_at = {v.CANCELLED: visit.cancelled_at, v.LEFT_WITHOUT_BEING_SEEN: visit.left_at}
    when = cancelled_at.get(visit.status)
    if when is not None:
        resource["cancellationDate"] = common.instant(when)
    return resource
