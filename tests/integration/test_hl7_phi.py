"""Identity without PHI (issue 12, item 4): messages full of personal data, sent over MLLP,
leave none of it in the event store, a read model, the audit trail or a log line.

Real sample messages (tests/fixtures/hl7, full of names, addresses, phones, NK1, IN1, OBX,
DG1, AL1 and Z-segments) and messages written here with a distinctive marker in every field
that carries personal data: after the read models' workers have caught up, every table of
the store is read back in full and searched for each value, and so is everything logged
(structlog lines and standard-library records alike). Positive controls first: the search
does find what the service is meant to keep (the visit number, the patientRef).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.composition import hl7_processor
from adapters.hl7.identity import PatientRefs
from adapters.readmodels.audit.store import AuditReadModel
from adapters.readmodels.budget.store import BudgetReadModel
from adapters.readmodels.complaints.store import ComplaintsReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.status import wait_for_position
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.readmodels.visits.store import FlowReadModel
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.hl7 import MllpClient, adt, hl7_time, last_position, listening, msa, sample

READ_MODELS = [FlowReadModel, AuditReadModel, ComplaintsReadModel, BudgetReadModel]
pytestmark = pytest.mark.read_models(READ_MODELS)
REF_SECRET = "phi-test-ref-secret-" + "x" * 40

#: Personal data of the real samples, by file (each value distinctive enough to search for).
SAMPLE_VALUES = {
    "adt_a01_v251_good_health.hl7": [
        "EVERYMAN", "19610615", "2222 HOME STREET", "GREENSBORO", "555-2004", "NUCLEAR",
        "NELDA", "ATTEND^AARON",
    ],
    "adt_a01_v25_wikipedia.hl7": [
        "KLEINSAMPLE", "19620910", "GOODWIN CREST", "NICKELL", "56782445", "ASPIRIN",
        "CHEST PAIN", "MORGAN", "GRAINGER", "POTTER", "Body Weight",
    ],
    "adt_a04_v23.hl7": [
        "MARIO", "19850101000000", "123 FAKE STREET", "TOADSTOOL", "PEACH", "KOOPA", "YOSHI",
        "DUCKHUNT", "LUIGI", "555-0123",
    ],
    "siu_s12_v28.hl7": [
        "Aniston", "Hospital Lane", "Ann Arbor", "Angela", "Ulcerative", "Biopsy", "78788788",
        "PSSN123121234", "DLN-123", "Appointment booked for emergency",
    ],
    "adt_a02_v24_epic.hl7": ["YYTMRTTEST", "ZEROONE", "1 FAKE STREET", "CLAMBRIDGE", "CL22 1AA"],
    "adt_a03_v24_epic_zlw.hl7": ["AGBTESTD", "Satesta", "T5 1TT", "07777 000 000", "malaria"],
    "adt_a11_v24_epic.hl7": ["ORANGE^BLOOD", "HONEY"],
}  # fmt: skip

#: One marker per kind of personal data, in the messages written below.
MARKERS = {
    "mrn": "QXMRN4242", "family": "Qxfamilyname", "given": "Qxgivenname", "birth": "19230417",
    "street": "77 Qxmarker Lane", "city": "Qxmarkerton", "phone": "555-010-4477",
    "ssn": "QX-987-65-4329", "mother": "Qxmothername", "kin": "Qxkinname",
    "kin_phone": "555-010-9911", "guarantor": "Qxguarantorname", "insurer": "Qxinsurername",
    "policy": "QXPOLICY7788", "observation": "Qxobservationtext", "diagnosis": "Qxdiagnosistext",
    "allergy": "Qxallergytext", "z_segment": "Qxzsegmentvalue", "doctor": "Qxdoctorname",
    "operator": "Qxoperatorname", "admit_reason": "Qxadmitreason",
}  # fmt: skip


def _marked(
    trigger: str, control_id: str, at: datetime, *, visit: str = "QV-77", unit: str = "W9",
    **options: Any,
) -> bytes:  # fmt: skip
    m = MARKERS
    return adt(
        trigger,
        control_id,
        visit=visit,
        mrn=m["mrn"],
        at=at,
        unit=unit,
        bed=("R1", "B1"),
        patient_class="I",
        pid_extra={
            5: f"{m['family']}^{m['given']}",
            6: m["mother"],
            7: m["birth"],
            11: f"{m['street']}^^{m['city']}^^QX1 1XQ",
            13: m["phone"],
            19: m["ssn"],
        },
        extra_segments=(
            f"PD1|||{m['doctor']} Practice",
            f"NK1|1|{m['kin']}^Pat|SPO|{m['street']}|{m['kin_phone']}",
            f"GT1|1||{m['guarantor']}^Gail||{m['street']}",
            f"IN1|1|PLAN1|INS1|{m['insurer']}|||||||||||||||||||||||||||||||||||{m['policy']}",
            f"OBX|1|TX|NOTE^Note||{m['observation']}||||||F",
            f"DG1|1||X99^{m['diagnosis']}^I10",
            f"AL1|1|DA|^{m['allergy']}",
            f"ZPI|1|{m['z_segment']}|{m['z_segment']}-2",
            f"PV2|||^{m['admit_reason']}",
        ),
        **options,
    ).replace(
        # EVN-5, the operator: its id (EVN-5.1) is kept as on_behalf_of, never the name.
        f"EVN|{trigger}|{hl7_time(at)}".encode(),
        f"EVN|{trigger}|{hl7_time(at)}|||OPR7^{m['operator']}".encode(),
    )


def _all_text(settings: Settings) -> str:
    """Every value of every table of the store (events, read models, tracking, audit)."""
    values: list[Any] = []
    postgres = settings.postgres
    if postgres is None:
        for path in sorted(settings.var_dir.glob("*.db")):
            with sqlite3.connect(path) as conn:
                names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for (name,) in names.fetchall():
                    values.extend(conn.execute(f'SELECT * FROM "{name}"').fetchall())
    else:
        with psycopg.connect(
            host=postgres.host, port=postgres.port, user=postgres.user,
            password=postgres.password, dbname=postgres.dbname,
        ) as conn:  # fmt: skip
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (postgres.schema,),
            ).fetchall()
            assert tables, "the schema has tables"
            for (name,) in tables:
                query = SQL("SELECT * FROM {}.{}").format(
                    Identifier(postgres.schema or "public"), Identifier(name)
                )
                values.extend(conn.execute(query).fetchall())
    return "\n".join(_text(value) for row in values for value in row)


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def test_no_personal_data_reaches_the_store_the_read_models_the_trail_or_the_logs(
    store_settings: Settings,
    services: PatientServices,
    database: ReadDatabase,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = replace(store_settings, patient_ref_secret=REF_SECRET, hl7_processing_ids=("P", "T"))
    supervisor = ProjectionSupervisor(database, READ_MODELS)
    supervisor.start()
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    marked = [
        _marked("A01", "PHI-1", start),
        _marked("A08", "PHI-2", start + timedelta(minutes=10)),
        _marked("A02", "PHI-3", start + timedelta(minutes=20), unit="W8"),
        _marked("A03", "PHI-4", start + timedelta(minutes=30), disposition="01"),
        _marked("A02", "PHI-5", start, visit="QV-404"),  # refused (no such visit): AE
    ]
    try:
        with listening(hl7_processor(settings, services).handle_bytes) as listener:
            with MllpClient(listener.port) as client:
                codes = {name: msa(client.exchange(sample(name))[0])[1] for name in SAMPLE_VALUES}
                marked_codes = [msa(client.exchange(message)[0])[1] for message in marked]
        head = last_position(services)
        for name in ("flow", "audit", "complaints", "budget"):
            assert wait_for_position(database, name, head, timeout=30) is not None, name
    finally:
        supervisor.stop()

    # The messages were processed, not merely refused unread: most were recorded.
    assert marked_codes == ["AA", "AA", "AA", "AA", "AE"]
    assert sum(code == "AA" for code in codes.values()) >= 4, codes
    stored = _all_text(store_settings).lower()
    logged = (capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
              + "\n".join(str(r.__dict__) for r in caplog.records)).lower()  # fmt: skip
    # Positive controls: the search sees what is meant to be kept.
    ref = PatientRefs(REF_SECRET).ref_for(MARKERS["mrn"], "UCLH")
    assert "qv-77" in stored and ref in stored and "opr7" in stored
    assert "phi-1" in logged and "adt^a01" in logged
    values = [*MARKERS.values(), *(v for vs in SAMPLE_VALUES.values() for v in vs)]
    assert [v for v in values if v.lower() in stored] == []
    assert [v for v in values if v.lower() in logged] == []
