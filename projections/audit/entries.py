"""Audit trail entries: one per stored event, derived from the stored record.

Every record of the log gives one :class:`AuditEntry` (domain-spec §4: who, what, when, which
record, why), whatever its aggregate: visits, idempotency bookkeeping (``CommandRecord``),
refused or denied attempts (``CommandAttempt``: its ``action`` is the attempted command, its
``outcome`` ``refused`` or ``denied``) and trail exports. Only the envelope is decoded
(:mod:`projections.audit.envelope`). ``patient_ref`` comes from an aggregate's creation event;
its later events inherit it, and an attempt gets its target's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from projections.audit.envelope import Attempt, Envelope, decode_envelope, id_of, micros_of
from projections.shared.records import (
    KEY_MAX_CHARS,
    StoredRecord,
    from_micros,
    key_text,
    key_text_or_none,
)

#: The outcome of every ordinary event (a fact that was recorded).
RECORDED = "recorded"
#: Aggregates whose events are idempotency bookkeeping, not facts about a record.
BOOKKEEPING_TYPES = frozenset({"CommandRecord"})
ATTEMPT_TYPE = "CommandAttempt"


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the trail says about one stored event (camelCase in JSON). Ids are canonical
    UUID strings; times are UTC."""

    position: int
    event_id: str | None
    aggregate_type: str
    aggregate_id: str
    version: int
    #: The event class name (``PatientArrived``), or the attempted command for an attempt.
    action: str
    #: ``recorded``, or ``refused`` / ``denied`` for an attempt.
    outcome: str
    patient_ref: str | None
    actor_id: str | None
    actor_role: str | None
    on_behalf_of: str | None
    occurred_at: datetime | None
    #: When the event was stored (the event's ``timestamp``).
    recorded_at: datetime | None
    reason: str | None
    source_system: str | None
    source_message_id: str | None
    command_id: str | None
    correlation_id: str | None
    corrects_event_id: str | None
    #: An attempt's error code (``INVALID_TRANSITION``, ``NOT_AUTHORISED``).
    code: str | None = None
    #: The aggregate an attempt was aimed at.
    target_type: str | None = None
    target_id: str | None = None


@lru_cache(maxsize=1024)
def names_of(topic: str) -> tuple[str, str]:
    """``domain.visits.visit:PatientVisit.PatientArrived`` →
    ``("PatientVisit", "PatientArrived")``."""
    qualname = topic.rpartition(":")[2]
    aggregate, _, event = qualname.rpartition(".")
    return (aggregate or event), event


#: An entry as stored: its values in :data:`ENTRY_FIELDS` order, instants as integer
#: microseconds since the epoch (UTC). The fast path builds these, not Structs.
EntryRow = list[Any]
ENTRY_FIELDS: tuple[str, ...] = AuditEntry.__struct_fields__
TIME_FIELDS = frozenset({"occurred_at", "recorded_at"})
_TIME_INDEXES = tuple(i for i, name in enumerate(ENTRY_FIELDS) if name in TIME_FIELDS)

PatientRefLookup = Callable[[Collection[str]], Mapping[str, str | None]]


def derive_rows(
    records: Sequence[StoredRecord], lookup: PatientRefLookup
) -> tuple[Iterator[EntryRow], dict[str, str]]:
    """The entries of a batch (as stored rows, produced lazily), and the patient refs its
    creation events introduce (aggregate id → patient_ref).

    A visit's creation event states its patient; its later events inherit it, and an attempt
    gets its target's. Each record is decoded here and ``lookup`` asked once, for the
    aggregates whose patient ref the batch needs but does not itself create; the rows are
    built as they are consumed, so a bulk insert can send each while the next is made."""
    decoded = []
    new_refs: dict[str, str] = {}
    wanted: set[str] = set()
    for record in records:
        aggregate_type, event_name = names_of(record.topic)
        attempt = aggregate_type == ATTEMPT_TYPE
        f = decode_envelope(record, attempt)
        aggregate_id = str(record.originator_id)
        if attempt:
            key = f.target_id if isinstance(f, Attempt) else None
        elif f.patient_ref is not None:
            key = None
            if record.originator_version == 1:
                new_refs[aggregate_id] = f.patient_ref
        else:
            key = None if record.originator_version == 1 else aggregate_id
        if key:
            wanted.add(key)
        decoded.append((record, aggregate_type, event_name, aggregate_id, f, key))
    wanted -= new_refs.keys()
    refs = {**lookup(wanted), **new_refs} if wanted else new_refs
    return _rows(decoded, refs), new_refs


def _rows(
    decoded: list[tuple[StoredRecord, str, str, str, Envelope, str | None]],
    refs: Mapping[str, str | None],
) -> Iterator[EntryRow]:
    # Values kept in indexed columns (patient, actor, target, action, outcome) are clipped
    # when too long for an index entry (records.key_text); aggregate ids are UUIDs.
    for record, aggregate_type, event_name, aggregate_id, f, key in decoded:
        if isinstance(f, Attempt):
            action = key_text(f.action or event_name)
            outcome = key_text(f.outcome or RECORDED)
            code, target_type, target_id = f.code, f.target_type, key_text_or_none(f.target_id)
            patient_ref = None
        else:
            action, outcome = event_name, RECORDED
            code = target_type = target_id = None
            patient_ref = f.patient_ref
        if key is not None:
            patient_ref = refs.get(key)
        # Checked here, not by a call per row: nearly every value is short.
        if patient_ref and len(patient_ref) > KEY_MAX_CHARS:
            patient_ref = key_text(patient_ref)
        actor_id = f.actor_id
        if actor_id and len(actor_id) > KEY_MAX_CHARS:
            actor_id = key_text(actor_id)
        yield [
            record.position, id_of(f.event_id), aggregate_type, aggregate_id,
            record.originator_version, action, outcome, patient_ref, actor_id, f.actor_role,
            f.on_behalf_of, micros_of(f.occurred_at), micros_of(f.timestamp), f.reason,
            f.source_system, f.source_message_id, id_of(f.command_id), f.correlation_id,
            id_of(f.corrects_event_id), code, target_type, target_id,
        ]  # fmt: skip


def entry_from_row(row: Sequence[Any]) -> AuditEntry:
    values = list(row[: len(ENTRY_FIELDS)])
    for i in _TIME_INDEXES:
        values[i] = from_micros(values[i])
    return AuditEntry(**dict(zip(ENTRY_FIELDS, values, strict=True)))


def derive_entries(
    records: Sequence[StoredRecord], lookup: PatientRefLookup
) -> tuple[list[AuditEntry], dict[str, str]]:
    """:func:`derive_rows` as :class:`AuditEntry` values."""
    rows, new_refs = derive_rows(records, lookup)
    return [entry_from_row(row) for row in rows], new_refs
