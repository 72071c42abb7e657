"""The audit projection without a database: entries derived from stored records, the hash
chain, and the verify logic on intact, altered, removed, inserted and reordered logs."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import NotAuthorisedError
from application.shared.idempotency import CommandIdentity
from application.visits.commands import (
    AdmitPatient,
    CancelAdmission,
    CloseVisit,
    RegisterArrival,
    ScheduleVisit,
)
from domain.shared.errors import InvalidTransitionError
from projections.audit.trail import (
    GENESIS_HASH,
    AuditEntry,
    ChainLink,
    chain_hash,
    chain_hashes,
    derive_entries,
    names_of,
    verify_chain,
)
from projections.shared.records import StoredRecord

UTC = timezone.utc
CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="req-1")
CLINICIAN = RequestContext(
    actor_id="dr-1", actor_role="clinician", correlation_id="req-2", on_behalf_of="dr-boss"
)


def stored(memory_services: PatientServices) -> list[StoredRecord]:
    """The application's log as a projection worker reads it, but for the patient's bookings
    each booking writes beside its visit (bookkeeping: tests/api/test_capacity_api.py)."""
    return [
        StoredRecord(n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in memory_services.recorder.select_notifications(1, 10_000)
        if ":PatientBookings." not in n.topic
    ]


def schedule(memory_services: PatientServices, patient_ref: str = "P-1", **kwargs: object) -> UUID:
    start = datetime.now(UTC) + timedelta(days=1)
    command = ScheduleVisit(
        patient_ref=patient_ref, visit_class="AMB", service_unit="OPD", scheduled_start=start
    )
    return memory_services.execute(command, CLERK, **kwargs).id  # type: ignore[arg-type]


def no_lookup(keys: Collection[str]) -> dict[str, str | None]:
    raise AssertionError(f"nothing to look up, but asked for {sorted(keys)}")


# ---- entries ------------------------------------------------------------------------------
def test_a_creation_event_gives_who_what_when_and_the_patient(
    memory_services: PatientServices,
) -> None:
    visit_id = schedule(memory_services, "P-42")
    [record] = stored(memory_services)

    [entry], new_refs = derive_entries([record], no_lookup)

    event = memory_services.visit_events(visit_id)[0]
    assert entry == AuditEntry(
        position=record.position, event_id=str(event.event_id), aggregate_type="PatientVisit",
        aggregate_id=str(visit_id), version=1, action="VisitScheduled", outcome="recorded",
        patient_ref="P-42", actor_id="clerk-1", actor_role="clerk", on_behalf_of=None,
        occurred_at=event.occurred_at, recorded_at=event.timestamp, reason=None,
        source_system=None, source_message_id=None, command_id=str(event.command_id),
        correlation_id="req-1", corrects_event_id=None,
    )  # fmt: skip
    assert new_refs == {str(visit_id): "P-42"}


def test_later_events_inherit_the_patient_and_the_lookup_is_asked_once_per_batch(
    memory_services: PatientServices,
) -> None:
    first, second = schedule(memory_services, "P-1"), schedule(memory_services, "P-2")
    for visit_id in (first, second):
        memory_services.execute(RegisterArrival(), CLERK, target=visit_id)
    records = stored(memory_services)
    asked: list[set[str]] = []

    def lookup(keys: Collection[str]) -> dict[str, str | None]:
        asked.append(set(keys))
        return {str(first): "P-1", str(second): "P-2"}

    entries, new_refs = derive_entries(records[2:], lookup)
    entries_in_one_batch, _ = derive_entries(records, no_lookup)

    assert [(e.action, e.patient_ref) for e in entries] == [
        ("PatientArrived", "P-1"),
        ("PatientArrived", "P-2"),
    ]
    assert asked == [{str(first), str(second)}]
    assert new_refs == {}
    assert [e.patient_ref for e in entries_in_one_batch] == ["P-1", "P-2", "P-1", "P-2"]


def test_a_compensation_names_the_event_it_corrects_and_the_envelope_is_kept(
    memory_services: PatientServices,
) -> None:
    visit_id = schedule(memory_services)
    memory_services.execute(RegisterArrival(), CLERK, target=visit_id)
    admitted = memory_services.execute(AdmitPatient(unit="W1"), CLINICIAN, target=visit_id)
    memory_services.execute(CancelAdmission(reason="wrong patient"), CLINICIAN, target=visit_id)

    *_, admission, cancellation = derive_entries(stored(memory_services), no_lookup)[0]

    admission_event = memory_services.visit_events(visit_id)[admitted.version - 1]
    assert cancellation.action == "AdmissionCancelled"
    assert cancellation.corrects_event_id == str(admission_event.event_id)
    assert cancellation.reason == "wrong patient"
    assert (admission.actor_role, admission.on_behalf_of) == ("clinician", "dr-boss")


def test_refused_and_denied_attempts_name_the_command_outcome_and_target_patient(
    memory_services: PatientServices,
) -> None:
    visit_id = schedule(memory_services, "P-7")
    with pytest.raises(InvalidTransitionError):
        memory_services.execute(AdmitPatient(unit="W1"), CLINICIAN, target=visit_id)
    with pytest.raises(NotAuthorisedError):
        memory_services.execute(CloseVisit(), CLERK, target=visit_id)
    records = stored(memory_services)

    entries, new_refs = derive_entries(records[1:], lambda keys: {str(visit_id): "P-7"})

    refused, denied = entries
    assert (refused.aggregate_type, refused.action, refused.outcome, refused.code) == (
        "CommandAttempt", "AdmitPatient", "refused", "INVALID_TRANSITION",
    )  # fmt: skip
    assert (denied.action, denied.outcome, denied.code) == (
        "CloseVisit",
        "denied",
        "NOT_AUTHORISED",
    )
    assert {(e.target_type, e.target_id, e.patient_ref) for e in entries} == {
        ("PatientVisit", str(visit_id), "P-7")
    }
    assert (denied.actor_id, denied.actor_role, denied.correlation_id) == (
        "clerk-1", "clerk", "req-1",
    )  # fmt: skip
    assert new_refs == {}  # an attempt is not the visit's owner of the patient


def test_idempotency_bookkeeping_is_an_entry_without_an_actor(
    memory_services: PatientServices,
) -> None:
    schedule(
        memory_services, identity=CommandIdentity(scope="user:clerk-1", key="k", fingerprint="f")
    )

    visit, record = derive_entries(stored(memory_services), no_lookup)[0]

    assert (record.aggregate_type, record.action, record.outcome) == (
        "CommandRecord", "Accepted", "recorded",
    )  # fmt: skip
    assert (record.actor_id, record.patient_ref, record.event_id) == (None, None, None)
    assert record.recorded_at is not None and record.recorded_at >= visit.recorded_at


def test_an_event_with_unexpected_field_types_still_gives_its_envelope() -> None:
    state = msgspec.json.encode(
        {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-03-02T09:00:00+00:00"},
         "actor_id": "a-1", "reason": {"text": "an object, not a string"}, "patient_ref": 7}
    )  # fmt: skip
    record = StoredRecord(5, uuid4(), 1, "domain.future:Thing.Happened", state)

    [entry], _ = derive_entries([record], no_lookup)

    assert (entry.aggregate_type, entry.action, entry.actor_id) == ("Thing", "Happened", "a-1")
    assert (entry.reason, entry.patient_ref) == (None, None)
    assert entry.recorded_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "names"),
    [("domain.visits:PatientVisit.PatientArrived", ("PatientVisit", "PatientArrived")),
     ("application.shared.attempts:CommandAttempt.Refused", ("CommandAttempt", "Refused")),
     ("some.module:Loose", ("Loose", "Loose"))],
)  # fmt: skip
def test_aggregate_and_event_names_come_from_the_topic(topic: str, names: tuple[str, str]) -> None:
    assert names_of(topic) == names


# ---- the chain ----------------------------------------------------------------------------
def records_of(count: int) -> list[StoredRecord]:
    ids = [UUID(int=n + 1) for n in range(3)]
    return [
        StoredRecord(
            position=n + 1,
            originator_id=ids[n % 3],
            originator_version=n // 3 + 1,
            topic="domain.visits:PatientVisit.PatientArrived",
            state=b'{"n":%d}' % n,
        )
        for n in range(count)
    ]


def chain_of(records: list[StoredRecord]) -> list[ChainLink]:
    return [
        ChainLink(r.position, h)
        for r, h in zip(records, chain_hashes(GENESIS_HASH, records), strict=True)
    ]


def test_the_chain_is_deterministic_and_starts_at_the_fixed_genesis() -> None:
    records = records_of(5)

    # Pinned: a change to the genesis or the canonical bytes would break every stored chain.
    assert GENESIS_HASH == "12094ee583febcf91236954d251d39baa84233c5723fd16cd93ff9d5ca095fc3"
    assert chain_hash(GENESIS_HASH, records[0]) == (
        "7a6b5d6c8a54c5c64969f5667261760f5dc0f470ed6ea3ed92a2cdd8072ee6c1"
    )
    assert chain_hashes(GENESIS_HASH, records) == chain_hashes(GENESIS_HASH, records_of(5))
    assert chain_hashes(GENESIS_HASH, records)[1] == chain_hash(
        chain_hash(GENESIS_HASH, records[0]), records[1]
    )


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12))
def test_the_chain_does_not_depend_on_how_the_log_is_split_into_batches(
    split: int, count: int
) -> None:
    records = records_of(count)
    split = min(split, count)

    first = chain_hashes(GENESIS_HASH, records[:split])
    rest = chain_hashes(first[-1] if first else GENESIS_HASH, records[split:])

    assert first + rest == chain_hashes(GENESIS_HASH, records)


@pytest.mark.parametrize(
    "change",
    [{"position": 99}, {"originator_id": UUID(int=99)}, {"originator_version": 99},
     {"topic": "domain.visits:PatientVisit.PatientTriaged"}, {"state": b'{"n": 0}'}],
)  # fmt: skip
def test_every_stored_column_is_covered_by_the_hash(change: dict[str, object]) -> None:
    record = records_of(1)[0]

    assert chain_hash(GENESIS_HASH, dataclasses.replace(record, **change)) != chain_hash(
        GENESIS_HASH, record
    )


def test_the_previous_hash_is_covered() -> None:
    record = records_of(1)[0]
    other = chain_hash(GENESIS_HASH, record)

    assert chain_hash(other, record) != chain_hash(GENESIS_HASH, record)


# ---- verify -------------------------------------------------------------------------------
def test_an_intact_log_verifies() -> None:
    records = records_of(7)
    chain = chain_of(records)

    result = verify_chain(records, chain)

    assert (result.ok, result.checked, result.first_bad_position, result.problem) == (
        True, 7, None, None,
    )  # fmt: skip
    assert (result.head_hash, result.head_position) == (chain[-1].hash, 7)


def test_an_empty_log_and_chain_verify_with_the_genesis_head() -> None:
    result = verify_chain([], [])

    assert (result.ok, result.checked, result.head_hash, result.head_position) == (
        True, 0, GENESIS_HASH, 0,
    )  # fmt: skip


def test_an_altered_row_is_named_and_nothing_after_it_counts() -> None:
    records = records_of(7)
    chain = chain_of(records)
    records[3] = dataclasses.replace(records[3], state=b'{"n":33}')

    result = verify_chain(records, chain)

    assert (result.ok, result.first_bad_position, result.problem) == (False, 4, "altered")
    assert result.checked == 3
    assert result.head_hash == chain[-1].hash  # read to the end to report the head


def test_a_rewritten_chain_hash_is_named_as_altered() -> None:
    records = records_of(5)
    chain = chain_of(records)
    chain[2] = ChainLink(3, "0" * 64)

    assert verify_chain(records, chain).first_bad_position == 3


def test_a_removed_row_is_named() -> None:
    records = records_of(7)
    chain = chain_of(records)

    result = verify_chain(records[:2] + records[3:], chain, head=chain[-1])

    assert (result.ok, result.first_bad_position, result.problem) == (False, 3, "removed")
    assert result.checked == 2


def test_removing_the_newest_chained_row_is_named() -> None:
    records = records_of(4)

    result = verify_chain(records[:3], chain_of(records))

    assert (result.first_bad_position, result.problem) == (4, "removed")


def test_a_row_inserted_in_a_gap_is_named() -> None:
    records = [r for r in records_of(6) if r.position != 4]  # a gap, as after a rollback
    chain = chain_of(records)
    forged = StoredRecord(4, uuid4(), 1, "domain.visits:PatientVisit.VisitScheduled", b"{}")

    result = verify_chain(sorted([*records, forged], key=lambda r: r.position), chain)

    assert (result.ok, result.first_bad_position, result.problem) == (False, 4, "inserted")
    assert result.checked == 3


def test_rows_after_the_chain_head_are_not_chained_yet_unless_they_should_be() -> None:
    records = records_of(6)
    chain = chain_of(records[:4])

    assert verify_chain(records, chain).ok
    cut = verify_chain(records, chain, chained_up_to=6)
    assert (cut.first_bad_position, cut.problem) == (5, "inserted")


def test_two_rows_swapped_are_named_at_the_first_of_them() -> None:
    records = records_of(6)
    chain = chain_of(records)
    a, b = records[2], records[3]
    records[2] = dataclasses.replace(b, position=a.position)
    records[3] = dataclasses.replace(a, position=b.position)

    result = verify_chain(records, chain)

    assert (result.first_bad_position, result.problem) == (3, "altered")


@given(
    st.integers(min_value=1, max_value=15),
    st.data(),
    st.sampled_from(["alter", "remove", "insert", "swap"]),
)
def test_verify_names_exactly_the_first_tampered_position(
    count: int, data: st.DataObject, tamper: str
) -> None:
    # Every other position is a gap, so a forged row can be put in one.
    records = [dataclasses.replace(r, position=r.position * 2) for r in records_of(count)]
    chain = chain_of(records)
    index = data.draw(st.integers(min_value=0, max_value=count - 1), label="index")
    expected_position = records[index].position
    if tamper == "alter":
        records[index] = dataclasses.replace(records[index], state=b"{}")
        expected = "altered"
    elif tamper == "remove":
        del records[index]
        expected = "removed"
    elif tamper == "insert":
        expected_position -= 1
        forged = StoredRecord(expected_position, uuid4(), 1, "x:Y.Z", b"{}")
        records.insert(index, forged)
        expected = "inserted"
    else:
        if index + 1 == count:
            index -= 1
        if index < 0:
            return
        expected_position = records[index].position
        a, b = records[index], records[index + 1]
        records[index] = dataclasses.replace(b, position=a.position)
        records[index + 1] = dataclasses.replace(a, position=b.position)
        expected = "altered"

    result = verify_chain(records, chain)

    assert not result.ok
    assert (result.first_bad_position, result.problem) == (expected_position, expected)
