"""HL7 v2 messages for tests, written field by field as a feed would send them, and a
processor on a given application with a fixed clock for its ACKs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from adapters.hl7.identity import PatientRefs
from adapters.hl7.processor import Hl7Processor, Hl7Settings
from application.service import PatientServices

#: The processor's clock (the ACKs' MSH-7); the application keeps the real one.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/London")
SECRET = "test-patient-ref-secret-of-32-bytes-or-more"


def processor(
    services: PatientServices, *, allowed_senders: tuple[str, ...] = (),
    processing_ids: tuple[str, ...] = ("P",),
) -> Hl7Processor:  # fmt: skip
    settings = Hl7Settings(PatientRefs(SECRET), ZONE, allowed_senders, processing_ids)
    return Hl7Processor(services, settings, clock=lambda: NOW)


@dataclass
class Adt:
    """One ADT message; each attribute is one field's ER7 text (empty: absent)."""

    trigger: str
    control_id: str
    visit_number: str = "V1001^^^RFH"
    patient_id: str = "MRN123^^^RFH^MR"
    evn_time: str = "202612011000"
    operator: str = ""
    patient_class: str = "E"
    location: str = "ED^^^RFH"
    prior_location: str = ""
    disposition: str = ""
    discharge_time: str = ""
    expected_admit: str = ""
    sending_application: str = "PAS"
    sending_facility: str = "RFH"
    processing_id: str = "P"
    version: str = "2.5.1"
    accept_ack: str = ""
    application_ack: str = ""
    #: Further segments, verbatim (personal data the service must drop, Z-segments).
    extra: list[str] = field(default_factory=list)
    pid_rest: str = "|"

    def er7(self) -> str:
        structure = {"A01": "ADT_A01", "A04": "ADT_A01", "A05": "ADT_A05", "A08": "ADT_A01"}
        msh = "|".join([
            "MSH", "^~\\&", self.sending_application, self.sending_facility, "DEPT", "RFH",
            "202612011000", "",
            f"ADT^{self.trigger}^{structure.get(self.trigger, 'ADT_A01')}", self.control_id,
            self.processing_id, self.version, "", "", self.accept_ack, self.application_ack,
        ])  # fmt: skip
        evn = f"EVN|{self.trigger}|{self.evn_time}|||{self.operator}|{self.evn_time}"
        pid = f"PID|1||{self.patient_id}{self.pid_rest}"
        pv1 = ["PV1", "1", self.patient_class, self.location] + [""] * 33  # pv1[n] is PV1-n
        pv1[6] = self.prior_location
        pv1[19] = self.visit_number
        pv1[36] = self.disposition
        pv1 += [""] * 8 + [self.discharge_time]  # PV1-45
        segments = [msh, evn, pid, "|".join(pv1).rstrip("|")]
        if self.expected_admit:
            segments.append("PV2|" + "|" * 7 + self.expected_admit)  # PV2-8
        return "\r".join([*segments, *self.extra])


@dataclass
class Siu:
    """One SIU message (a booking)."""

    trigger: str
    control_id: str
    appointment_id: str = "APPT77^CLINIC"
    start: str = "202612150900"
    end: str = "202612150930"
    patient_id: str = "MRN123^^^RFH^MR"
    unit: str = "CLINIC-1"

    def er7(self) -> str:
        msh = (
            f"MSH|^~\\&|SCHED|RFH|DEPT|RFH|202612011000||SIU^{self.trigger}^SIU_S12|"
            f"{self.control_id}|P|2.5"
        )
        sch = f"SCH|{self.appointment_id}|{self.appointment_id}|||||||||^^^{self.start}^{self.end}"
        return "\r".join([msh, sch, f"PID|1||{self.patient_id}", f"AIL|1||{self.unit}"])


def msa(reply: str) -> tuple[str, str]:
    """MSA-1 and MSA-2 of an ACK."""
    line = next(s for s in reply.split("\r") if s.startswith("MSA|"))
    parts = [*line.split("|"), ""]
    return parts[1], parts[2]


def err_code(reply: str) -> str | None:
    """ERR-7 (our stable error code) of an ACK, if it has an ERR segment."""
    line = next((s for s in reply.split("\r") if s.startswith("ERR|")), None)
    return None if line is None else line.split("|")[7]
