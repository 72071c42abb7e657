"""Audit trail entries: one per stored event, derived from the stored record.

Every record of the log gives one :class:`AuditEntry` (domain-spec §4: who, what, when, which
record, why), whatever its aggregate: visits, idempotency bookkeeping (``CommandRecord``),
refused or denied attempts (``CommandAttempt``: its ``action`` is the attempted command, its
``outcome`` ``refused`` or ``denied``), reads of patient data (``AccessRecord``: its
``action`` is what was read, ``read visit``, its outcome ``success``) and trail exports
(``TrailExport``). Only the envelope and those aggregates' own fields are decoded
(:mod:`projections.audit.envelope`). ``patient_ref`` comes from an aggregate's creation
event; its later events inherit it, and an attempt gets its target's; a read names its own.

Each entry is of one ``kind``: ``access`` (a read, an export of the trail, or a read that was
denied: an attempt whose action starts with ``read ``) or ``change`` (everything else,
refused commands included). The patients an entry is about (:func:`patients_of`) are kept
one row per patient, so a read that returned several patients is found under each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from projections.audit.envelope import (
    SHAPES,
    Attempt,
    Envelope,
    Export,
    Read,
    decode_envelope,
    id_of,
    micros_of,
)
from projections.shared.records import (
    KEY_MAX_CHARS,
    StoredRecord,
    from_micros,
    key_text,
    key_text_or_none,
)

#: The outcome of every ordinary event (a fact that was recorded).
RECORDED = "recorded"
#: The outcome of a read that returned its data.
SUCCESS = "success"
#: The outcomes of attempts: a business rule said no, or authorisation did.
ATTEMPT_OUTCOMES = ("refused", "denied")
#: Aggregates whose events are bookkeeping, not facts about a record: idempotency records,
#: and the capacity ledgers a booking command writes beside its visit in one transaction (a
#: patient's bookings, a slot's claims: the visit's own event says what was booked).
BOOKKEEPING_TYPES = frozenset({"CommandRecord", "PatientBookings", "SlotClaims"})
ATTEMPT_TYPE = "CommandAttempt"
ACCESS_TYPE = "AccessRecord"
EXPORT_TYPE = "TrailExport"
#: The two kinds of entry.
CHANGE = "change"
ACCESS = "access"
KINDS = (ACCESS, CHANGE)
#: An attempt with an action starting so is a denied read (an access, not a change).
READ_PREFIX = "read "
#: The query parameter of a read that names the patient asked about: a read filtered on a
#: patient is about that patient even when its list was too long to name (truncated).
PATIENT_QUERY_PARAMETER = "patientRef"
#: A count beyond a BIGINT column is not a count any request returned (a forged record).
_MAX_COUNT = 2**63 - 1


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the trail says about one stored event (camelCase in JSON). Ids are canonical
    UUID strings; times are UTC."""

    position: int
    #: The event's id (null when the stored record carries none).
    event_id: str | None
    #: The type of the record the event belongs to (PatientVisit, CommandAttempt, AccessRecord,
    #: ...).
    aggregate_type: str
    #: The id of the record the event belongs to.
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
    #: The id of the command that recorded the event: every event it recorded shares it.
    command_id: str | None
    correlation_id: str | None
    corrects_event_id: str | None
    #: An attempt's error code (``INVALID_TRANSITION``, ``NOT_AUTHORISED``).
    code: str | None = None
    #: The aggregate an attempt was aimed at.
    target_type: str | None = None
    #: The id of the record an attempt was aimed at (null if none).
    target_id: str | None = None
    #: ``access`` (a read, an export of the trail, a denied read) or ``change``.
    kind: str = CHANGE
    #: An access's HL7 v3 PurposeOfUse code (``TREAT``).
    purpose_of_use: str | None = None
    #: The patients a read returned (None for other entries; empty when the list was longer
    #: than the threshold and ``result_count`` says how many); an export's patient filter.
    patient_refs: list[str] | None = None
    #: The records a read returned (visit ids and the like).
    record_ids: list[str] | None = None
    #: How many records a read returned (null for other entries).
    result_count: int | None = None
    #: A read's route template (``/api/v1/visits/{visit_id}``).
    route: str | None = None
    #: A read's query parameters, or an export's filters.
    query: dict[str, str] | None = None
    #: An export's format (``csv``, ``fhir-r5-ndjson``).
    format: str | None = None


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
#: Fields stored as JSON text (lists and objects).
JSON_FIELDS = frozenset({"patient_refs", "record_ids", "query"})
_TIME_INDEXES = tuple(i for i, name in enumerate(ENTRY_FIELDS) if name in TIME_FIELDS)
_JSON_INDEXES = tuple(i for i, name in enumerate(ENTRY_FIELDS) if name in JSON_FIELDS)
#: (patient_ref, position): one per patient an entry is about (see :func:`derive_rows`).
PatientLink = tuple[str, int]

PatientRefLookup = Callable[[Collection[str]], Mapping[str, str | None]]


def derive_rows(
    records: Sequence[StoredRecord],
    lookup: PatientRefLookup,
    links: list[PatientLink] | None = None,
) -> tuple[Iterator[EntryRow], dict[str, str]]:
    """The entries of a batch (as stored rows, produced lazily), and the patient refs its
    creation events introduce (aggregate id → patient_ref).

    A visit's creation event states its patient; its later events inherit it, and an attempt
    gets its target's. Each record is decoded here and ``lookup`` asked once, for the
    aggregates whose patient ref the batch needs but does not itself create; the rows are
    built as they are consumed, so a bulk insert can send each while the next is made. As
    each row is made, ``links`` (if given) gets one ``(patient_ref, position)`` per patient
    the entry is about (:func:`patients_of`)."""
    decoded = []
    new_refs: dict[str, str] = {}
    wanted: set[str] = set()
    for record in records:
        aggregate_type, event_name = names_of(record.topic)
        f = decode_envelope(record, SHAPES.get(aggregate_type, Envelope))
        aggregate_id = str(record.originator_id)
        if isinstance(f, Attempt):
            key = f.target_id
        elif isinstance(f, Read):
            key = None  # a read names its patients itself...
            if not f.patient_refs and f.record_ids:
                # ...except one whose answer holds only record ids (a visit's timeline):
                # its patients are those records' own, as their creation events stated.
                wanted.update(i for i in f.record_ids if isinstance(i, str))
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
    return _rows(decoded, refs, links), new_refs


_encode_json = msgspec.json.encode


def _json_text(value: object) -> str | None:
    return None if value is None else _encode_json(value).decode()


def _rows(
    decoded: list[tuple[StoredRecord, str, str, str, Envelope, str | None]],
    refs: Mapping[str, str | None],
    links: list[PatientLink] | None,
) -> Iterator[EntryRow]:
    # Values kept in indexed columns (patient, actor, target, action, outcome, purpose,
    # source) are clipped when too long for an index entry (records.key_text); aggregate
    # ids are UUIDs.
    for record, aggregate_type, event_name, aggregate_id, f, key in decoded:
        kind = CHANGE
        code = target_type = target_id = purpose = route = format_ = None
        patient_refs: list[str] | None = None
        record_ids: list[str] | None = None
        count: int | None = None
        query: dict[str, str] | None = None
        if isinstance(f, Attempt):
            action = key_text(f.action or event_name)
            outcome = key_text(f.outcome or RECORDED)
            code, target_type, target_id = f.code, f.target_type, key_text_or_none(f.target_id)
            patient_ref = None
            if action.startswith(READ_PREFIX):
                kind = ACCESS
        elif isinstance(f, Read):
            kind = ACCESS
            action = key_text(f.action or event_name)
            outcome = key_text(f.outcome or SUCCESS)
            purpose, route, query = f.purpose_of_use, f.route, f.query
            record_ids = list(f.record_ids or ())
            if f.patient_refs:
                patient_refs = [key_text(ref) for ref in f.patient_refs]
            else:
                found = (refs.get(i) for i in record_ids if isinstance(i, str))
                patient_refs = list(dict.fromkeys(key_text(ref) for ref in found if ref))
            count = f.result_count
            if count is not None and not -_MAX_COUNT <= count <= _MAX_COUNT:
                count = None
            patient_ref = patient_refs[0] if len(set(patient_refs)) == 1 else None
        else:
            action, outcome = event_name, RECORDED
            patient_ref = f.patient_ref
            if isinstance(f, Export):
                kind, format_, query, purpose = ACCESS, f.format, f.filters, f.purpose_of_use
                patient_refs = None if f.patient_ref is None else [key_text(f.patient_ref)]
        if key is not None:
            patient_ref = refs.get(key)
        # Checked here, not by a call per row: nearly every value is short.
        if patient_ref and len(patient_ref) > KEY_MAX_CHARS:
            patient_ref = key_text(patient_ref)
        actor_id = f.actor_id
        if actor_id and len(actor_id) > KEY_MAX_CHARS:
            actor_id = key_text(actor_id)
        source_system = f.source_system
        if source_system and len(source_system) > KEY_MAX_CHARS:
            source_system = key_text(source_system)
        if purpose and len(purpose) > KEY_MAX_CHARS:
            purpose = key_text(purpose)
        if links is None:
            pass
        elif kind == CHANGE:  # nearly every entry: its one patient, if any
            if patient_ref:
                links.append((patient_ref, record.position))
        else:
            for ref in patients_of(patient_ref, patient_refs, query):
                links.append((ref, record.position))
        yield [
            record.position, id_of(f.event_id), aggregate_type, aggregate_id,
            record.originator_version, action, outcome, patient_ref, actor_id, f.actor_role,
            f.on_behalf_of, micros_of(f.occurred_at), micros_of(f.timestamp), f.reason,
            source_system, f.source_message_id, id_of(f.command_id), f.correlation_id,
            id_of(f.corrects_event_id), code, target_type, target_id, kind, purpose,
            _json_text(patient_refs), _json_text(record_ids), count, route, _json_text(query),
            format_,
        ]  # fmt: skip


def patients_of(
    patient_ref: str | None,
    patient_refs: Sequence[str] | None,
    query: Mapping[str, str] | None = None,
) -> list[str]:
    """The patients an entry is about, each once (clipped as indexed columns keep them): its
    ``patient_ref``, every patient a read returned, and the patient a read or an export
    asked about (its ``patientRef`` parameter), found or not."""
    found = dict.fromkeys(patient_refs or ())
    if patient_ref:
        found[patient_ref] = None
    asked = query.get(PATIENT_QUERY_PARAMETER) if query else None
    if isinstance(asked, str) and asked:
        found[key_text(asked)] = None
    return list(found)


_decode_json = msgspec.json.decode


def entry_from_row(row: Sequence[Any]) -> AuditEntry:
    values = list(row[: len(ENTRY_FIELDS)])
    for i in _TIME_INDEXES:
        values[i] = from_micros(values[i])
    for i in _JSON_INDEXES:
        if values[i] is not None:
            values[i] = _decode_json(values[i])
    return AuditEntry(**dict(zip(ENTRY_FIELDS, values, strict=True)))


def derive_entries(
    records: Sequence[StoredRecord], lookup: PatientRefLookup
) -> tuple[list[AuditEntry], dict[str, str]]:
    """:func:`derive_rows` as :class:`AuditEntry` values."""
    rows, new_refs = derive_rows(records, lookup)
    return [entry_from_row(row) for row in rows], new_refs
