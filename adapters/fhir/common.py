"""What the FHIR resources share: times, identifier systems, references and codings.

Identifier systems are URNs of ours (``urn:patient-services:…``), as the audit export's are.
A system built from a value (a visit number's assigning authority, a unit naming its beds)
carries it percent-encoded, so it stays a URI (``uri`` allows no whitespace) and the value
can be read back exactly (:func:`authority_of_system`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote
from uuid import UUID

FHIR_JSON = "application/fhir+json"

PATIENT_REF_SYSTEM = "urn:patient-services:patient-ref"
VISIT_NUMBER_SYSTEM = "urn:patient-services:visit-number"
SERVICE_UNIT_SYSTEM = "urn:patient-services:service-unit"
UNIT_SYSTEM = "urn:patient-services:unit"
REASON_SYSTEM = "urn:patient-services:reason"
#: RFC 3986 URIs as identifiers: our ids as ``urn:uuid:<id>``.
URI_SYSTEM = "urn:ietf:rfc:3986"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISCHARGE_DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
#: Our own disposition codes, for the one the FHIR code system lacks.
LOCAL_DISPOSITION_SYSTEM = "urn:patient-services:discharge-disposition"
PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"

#: v3 ActCode displays of our visit classes (domain.visits.vocabulary.VISIT_CLASSES).
CLASS_DISPLAYS = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "IMP": "inpatient encounter",
    "OBSENC": "observation encounter",
    "VR": "virtual",
}
#: Our dispositions are the FHIR discharge-disposition codes, but for ``lbtc`` (left before
#: treatment was completed), which it lacks: that one is sent as FHIR ``oth`` plus our code.
DISPOSITION_DISPLAYS = {
    "home": "Home",
    "other-hcf": "Other healthcare facility",
    "snf": "Skilled nursing facility",
    "rehab": "Rehabilitation",
    "hosp": "Hospice",
    "aadvice": "Left against advice",
    "exp": "Expired",
    "oth": "Other",
}
LOCAL_DISPOSITIONS = {"lbtc": "Left before treatment was completed"}


# ---- times ------------------------------------------------------------------------------
def instant(moment: datetime) -> str:
    """A FHIR ``instant``/``dateTime`` in UTC (``…Z``); fractional seconds when there are."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def period(start: datetime | None, end: datetime | None) -> dict[str, str] | None:
    """A ``Period``, or None when neither end is known. Never ends before it starts (per-1):
    an end recorded earlier than the start (a back-dated entry) is shown as the start."""
    if start is None and end is None:
        return None
    shown: dict[str, str] = {}
    if start is not None:
        shown["start"] = instant(start)
    if end is not None:
        shown["end"] = instant(end if start is None else max(start, end))
    return shown


# ---- identifiers and references ---------------------------------------------------------
def visit_number_system(authority: str | None) -> str:
    """The system of visit numbers under this assigning authority (HL7 v2 PV1-19.4)."""
    if authority is None:
        return VISIT_NUMBER_SYSTEM
    return f"{VISIT_NUMBER_SYSTEM}:{quote(authority, safe='')}"


def authority_of_system(system: str) -> tuple[bool, str | None]:
    """``(True, authority)`` if ``system`` is one :func:`visit_number_system` builds (the
    authority None for visit numbers without one), else ``(False, None)``."""
    if system == VISIT_NUMBER_SYSTEM:
        return True, None
    prefix = VISIT_NUMBER_SYSTEM + ":"
    if system.startswith(prefix) and len(system) > len(prefix):
        return True, unquote(system[len(prefix) :])
    return False, None


def uuid_identifier(resource_id: UUID) -> dict[str, str]:
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{resource_id}"}


def visit_identifiers(visit: Any) -> list[dict[str, str]]:
    """The visit number (when the visit has one) and our id."""
    identifiers = []
    number = getattr(visit, "visit_number", None)
    if number is not None:
        authority = getattr(visit, "visit_number_authority", None)
        identifiers.append(
            {"use": "official", "system": visit_number_system(authority), "value": number}
        )
    identifiers.append(uuid_identifier(visit.id))
    return identifiers


def patient_reference(patient_ref: str) -> dict[str, Any]:
    """The patient as a logical reference: the opaque patientRef, and nothing else of them."""
    return {"type": "Patient", "identifier": {"system": PATIENT_REF_SYSTEM, "value": patient_ref}}


def service_provider(unit: str) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": SERVICE_UNIT_SYSTEM, "value": unit},
        "display": unit,
    }


def bed_system(unit: str) -> str:
    """The system of the bed codes of one unit (a bed's code is unique in its unit only)."""
    return f"{UNIT_SYSTEM}:{quote(unit, safe='')}:bed"


def location_reference(unit: str, bed: str | None) -> dict[str, Any]:
    """The unit, or the bed in it: a bed's identifier is scoped by its unit (its system)."""
    if bed is None:
        return {"type": "Location", "identifier": {"system": UNIT_SYSTEM, "value": unit},
                "display": unit}  # fmt: skip
    return {"type": "Location", "identifier": {"system": bed_system(unit), "value": bed},
            "display": f"{unit}, bed {bed}"}  # fmt: skip


def meta(visit: Any) -> dict[str, str]:
    """``versionId`` is the visit's version (what vread and ``ETag`` name); ``lastUpdated``
    when its latest event was recorded."""
    return {"versionId": str(visit.version), "lastUpdated": instant(visit.modified_on)}


# ---- codings ----------------------------------------------------------------------------
def class_coding(visit_class: str) -> dict[str, str]:
    coding = {"system": ACT_CODE_SYSTEM, "code": visit_class}
    if visit_class in CLASS_DISPLAYS:
        coding["display"] = CLASS_DISPLAYS[visit_class]
    return coding


def disposition_concept(disposition: str) -> dict[str, Any]:
    if disposition in DISPOSITION_DISPLAYS:
        return {"coding": [{"system": DISCHARGE_DISPOSITION_SYSTEM, "code": disposition,
                            "display": DISPOSITION_DISPLAYS[disposition]}]}  # fmt: skip
    display = LOCAL_DISPOSITIONS.get(disposition, disposition)
    return {
        "coding": [
            {"system": DISCHARGE_DISPOSITION_SYSTEM, "code": "oth", "display": "Other"},
            {"system": LOCAL_DISPOSITION_SYSTEM, "code": disposition, "display": display},
        ],
        "text": display,
    }


def reason_concept(reason_code: str) -> dict[str, Any]:
    return {"coding": [{"system": REASON_SYSTEM, "code": reason_code}]}


def bed_form() -> dict[str, Any]:
    return {"coding": [{"system": PHYSICAL_TYPE_SYSTEM, "code": "bd", "display": "Bed"}]}
