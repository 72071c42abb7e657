"""The facility's capacity as FHIR: a unit as a Location, a clinic schedule as a Schedule and
each of its slots as a Slot, in R4 (4.0.1) and R5 (5.0.0) shapes.

- **Location** (a unit): its id is the unit's; ``identifier`` its code (the system the
  Encounter's ``location`` references use, so an engine can match them); ``status``
  ``active``, or ``suspended`` while the unit is closed; ``type`` from the HL7 v3 RoleCode
  service delivery locations (ED ``ER``, ward ``HU``, clinic ``OF``; a theatre by text, as
  RoleCode has no operating theatre of its own); a ward's form ``wa`` (R4 ``physicalType``).
- **Location** (a bed): id ``<unit id>.<16 hex digits of the bed code's SHA-256>``, so a read
  finds it in its unit's events; ``partOf`` the unit; ``identifier`` the bed code in the
  system the Encounter's bed references use; form ``bd``; a closed bed (or any bed of a
  closed unit) ``suspended`` with ``operationalStatus`` ``C`` (HL7 v2 table 0116). Whether it
  is occupied is the bed board's (``/api/v1/flow/beds``), not the configuration's.
- **Schedule**: its id is the schedule's; ``actor`` the unit's Location (by id, and by its
  code, which is all a schedule of a unit nobody has configured can give) and the
  clinician (a Practitioner by identifier, the opaque ``clinicianRef``); ``serviceType`` the
  service code (R5 wraps it in a CodeableReference); ``planningHorizon`` from the first
  session's start to the last session's end.
- **Slot**: its id is the schedule's id and the slot's start in UTC
  (``<schedule>.<YYYYMMDDTHHMMSSZ>``), so a read finds it without a lookup; ``status`` ``free``
  while it has a place within its capacity, ``busy`` when full, ``busy-unavailable`` when its
  session is cancelled; ``overbooked`` when its claims exceed the capacity. One Slot per
  time, whatever its capacity: FHIR has no element for the places left, so ``comment``
  says it in words.

Only configuration and counts: no patient appears in any of them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from adapters.fhir import common
from application.shared.commands import EARLIEST, LATEST
from domain.capacity.identity import unit_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.unit import FacilityUnit

ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SERVICE_SYSTEM = "urn:patient-services:service"
CLINICIAN_SYSTEM = "urn:patient-services:clinician-ref"
#: A unit's kind → its RoleCode (code, display), or None: shown as text only.
UNIT_TYPES: dict[str, tuple[str, str] | None] = {
    "ed": ("ER", "Emergency room"),
    "ward": ("HU", "Hospital unit"),
    "clinic": ("OF", "Outpatient facility"),
    "theatre": None,
}
UNIT_TEXT = {"ed": "Emergency department", "ward": "Ward", "clinic": "Clinic",
             "theatre": "Operating theatre"}  # fmt: skip
_SLOT_TIME = "%Y%m%dT%H%M%SZ"
BED_TYPE_SYSTEM = "urn:patient-services:bed-type"
BED_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0116"
_BED_DIGEST = re.compile(r"^[0-9a-f]{16}$")


def bed_digest(bed: str) -> str:
    return hashlib.sha256(bed.encode()).hexdigest()[:16]


def bed_id(unit_id: UUID, bed: str) -> str:
    return f"{unit_id}.{bed_digest(bed)}"


def parse_location_id(raw: str) -> tuple[UUID, str | None] | None:
    """The unit a Location id names, and the bed digest when it names one of its beds; None
    for an id this server never gave."""
    unit, dot, digest = raw.partition(".")
    if dot and not _BED_DIGEST.match(digest):
        return None
    try:
        return UUID(unit), digest or None
    except ValueError:
        return None


def beds_by_digest(unit: FacilityUnit) -> dict[str, dict[str, Any]]:
    """The unit's beds by the digest their Location ids end in."""
    return {bed_digest(b["bed"]): b for b in unit.beds}


def slot_id(schedule_id: UUID, start: datetime) -> str:
    return f"{schedule_id}.{start.astimezone(timezone.utc).strftime(_SLOT_TIME)}"


def parse_slot_id(raw: str) -> tuple[UUID, datetime] | None:
    """The schedule and start a Slot id names, or None for an id this server never gave."""
    schedule, dot, moment = raw.partition(".")
    if not dot:
        return None
    try:
        start = datetime.strptime(moment, _SLOT_TIME).replace(tzinfo=timezone.utc)
        if not EARLIEST <= start < LATEST:
            return None  # no schedule holds such a time (and its arithmetic would overflow)
        return UUID(schedule), start
    except ValueError:
        return None


def location(unit: FacilityUnit, *, r5: bool) -> dict[str, Any]:
    kind = UNIT_TYPES[unit.kind]
    concept: dict[str, Any] = {"text": UNIT_TEXT[unit.kind]}
    if kind is not None:
        code, display = kind
        concept["coding"] = [{"system": ROLE_CODE_SYSTEM, "code": code, "display": display}]
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(unit.id),
        "meta": common.meta(unit),
        "identifier": [{"system": common.UNIT_SYSTEM, "value": unit.code}],
        "status": "active" if unit.open else "suspended",
        "name": unit.name,
        "mode": "instance",
        "type": [concept],
    }
    if unit.kind == "ward":
        ward = {"coding": [{"system": common.PHYSICAL_TYPE_SYSTEM, "code": "wa",
                            "display": "Ward"}]}  # fmt: skip
        resource["form" if r5 else "physicalType"] = ward
    return resource


def bed_location(unit: FacilityUnit, bed: dict[str, Any], *, r5: bool) -> dict[str, Any]:
    closed = bed["closed"] or not unit.open
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": bed_id(unit.id, bed["bed"]),
        "meta": common.meta(unit),
        "identifier": [{"system": common.bed_system(unit.code), "value": bed["bed"]}],
        "status": "suspended" if closed else "active",
        "name": f"{unit.name}, bed {bed['bed']}",
        "mode": "instance",
        "partOf": {"reference": f"Location/{unit.id}", "display": unit.name},
        "form" if r5 else "physicalType": common.bed_form(),
    }
    if closed:
        resource["operationalStatus"] = {
            "system": BED_STATUS_SYSTEM, "code": "C", "display": "Closed"
        }  # fmt: skip
    if bed["type"] is not None:
        resource["type"] = [{"coding": [{"system": BED_TYPE_SYSTEM, "code": bed["type"]}]}]
    return resource


def schedule(found: ClinicSchedule, *, r5: bool, unit_configured: bool) -> dict[str, Any]:
    """``unit_configured``: the schedule's unit is a Location here (else only its code)."""
    unit: dict[str, Any] = {
        "identifier": {"system": common.UNIT_SYSTEM, "value": found.service_unit},
        "display": found.service_unit,
    }
    if unit_configured:
        unit = {"reference": f"Location/{unit_id_for(found.service_unit)}", **unit}
    else:
        unit = {"type": "Location", **unit}
    actors: list[dict[str, Any]] = [unit]
    if found.clinician_ref is not None:
        actors.append({
            "type": "Practitioner",
            "identifier": {"system": CLINICIAN_SYSTEM, "value": found.clinician_ref},
        })  # fmt: skip
    rec = found.recurrence
    _, last_end = rec.session_on(rec.last_day)
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": str(found.id),
        "meta": common.meta(found),
        "identifier": [common.uuid_identifier(found.id)],
        "active": True,
        "actor": actors,
        "planningHorizon": {"start": common.instant(rec.start), "end": common.instant(last_end)},
    }
    if found.service is not None:
        resource["serviceType"] = [_service(found.service, r5=r5)]
    return resource


def slot(
    found: ClinicSchedule, start: datetime, end: datetime, claims: int, *, cancelled: bool,
    r5: bool,
) -> dict[str, Any]:  # fmt: skip
    capacity = found.capacity_per_slot
    if cancelled:
        status = "busy-unavailable"
    else:
        status = "free" if claims < capacity else "busy"
    free = max(capacity - claims, 0)
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot_id(found.id, start),
        "schedule": {"reference": f"Schedule/{found.id}"},
        "status": status,
        "start": common.instant(start),
        "end": common.instant(end),
        "comment": f"{free} of {capacity} places free"
        + ("; session cancelled" if cancelled else ""),
    }
    if claims > capacity:
        resource["overbooked"] = True
    if found.service is not None:
        resource["serviceType"] = [_service(found.service, r5=r5)]
    return resource


def _service(code: str, *, r5: bool) -> dict[str, Any]:
    concept = {"coding": [{"system": SERVICE_SYSTEM, "code": code}]}
    return {"concept": concept} if r5 else concept
