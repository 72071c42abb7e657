"""The CapabilityStatement each FHIR base answers ``GET metadata`` with: what this server
actually does, for one FHIR version (R4 4.0.1 or R5 5.0.0), JSON only."""

from __future__ import annotations

from typing import Any, Literal

FhirVersion = Literal["4.0.1", "5.0.0"]
#: When the statement last changed (CapabilityStatement.date): bump it with the statement.
CAPABILITY_DATE = "2026-12-03"

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
            "description": "Patient services: visits as FHIR Encounter and Appointment",
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
