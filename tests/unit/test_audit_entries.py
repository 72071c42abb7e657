"""The audit trail's entries of each kind, derived without a database: reads of patient data
(``AccessRecord``), exports of the trail and denied reads are accesses; everything else,
refused commands included, is a change. The access fields come from the stored JSON, and
odd or forged values never stop the derivation."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from application.service import PatientServices
from application.shared.access import Access, AccessRecord
from application.shared.attempts import Attempt
from application.shared.context import RequestContext
from application.visits.commands import AdmitPatient, ScheduleVisit
from domain.shared.envelope import Envelope, recording
from domain.shared.errors import InvalidTransitionError
from projections.audit.entries import PatientLink
from projections.audit.trail import (
    ENTRY_FIELDS,
    AuditEntry,
    derive_entries,
    derive_rows,
    patients_of,
)
from projections.shared.records import KEY_MAX_CHARS, StoredRecord, key_text

UTC = timezone.utc
CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="req-1")
CLINICIAN = RequestContext(actor_id="dr-1", actor_role="clinician", correlation_id="req-2")
ACCESS_TOPIC = "application.shared.access:AccessRecord.Accessed"


def stored(services: PatientServices) -> list[StoredRecord]:
    return [
        StoredRecord(n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in services.recorder.select_notifications(1, 10_000)
    ]


def no_lookup(keys: Collection[str]) -> dict[str, str | None]:
    raise AssertionError(f"nothing to look up, but asked for {sorted(keys)}")


def record_access(services: PatientServices, access: Access, **envelope: object) -> None:
    fields: dict[str, object] = {
        "actor_id": "nurse-1", "actor_role": "nurse,clinician", "command_id": uuid4(),
        "correlation_id": "req-9", "occurred_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        **envelope,
    }  # fmt: skip
    with recording(Envelope(**fields)):  # type: ignore[arg-type]
        services.save(AccessRecord.accessed(access))


def read_of(*refs: str, **fields: object) -> Access:
    values: dict[str, object] = {
        "action": "read visits", "route": "/api/v1/visits", "query": {"status": "arrived"},
        "purpose_of_use": "TREAT", "patient_refs": refs,
        "record_ids": tuple(f"v-{ref}" for ref in refs), "result_count": len(refs), **fields,
    }  # fmt: skip
    return Access(**values)  # type: ignore[arg-type]


def one_entry(services: PatientServices) -> AuditEntry:
    [entry], _ = derive_entries(stored(services)[-1:], lambda keys: {})
    return entry


# ---- accesses ----------------------------------------------------------------------------
def test_a_read_is_an_access_with_who_what_and_why(memory_services: PatientServices) -> None:
    record_access(memory_services, read_of("P-1"), on_behalf_of="dr-boss")
    [record] = stored(memory_services)

    [entry], new_refs = derive_entries([record], no_lookup)

    assert (entry.kind, entry.aggregate_type, entry.action, entry.outcome) == (
        "access", "AccessRecord", "read visits", "success",
    )  # fmt: skip
    assert (entry.actor_id, entry.actor_role, entry.on_behalf_of) == (
        "nurse-1", "nurse,clinician", "dr-boss",
    )  # fmt: skip
    assert entry.occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert (entry.route, entry.query, entry.purpose_of_use) == (
        "/api/v1/visits", {"status": "arrived"}, "TREAT",
    )  # fmt: skip
    assert (entry.patient_refs, entry.record_ids, entry.result_count) == (["P-1"], ["v-P-1"], 1)
    assert entry.patient_ref == "P-1"  # it names exactly one
    assert (entry.format, entry.code, entry.target_id) == (None, None, None)
    assert new_refs == {}  # a read owns no patient: nothing inherits from it


def test_a_read_of_several_patients_names_none_alone_but_links_each(
    memory_services: PatientServices,
) -> None:
    record_access(memory_services, read_of("P-1", "P-2", "P-1"))
    links: list[PatientLink] = []

    rows, _ = derive_rows(stored(memory_services), no_lookup, links)
    [row] = list(rows)

    entry = dict(zip(ENTRY_FIELDS, row, strict=True))
    assert entry["patient_ref"] is None
    assert msgspec.json.decode(entry["patient_refs"]) == ["P-1", "P-2", "P-1"]
    assert links == [("P-1", 1), ("P-2", 1)]  # each patient once


def test_a_truncated_read_is_linked_to_the_patient_its_query_asked_for(
    memory_services: PatientServices,
) -> None:
    access = read_of(query={"patientRef": "P-5"}, truncated=True, result_count=900)
    record_access(memory_services, access)
    links: list[PatientLink] = []

    list(derive_rows(stored(memory_services), no_lookup, links)[0])
    entry = one_entry(memory_services)

    assert (entry.patient_refs, entry.result_count, entry.patient_ref) == ([], 900, None)
    assert links == [("P-5", 1)]


def test_an_export_of_the_trail_is_an_access_with_its_format_and_filters(
    memory_services: PatientServices,
) -> None:
    memory_services.record_export(
        format="csv", patient_ref="P-3", filters={"actor": "bob", "from": "2026-01-01T00:00:00Z"},
        actor_id="audrey", actor_role="auditor", correlation_id="export-1",
        purpose_of_use="HOPERAT", on_behalf_of="dr-o",
    )  # fmt: skip

    entry = one_entry(memory_services)

    assert (entry.kind, entry.aggregate_type, entry.action) == ("access", "TrailExport", "Exported")
    assert (entry.format, entry.query) == ("csv", {"actor": "bob", "from": "2026-01-01T00:00:00Z"})
    assert (entry.patient_ref, entry.patient_refs) == ("P-3", ["P-3"])
    assert (entry.purpose_of_use, entry.on_behalf_of) == ("HOPERAT", "dr-o")


def test_an_export_recorded_before_its_purpose_was_kept_reads_back_without_one(
    memory_services: PatientServices,
) -> None:
    position = memory_services.record_export(
        format="csv", patient_ref=None, filters={}, actor_id="audrey", actor_role="auditor",
        correlation_id="export-0", purpose_of_use="HOPERAT",
    )  # fmt: skip
    [n] = memory_services.recorder.select_notifications(position, 1)
    state = msgspec.json.decode(n.state)
    assert (state.pop("class_version"), state.pop("purpose_of_use")) == (2, "HOPERAT")
    first_version = msgspec.json.encode(state)  # as the event's first version wrote it

    event = memory_services.mapper.to_domain_event(
        StoredEvent(n.originator_id, n.originator_version, n.topic, first_version)
    )
    [entry], _ = derive_entries(
        [StoredRecord(n.id, n.originator_id, n.originator_version, n.topic, first_version)],
        no_lookup,
    )

    assert (event.purpose_of_use, event.format) == (None, "csv")
    assert (entry.kind, entry.format, entry.purpose_of_use) == ("access", "csv", None)


def test_an_export_not_filtered_by_patient_names_no_patient(
    memory_services: PatientServices,
) -> None:
    memory_services.record_export(
        format="fhir-ndjson", patient_ref=None, filters={}, actor_id="audrey",
        actor_role="auditor", correlation_id="export-2", purpose_of_use="TREAT",
    )  # fmt: skip

    entry = one_entry(memory_services)

    assert (entry.kind, entry.format, entry.query) == ("access", "fhir-ndjson", {})
    assert (entry.patient_ref, entry.patient_refs) == (None, None)


def test_a_denied_read_is_an_access_and_a_denied_or_refused_command_a_change(
    memory_services: PatientServices,
) -> None:
    visit = memory_services.execute(
        ScheduleVisit(patient_ref="P-7", visit_class="AMB", service_unit="OPD",
                      scheduled_start=datetime(2030, 1, 1, tzinfo=UTC)), CLERK,
    )  # fmt: skip
    with pytest.raises(InvalidTransitionError):
        memory_services.execute(AdmitPatient(unit="W1"), CLINICIAN, target=visit.id)
    for action in ("read visits", "CloseVisit"):
        memory_services.record_denial(
            Attempt(action=action, actor_id="mallory", actor_roles=("finance",),
                    correlation_id="c", target_type="PatientVisit", target_id=visit.id)
        )  # fmt: skip

    entries, _ = derive_entries(stored(memory_services), no_lookup)

    # The booking's ledger entry (PatientBookings) is a change too, bookkeeping of the visit's.
    assert [(e.action, e.outcome, e.kind) for e in entries] == [
        ("BookingsOpened", "recorded", "change"),
        ("VisitScheduled", "recorded", "change"),
        ("AdmitPatient", "refused", "change"),
        ("read visits", "denied", "access"),
        ("CloseVisit", "denied", "change"),
    ]
    assert {e.patient_ref for e in entries} == {"P-7"}
    assert all(e.patient_refs is None and e.query is None for e in entries)


def test_a_change_has_no_access_fields(memory_services: PatientServices) -> None:
    memory_services.execute(
        ScheduleVisit(patient_ref="P-8", visit_class="AMB", service_unit="OPD",
                      scheduled_start=datetime(2030, 1, 1, tzinfo=UTC)), CLERK,
    )  # fmt: skip

    entry = one_entry(memory_services)

    assert entry.kind == "change"
    assert (entry.purpose_of_use, entry.patient_refs, entry.record_ids) == (None, None, None)
    assert (entry.result_count, entry.route, entry.query, entry.format) == (None,) * 4


def test_rows_hold_every_field_in_order_with_lists_as_json_text(
    memory_services: PatientServices,
) -> None:
    record_access(memory_services, read_of("P-1"))

    [row] = list(derive_rows(stored(memory_services), no_lookup)[0])

    assert len(row) == len(ENTRY_FIELDS)
    named = dict(zip(ENTRY_FIELDS, row, strict=True))
    assert named["kind"] == "access"
    assert (named["query"], named["record_ids"]) == ('{"status":"arrived"}', '["v-P-1"]')


# ---- odd and forged values ----------------------------------------------------------------
def forged_read(fields: dict[str, object]) -> StoredRecord:
    state = msgspec.json.encode(
        {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-03-02T09:00:00+00:00"},
         "actor_id": "a-1", "action": "read board", "outcome": "success", **fields}
    )  # fmt: skip
    return StoredRecord(7, uuid4(), 1, ACCESS_TOPIC, state)


def test_a_read_with_fields_of_the_wrong_type_keeps_what_it_can() -> None:
    record = forged_read({
        "query": {"unit": "ED", "n": 5}, "patient_refs": ["P-1", 2, None, "P-2"],
        "record_ids": "not a list", "result_count": "many", "purpose_of_use": ["TREAT"],
    })  # fmt: skip

    [entry], _ = derive_entries([record], no_lookup)

    assert (entry.kind, entry.action, entry.actor_id) == ("access", "read board", "a-1")
    assert entry.query == {"unit": "ED"}
    assert entry.patient_refs == ["P-1", "P-2"]
    assert (entry.record_ids, entry.result_count, entry.purpose_of_use) == ([], None, None)


def test_hostile_text_in_a_read_is_kept_and_long_patient_refs_are_clipped() -> None:
    huge = "x" * 100_000
    record = forged_read({
        "query": {"unit": "E\u0000D\u0007\u001b[31m", "q": huge}, "patient_refs": [huge],
        "record_ids": [huge], "result_count": 10**30, "purpose_of_use": "T" * 1000,
    })  # fmt: skip
    links: list[PatientLink] = []

    [row] = list(derive_rows([record], no_lookup, links)[0])
    [entry], _ = derive_entries([record], no_lookup)

    assert entry.query == {"unit": "E\ufffdD\u0007\u001b[31m", "q": huge}  # NUL → U+FFFD
    assert entry.record_ids == [huge]
    assert entry.patient_refs == [key_text(huge)] and entry.patient_ref == key_text(huge)
    assert links == [(key_text(huge), 7)]
    assert entry.result_count is None  # beyond any count a column holds
    assert len(entry.purpose_of_use or "") <= KEY_MAX_CHARS
    assert "\u0000" not in "".join(str(v) for v in row)


def test_who_an_entry_is_about() -> None:
    assert patients_of(None, None) == []
    assert patients_of("P-1", None) == ["P-1"]
    assert patients_of(None, ["P-1", "P-2", "P-1"], {"patientRef": "P-3"}) == ["P-1", "P-2", "P-3"]
    assert patients_of("P-1", ["P-1"], {"patientRef": "P-1"}) == ["P-1"]
    assert patients_of(None, [], {"unit": "ED"}) == []
