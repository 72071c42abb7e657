"""The CapabilityStatement each FHIR base answers ``GET metadata`` with: what this server
actually does, for one FHIR version (R4 4.0.1 or R5 5.0.0), JSON only."""

from __future__ import annotations

from typing import Any, Literal

FhirVersion = Literal["4.0.1", "5.0.0"]
#: When the statement last changed (CapabilityStatement.date): bump it with the statement.
CAPABILITY_DATE = "2026-12-07"

SEARCH_PARAMS = [
    {
        "name": "identifier",
        "type": "token",
        "documentation": "The visit number (HL7 v2 PV1-19) as `system|value` or `value` "
        "(system urn:patient-services:visit-number[:<assigning authority, percent-encoded>]), "
        "or our id as `urn:ietf:rfc:3986|urn:uuid:<id>`.",
    },
    {
        "name": "patient",
        "type": "reference",
        "documentation": "The patient's opaque patientRef, as a plain value (the "
        "identifier the Encounter's subject carries, system urn:patient-services:patient-ref).",
    },
    {
        "name": "status",
        "type": "token",
        "documentation": "Encounter.status codes of this FHIR version, comma-separated for any "
        "of them. Needs identifier or patient too.",
    },
]


def capability_statement(
    fhir_version: FhirVersion, *, base_url: str, software_version: str,
    encounter_history: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """``encounter_history``: the base serves EncounterHistory (R5's status history)."""
    versioned = {"versioning": "versioned", "readHistory": True, "conditionalRead": "not-match"}
    resources: list[dict[str, Any]] = [
        {
            "type": "Encounter",
            **versioned,
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "searchParam": SEARCH_PARAMS,
        },
        {
            "type": "Appointment",
            **versioned,
            "documentation": "Only visits that were booked have one (a walk-in has none); "
            "its id is the Encounter's.",
            "interaction": [{"code": "read"}, {"code": "vread"}],
        },
    ]
    resources += [
        {
            "type": "Location",
            **versioned,
            "documentation": "The facility's units (ward, ED, clinic, theatre) and their "
            "beds (partOf the unit): status suspended while closed.",
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "identifier", "type": "token",
                 "documentation": "A unit's code (system urn:patient-services:unit)."},
                {"name": "partof", "type": "reference", "documentation": "A unit: its beds."},
            ],
        },
        {
            "type": "Schedule",
            **versioned,
            "documentation": "Clinic schedules: recurring sessions of a unit, service and "
            "clinician.",
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "searchParam": [{"name": "actor", "type": "reference",
                             "documentation": "The unit's Location."}],
        },
        {
            "type": "Slot",
            "versioning": "no-version",
            "documentation": "A schedule's slots, one per time whatever its capacity: free "
            "while a place is left, busy when full, busy-unavailable in a cancelled session. "
            "Book one with POST /api/v1/visits (scheduleId, scheduledStart).",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "schedule", "type": "reference", "documentation": "Required."},
                {"name": "start", "type": "date",
                 "documentation": "ge/gt and lt/le bounds; at most 92 days."},
                {"name": "status", "type": "token", "documentation": "free or busy."},
            ],
        },
    ]  # fmt: skip
    if encounter_history:
        resources.append({
            "type": "EncounterHistory",
            "documentation": "A visit's status history: one per stretch in one status, "
            "subject status and class, oldest first.",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": "encounter", "type": "reference",
                             "documentation": "The Encounter's id, or Encounter/<id>."}],
        })  # fmt: skip
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "patient-services",
        "kind": "instance",
        "software": {"name": "patient-services", "version": software_version},
        "implementation": {
            "description": "Patient services: visits as FHIR Encounter and Appointment; units, "
            "clinic schedules and slots as Location, Schedule and Slot",
            "url": base_url,
        },
        "fhirVersion": fhir_version,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": False,
                "description": "Every read needs `Authorization: Bearer <JWT>` (HS256; claims "
                "sub, roles, exp) with a role that may read visits: clerk, nurse, clinician, "
                "manager or auditor. This statement is public.",
            },
            "resource": resources,
        }],
    }  # fmt: skip
