"""The few values of an ADT/SIU message the service keeps, read and checked.

Everything else is dropped unread: names, birth date, address, phone (PID-5/7/11/13), NK1,
GT1, IN1, OBX, DG1, AL1 and every Z-segment. Errors name the field, never its value (a value
may be personal data, and error texts end up in ACKs and logs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from adapters.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    Hl7Error,
)
from adapters.hl7.message import Hl7Message
from adapters.hl7.timestamps import parse_ts
from application.visits.values import Disposition, VisitClass

#: A reference or code as the service stores it (letters, digits and . _ : / space -).
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/ -]{0,63}")


class MessageRefused(Hl7Error):
    """Understood, but a value is missing or wrong: AE (CE), nothing recorded.
    ``error_code`` is our stable code (ERR-7); ``segment``/``field`` locate it."""

    def __init__(
        self, error_code: str, hl7_code: int, text: str, segment: str | None = None,
        field: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(hl7_code, text)
        self.error_code = error_code
        self.segment = segment
        self.field = field


def missing(segment: str, field: int, what: str) -> MessageRefused:
    return MessageRefused(
        "REQUIRED_FIELD_MISSING", REQUIRED_FIELD_MISSING, f"{segment}-{field} ({what}) is required",
        segment, field,
    )  # fmt: skip


def ref(message: Hl7Message, segment: str, field: int, component: int = 1) -> str | None:
    """A coded value or identifier the service may store, or None when absent."""
    value = message.value(segment, field, component)
    if value is None:
        return None
    value = value.strip()
    if not _REF.fullmatch(value):
        where = f"{segment}-{field}" + (f".{component}" if component > 1 else "")
        raise MessageRefused(
            "INVALID_VALUE", DATA_TYPE_ERROR,
            f"{where} must be up to 64 letters, digits and . _ : / - (a code, not free text)",
            segment, field,
        )  # fmt: skip
    return value


def required_ref(
    message: Hl7Message, segment: str, field: int, what: str, component: int = 1
) -> str:
    value = ref(message, segment, field, component)
    if value is None:
        raise missing(segment, field, what)
    return value


def instant(message: Hl7Message, segment: str, field: int, zone: tzinfo) -> datetime | None:
    """A TS/DTM field as an aware instant (wall-clock values in the facility's zone)."""
    value = message.value(segment, field)
    if value is None:
        return None
    try:
        return parse_ts(value, zone)
    except Hl7Error as error:
        raise MessageRefused(
            "INVALID_VALUE", error.code, f"{segment}-{field}: {error.text}", segment, field
        ) from None


@dataclass(frozen=True)
class VisitNumber:
    number: str
    authority: str | None


def visit_number(message: Hl7Message, sending_facility: str | None) -> VisitNumber | None:
    """PV1-19 (CX): the number and its assigning authority (CX.4), else PID-18 (the patient
    account number, which many sites use as the visit's number). Without an authority the
    sending facility (MSH-4) stands for it, so numbers stay unique per sender."""
    for segment, field in (("PV1", 19), ("PID", 18)):
        number = ref(message, segment, field)
        if number is not None:
            authority = ref(message, segment, field, 4) or sending_facility
            return VisitNumber(number, _authority(authority))
    return None


def appointment_number(message: Hl7Message, sending_facility: str | None) -> VisitNumber | None:
    """SCH-2 (filler appointment id, EI), else SCH-1 (placer): the visit number of a
    booking that carries no PV1-19. The namespace (EI.2) is its authority."""
    for field in (2, 1):
        number = ref(message, "SCH", field)
        if number is not None:
            authority = ref(message, "SCH", field, 2) or sending_facility
            return VisitNumber(number, _authority(authority and f"SCH:{authority}"))
    return None


def _authority(value: str | None) -> str | None:
    return None if value is None else value[:64]


def patient_identifier(message: Hl7Message) -> tuple[str, str | None]:
    """PID-3: the identifier typed ``MR`` (CX.5), else the first; with its authority
    (CX.4). Only hashed (see ``identity.PatientRefs``): never stored or logged."""
    repetitions = [r for r in message.repetitions("PID", 3) if r and r[0]]
    if not repetitions:
        raise missing("PID", 3, "patient identifier")
    chosen = next((r for r in repetitions if len(r) > 4 and r[4] == "MR"), repetitions[0])
    identifier = chosen[0]
    assert identifier is not None
    authority = chosen[3] if len(chosen) > 3 else None
    return identifier.strip(), authority


@dataclass(frozen=True)
class Location:
    unit: str
    bed: str | None


def location(message: Hl7Message, field: int) -> Location | None:
    """A PL field (PV1-3 assigned, PV1-6 prior): point of care ^ room ^ bed. The unit is the
    point of care; the bed is ``room-bed`` when both are given (beds are numbered per room)."""
    unit = ref(message, "PV1", field, 1)
    if unit is None:
        return None
    room, bed = ref(message, "PV1", field, 2), ref(message, "PV1", field, 3)
    if bed is not None and room is not None:
        bed = f"{room}-{bed}"[:64]
    return Location(unit, bed)


#: HL7 table 0004 (patient class) → FHIR v3 ActCode encounter class.
PATIENT_CLASSES: dict[str, VisitClass] = {
    "E": "EMER", "I": "IMP", "O": "AMB", "P": "IMP", "R": "AMB", "B": "IMP", "C": "AMB",
}  # fmt: skip


def visit_class(message: Hl7Message, default: VisitClass) -> VisitClass:
    """PV1-2 as an encounter class; N (not applicable), U (unknown) or absent: ``default``."""
    code = message.value("PV1", 2)
    if code is None or code in ("N", "U"):
        return default
    try:
        return PATIENT_CLASSES[code]
    except KeyError:
        raise MessageRefused(
            "UNKNOWN_CODE", TABLE_VALUE_NOT_FOUND,
            "PV1-2 (patient class) is not a code of HL7 table 0004", "PV1", 2,
        ) from None  # fmt: skip


#: HL7 table 0112 (discharge disposition) → the service's dispositions. Sites extend the
#: table; a code not listed here is recorded as ``oth`` rather than refused, since the
#: discharge happened whatever the code says.
DISPOSITIONS: dict[str, Disposition] = {
    "01": "home", "02": "hosp", "03": "snf", "04": "other-hcf", "05": "other-hcf",
    "06": "home", "07": "aadvice", "20": "exp", "62": "rehab",
}  # fmt: skip
DECEASED = "exp"


def disposition(message: Hl7Message) -> Disposition:
    code = message.value("PV1", 36)
    if code is None:
        raise missing("PV1", 36, "discharge disposition")
    found: Disposition = DISPOSITIONS.get(code.strip().zfill(2), "oth")
    return found
