"""ADT and SIU triggers onto the visit commands: one message, one visit, one transaction.

| trigger | what it records |
|---|---|
| ADT A04 register | a walk-in (new visit), or the arrival of a scheduled one |
| ADT A01 admit | the admission; a new visit is registered first, a scheduled one arrives first |
| ADT A05 pre-admit | a scheduled visit (PV2-8 expected admission, else the event time) |
| ADT A02 transfer | the transfer to PV1-3 (from PV1-6 when given) |
| ADT A03 discharge | the discharge, PV1-36 disposition (table 0112), at PV1-45 |
| ADT A06 / A07 | the class change: to inpatient / to outpatient (PV1-2 when given) |
| ADT A08 update | the class (PV1-2), when it differs (a move of location comes as A02) |
| ADT A11 | cancel admit (an admitted visit) or visit (any other: entered in error) |
| ADT A12 / A13 | cancel transfer / discharge |
| ADT A21 / A22 | leave of absence out / back |
| ADT A23 delete visit | entered in error |
| ADT A38 cancel pre-admit | the scheduled visit cancelled |
| SIU S12 / S13 / S14 | book / reschedule / modify (times from SCH-11, else AIS-4 and AIS-7) |
| SIU S15 / S26 | cancel / no-show |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from adapters.hl7 import fields as f
from adapters.hl7.errors import UNSUPPORTED_EVENT_CODE, UNSUPPORTED_MESSAGE_TYPE, Hl7Error
from adapters.hl7.identity import PatientRefs
from adapters.hl7.message import Hl7Message
from adapters.hl7.timestamps import parse_ts
from application.visits import commands as c
from application.visits.feed import ApplyVisitMessage
from application.visits.values import VisitClass, VisitDetailChanges
from domain.visits.identity import visit_id_for


class UnsupportedMessage(Hl7Error):
    """A message type or trigger the service does not take: AR (CR), nothing recorded."""

    def __init__(self, hl7_code: int, text: str, error_code: str) -> None:
        super().__init__(hl7_code, text)
        self.error_code = error_code


@dataclass(frozen=True)
class Mapped:
    """A message's command and when its fact happened (None: the processor's clock)."""

    command: ApplyVisitMessage
    occurred_at: datetime | None


@dataclass(frozen=True)
class _Read:
    """What every trigger reads first."""

    message: Hl7Message
    zone: tzinfo
    number: f.VisitNumber
    occurred_at: datetime | None
    reason: str

    def apply(self, **parts: Any) -> ApplyVisitMessage:
        header = self.message.header
        return ApplyVisitMessage(
            visit_id=visit_id_for(self.number.number, self.number.authority),
            message_type=f"{header.message_code}^{header.trigger}",
            occurred_at=self.occurred_at, reason=self.reason, **parts,
        )  # fmt: skip


#: How one trigger turns into the visit's feed command.
Build = Callable[[_Read, PatientRefs], ApplyVisitMessage]


def map_message(message: Hl7Message, refs: PatientRefs, zone: tzinfo) -> Mapped:
    """The command for ``message``; raises UnsupportedMessage (AR) or
    ``fields.MessageRefused`` (AE)."""
    header = message.header
    key = f"{header.message_code}^{header.trigger}"
    build = _TRIGGERS.get(key)
    if build is None:
        if header.message_code not in ("ADT", "SIU"):
            raise UnsupportedMessage(
                UNSUPPORTED_MESSAGE_TYPE, "only ADT and SIU messages are taken",
                "UNSUPPORTED_MESSAGE_TYPE",
            )  # fmt: skip
        raise UnsupportedMessage(
            UNSUPPORTED_EVENT_CODE, f"trigger {header.trigger or '(none)'} of "
            f"{header.message_code} is not taken (see the mapping table)", "UNSUPPORTED_TRIGGER",
        )  # fmt: skip
    # Every value is checked as it is read (``fields``): a command built here holds only
    # values its own constraints accept.
    command = build(_read(message, zone, scheduling=header.message_code == "SIU"), refs)
    return Mapped(command, command.occurred_at)


def _read(message: Hl7Message, zone: tzinfo, *, scheduling: bool) -> _Read:
    header = message.header
    number = f.visit_number(message, header.sending_facility)
    if number is None and scheduling:
        number = f.appointment_number(message, header.sending_facility)
    if number is None:
        raise f.missing("PV1", 19, "visit number")
    occurred_at = (
        # A discharge happened when PV1-45 says; any other event when EVN-6 does (EVN-2:
        # when it was recorded; MSH-7: when the message was sent).
        (f.instant(message, "PV1", 45, zone) if header.trigger == "A03" else None)
        or f.instant(message, "EVN", 6, zone)
        or f.instant(message, "EVN", 2, zone)
        or f.instant(message, "MSH", 7, zone)
    )
    trigger = f"{header.message_code}^{header.trigger}"
    reason = f.ref(message, "EVN", 4)  # the event reason code
    return _Read(
        message, zone, number, occurred_at, f"HL7 {trigger}" + (f" ({reason})" if reason else "")
    )


# ---- registration, admission and movement ----------------------------------------------
def _walk_in(read: _Read, refs: PatientRefs, default_class: VisitClass) -> c.RegisterWalkIn:
    where = f.location(read.message, 3)
    if where is None:
        raise f.missing("PV1", 3, "assigned location")
    identifier, authority = f.patient_identifier(read.message)
    return c.RegisterWalkIn(
        patient_ref=refs.ref_for(identifier, authority),
        visit_class=f.visit_class(read.message, default_class),
        service_unit=where.unit, visit_number=read.number.number,
        visit_number_authority=read.number.authority,
    )  # fmt: skip


def _register(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    return read.apply(creation=_walk_in(read, refs, "AMB"), arrival=c.RegisterArrival())


def _admit(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    where = f.location(read.message, 3)
    if where is None:
        raise f.missing("PV1", 3, "assigned location")
    return read.apply(
        creation=_walk_in(read, refs, "IMP"), arrival=c.RegisterArrival(),
        steps=[c.AdmitPatient(unit=where.unit, bed=where.bed)],
    )  # fmt: skip


def _pre_admit(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    where = f.location(read.message, 3)
    if where is None:
        raise f.missing("PV1", 3, "assigned location")
    identifier, authority = f.patient_identifier(read.message)
    start = f.instant(read.message, "PV2", 8, read.zone) or read.occurred_at
    if start is None:
        raise f.missing("PV2", 8, "expected admission time")
    return read.apply(creation=c.ScheduleVisit(
        patient_ref=refs.ref_for(identifier, authority),
        visit_class=f.visit_class(read.message, "IMP"), service_unit=where.unit,
        scheduled_start=start, visit_number=read.number.number,
        visit_number_authority=read.number.authority,
    ))  # fmt: skip


def _transfer(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    to = f.location(read.message, 3)
    if to is None:
        raise f.missing("PV1", 3, "new location")
    try:
        origin = f.location(read.message, 6)
    except f.MessageRefused:
        # The prior location is only a cross-check of where the patient was: a site that
        # writes it as free text ("4 East, room 136") does not make the transfer wrong.
        origin = None
    return read.apply(steps=[c.TransferPatient(
        to_unit=to.unit, to_bed=to.bed, from_unit=origin.unit if origin else None,
        from_bed=origin.bed if origin else None,
    )])  # fmt: skip


def _discharge(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    disposition = f.disposition(read.message)
    deceased_at = None
    if disposition == f.DECEASED:
        deceased_at = f.instant(read.message, "PID", 29, read.zone) or read.occurred_at
    return read.apply(steps=[c.DischargePatient(disposition=disposition, deceased_at=deceased_at)])


def _class_change(to_class: VisitClass) -> Build:
    def build(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
        visit_class = f.visit_class(read.message, to_class)
        return read.apply(details=VisitDetailChanges(visit_class=visit_class))

    return build


def _update(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    stated: dict[str, Any] = {}
    if read.message.value("PV1", 2) not in (None, "N", "U"):
        stated["visit_class"] = f.visit_class(read.message, "AMB")
    return read.apply(details=VisitDetailChanges(**stated))


def _step(
    command: Callable[[_Read], c.VisitCommand],
) -> Callable[[_Read, PatientRefs], ApplyVisitMessage]:
    return lambda read, refs: read.apply(steps=[command(read)])


def _cancel_admit_or_visit(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    # A11 cancels the admission of an inpatient, or the registration (A04) of anyone else:
    # which one only the visit's state says, so the feed command decides it.
    return read.apply(cancel_registration=True)


# ---- scheduling (SIU) -----------------------------------------------------------------
def _slot(read: _Read) -> tuple[datetime, datetime | None]:
    """SCH-11 (TQ: component 4 start, 5 end), else AIS-4 start with AIS-7 duration."""
    start = _instant_component(read, "SCH", 11, 4)
    end = _instant_component(read, "SCH", 11, 5)
    if start is None:
        start = f.instant(read.message, "AIS", 4, read.zone)
        minutes = read.message.value("AIS", 7)
        if start is not None and minutes and minutes.isdigit():
            end = start + timedelta(minutes=int(minutes))
    if start is None:
        raise f.missing("SCH", 11, "appointment timing")
    return start, end


def _instant_component(read: _Read, segment: str, field: int, component: int) -> datetime | None:
    value = read.message.value(segment, field, component)
    if value is None:
        return None
    try:
        return parse_ts(value, read.zone)
    except Hl7Error as error:
        raise f.MessageRefused(
            "INVALID_VALUE", error.code, f"{segment}-{field}.{component}: {error.text}", segment,
            field,
        ) from None  # fmt: skip


def _unit(read: _Read) -> str:
    """Where the appointment is: PV1-3, else AIL-3 (location resource), else SCH-5."""
    where = f.location(read.message, 3)
    unit = where.unit if where else (f.ref(read.message, "AIL", 3) or f.ref(read.message, "SCH", 5))
    if unit is None:
        raise f.missing("AIL", 3, "appointment location")
    return unit


def _book(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    start, end = _slot(read)
    identifier, authority = f.patient_identifier(read.message)
    return read.apply(creation=c.ScheduleVisit(
        patient_ref=refs.ref_for(identifier, authority),
        visit_class=f.visit_class(read.message, "AMB"), service_unit=_unit(read),
        scheduled_start=start, scheduled_end=end, visit_number=read.number.number,
        visit_number_authority=read.number.authority,
    ))  # fmt: skip


def _reschedule(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    start, end = _slot(read)
    return read.apply(steps=[c.RescheduleVisit(scheduled_start=start, scheduled_end=end)])


def _modify(read: _Read, refs: PatientRefs) -> ApplyVisitMessage:
    # S14 restates the booking: a new time is a reschedule, a new place a correction.
    start, end = _slot(read)
    return read.apply(
        details=VisitDetailChanges(service_unit=_unit(read)),
        reschedule=c.RescheduleVisit(scheduled_start=start, scheduled_end=end),
    )


_TRIGGERS: dict[str, Build] = {
    "ADT^A04": _register,
    "ADT^A01": _admit,
    "ADT^A05": _pre_admit,
    "ADT^A02": _transfer,
    "ADT^A03": _discharge,
    "ADT^A06": _class_change("IMP"),
    "ADT^A07": _class_change("AMB"),
    "ADT^A08": _update,
    "ADT^A11": _cancel_admit_or_visit,
    "ADT^A12": _step(lambda read: c.CancelTransfer(reason=read.reason)),
    "ADT^A13": _step(lambda read: c.CancelDischarge(reason=read.reason)),
    "ADT^A21": _step(lambda read: c.StartLeaveOfAbsence()),
    "ADT^A22": _step(lambda read: c.EndLeaveOfAbsence()),
    "ADT^A23": _step(lambda read: c.MarkEnteredInError(reason=read.reason)),
    "ADT^A38": _step(lambda read: c.CancelVisit(reason=read.reason)),
    "SIU^S12": _book,
    "SIU^S13": _reschedule,
    "SIU^S14": _modify,
    "SIU^S15": _step(lambda read: c.CancelVisit(reason=read.reason)),
    "SIU^S26": _step(lambda read: c.MarkNoShow()),
}

#: The triggers taken, for the README and the listener's log.
SUPPORTED_TRIGGERS = tuple(_TRIGGERS)
