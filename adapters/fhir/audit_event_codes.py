"""The code systems and codes the audit export's AuditEvents use (IHE BALP, DICOM, HL7).

Standard codes come first wherever one says what happened; our own codes
(``urn:patient-services:…``) are added beside them, never instead of them, so a tool that
knows only the standard vocabularies still reads every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def as_json(self) -> dict[str, str]:
        """The FHIR Coding. The same dict each time for the same coding (an export writes a
        few dozen codings hundreds of thousands of times): never change what it returns."""
        return _coding_json(self)

    def as_concept(self) -> dict[str, Any]:
        """A CodeableConcept of this one coding (the same dict each time, as above)."""
        return _concept_json(self)


@lru_cache(maxsize=4096)
def _coding_json(coding: Coding) -> dict[str, str]:
    shown = {"system": coding.system, "code": coding.code}
    if coding.display is not None:
        shown["display"] = coding.display
    return shown


@lru_cache(maxsize=4096)
def _concept_json(coding: Coding) -> dict[str, Any]:
    return {"coding": [_coding_json(coding)]}


DICOM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_EVENT_OUTCOME = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
#: HL7 v3 PurposeOfUse codes (TREAT, HOPERAT, …) are in the v3 ActReason code system.
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: BALP's own entity types: the request's id (``X-Request-Id``, our correlation id).
BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

#: Our own systems: the trail's action values, roles, users, error codes, entry details.
ACTION_SYSTEM = "urn:patient-services:action"
ROLE_SYSTEM = "urn:patient-services:role"
USER_SYSTEM = "urn:patient-services:user"
SOURCE_SYSTEM_SYSTEM = "urn:patient-services:source-system"
SERVICE_SYSTEM = "urn:patient-services:service"
ERROR_CODE_SYSTEM = "urn:patient-services:error-code"
DETAIL_SYSTEM = "urn:patient-services:audit-detail"
CORRELATION_SYSTEM = "urn:patient-services:correlation-id"
RECORD_SYSTEM = "urn:patient-services:record"
#: This service, as the server agent and the audit source.
SERVICE_NAME = "patient-services"

# ---- what happened (R4 ``type``, R5 ``category``) -------------------------------------------
REST = Coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation")
PATIENT_RECORD = Coding(DICOM, "110110", "Patient Record")
QUERY = Coding(DICOM, "110112", "Query")
EXPORT = Coding(DICOM, "110106", "Export")
SECURITY_ALERT = Coding(DICOM, "110113", "Security Alert")


_INTERACTION_DISPLAYS = {"search-type": "search type"}


def interaction(code: str) -> Coding:
    """An HL7 restful-interaction code (``read``, ``search-type``, ``create``, ``update``…)."""
    return Coding(RESTFUL_INTERACTION, code, _INTERACTION_DISPLAYS.get(code, code))


# ---- outcomes -------------------------------------------------------------------------------
SUCCESS = "0"
MINOR_FAILURE = "4"
SERIOUS_FAILURE = "8"
OUTCOME_DISPLAYS = {SUCCESS: "Success", MINOR_FAILURE: "Minor failure",
                    SERIOUS_FAILURE: "Serious failure"}  # fmt: skip

# ---- agents ---------------------------------------------------------------------------------
#: BALP's user-agent types: the information recipient for reads, queries and exports…
RECIPIENT = Coding(PARTICIPATION_TYPE, "IRCP", "information recipient")
#: … the author for what creates or changes a record.
AUTHOR = Coding(PARTICIPATION_TYPE, "AUT", "author")
#: The person on whose behalf the user acted (``X-On-Behalf-Of``).
DELEGATOR = Coding(ROLE_CODE, "DELEGATOR", "delegator")
#: DICOM's roles of the two ends of a transfer: the client (a feed's sending system) is the
#: source and the server the destination, as BALP says, whichever way the data flows.
SOURCE_ROLE = Coding(DICOM, "110153", "Source Role ID")
DESTINATION_ROLE = Coding(DICOM, "110152", "Destination Role ID")
APPLICATION_SERVER = Coding(SOURCE_TYPE, "4", "Application Server")

# ---- entities -------------------------------------------------------------------------------
PERSON = Coding(ENTITY_TYPE, "1", "Person")
SYSTEM_OBJECT = Coding(ENTITY_TYPE, "2", "System Object")
PATIENT_ROLE = Coding(OBJECT_ROLE, "1", "Patient")
DOMAIN_RESOURCE_ROLE = Coding(OBJECT_ROLE, "4", "Domain Resource")
QUERY_ROLE = Coding(OBJECT_ROLE, "24", "Query")
REQUEST_ID = Coding(BALP_ENTITY_TYPE, "XrequestId", "X-Request-Id")


def fhir_code(value: str | None) -> str | None:
    """``value`` as a FHIR ``code`` (no leading, trailing or repeated whitespace), or None
    when nothing is left. Our own values are codes already; a token's role, or a value in a
    record written by hand, need not be."""
    if not value:
        return None
    return " ".join(value.split()) or None


def action_coding(action: str, kind: str) -> Coding:
    """The trail's own action value (``PatientArrived``, ``DischargePatient``, ``read
    visit``) as a code of ours; its display says what kind of entry it is."""
    return Coding(ACTION_SYSTEM, fhir_code(action) or "unknown", kind)
