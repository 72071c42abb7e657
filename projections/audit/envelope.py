"""The envelope of a stored event, decoded for the audit trail without domain objects.

Only the fields the trail shows are decoded (a msgspec Struct; everything else in the stored
JSON is skipped unread), straight from the stored bytes. The library's tagged values
(``{"_type_": "datetime_iso" | "uuid_hex", "_data_": ...}``) stay tagged here and are turned
into microseconds or canonical UUID strings only for the row.

Three aggregates have fields of their own the trail shows besides the envelope: an attempt
(:class:`Attempt`), a read of patient data (:class:`Read`, an ``AccessRecord``) and an
export of the trail (:class:`Export`, a ``TrailExport``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from projections.shared.records import StoredRecord, without_nul

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


class Tagged(msgspec.Struct, gc=False):
    """The library's tagged value (``{"_type_": "uuid_hex", "_data_": "..."}``)."""

    data: str = msgspec.field(name="_data_")


class Envelope(msgspec.Struct, gc=False):
    """The fields of a stored event the trail needs; everything else is skipped unread."""

    timestamp: Tagged | None = None
    event_id: Tagged | None = None
    actor_id: str | None = None
    actor_role: str | None = None
    command_id: Tagged | None = None
    correlation_id: str | None = None
    occurred_at: Tagged | None = None
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    reason: str | None = None
    patient_ref: str | None = None
    corrects_event_id: Tagged | None = None


class Attempt(Envelope, gc=False):
    """A ``CommandAttempt``'s envelope, with the attempted command, its outcome and target."""

    outcome: str | None = None
    code: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None


class Read(Envelope, gc=False):
    """An ``AccessRecord``'s event: what a successful read returned, and why."""

    action: str | None = None
    outcome: str | None = None
    route: str | None = None
    query: dict[str, str] | None = None
    purpose_of_use: str | None = None
    patient_refs: list[str] | None = None
    record_ids: list[str] | None = None
    result_count: int | None = None


class Export(Envelope, gc=False):
    """A ``TrailExport``'s event: the format and the filters (its ``patient_ref`` is the
    envelope's field of that name)."""

    format: str | None = None
    filters: dict[str, str] | None = None
    purpose_of_use: str | None = None


#: The aggregate types whose events have a shape of their own (else :class:`Envelope`).
SHAPES: dict[str, type[Envelope]] = {
    "CommandAttempt": Attempt, "AccessRecord": Read, "TrailExport": Export,
}  # fmt: skip
_LISTS = frozenset({"patient_refs", "record_ids"})
_MAPPINGS = frozenset({"query", "filters"})
_DECODERS = {kind: msgspec.json.Decoder(kind).decode for kind in (Envelope, Attempt, Read, Export)}


def uuid_text(hex_digits: str) -> str:
    """32 hex digits (or a UUID's text) as a canonical UUID string."""
    h = hex_digits if len(hex_digits) == 32 else hex_digits.replace("-", "")
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def micros_of(tagged: Tagged | None) -> int | None:
    """A tagged datetime as microseconds since the epoch (UTC)."""
    if tagged is None:
        return None
    return (datetime.fromisoformat(tagged.data) - _EPOCH) // _MICROSECOND


def id_of(tagged: Tagged | None) -> str | None:
    """A tagged UUID as its canonical string."""
    return None if tagged is None else uuid_text(tagged.data)


def decode_envelope(record: StoredRecord, kind: type[Envelope] = Envelope) -> Envelope:
    """The envelope of ``record`` as ``kind`` (:data:`SHAPES` names the kind of each
    aggregate type), never raising for a field of an unexpected type."""
    # Decoded with NULs as U+FFFD (a PostgreSQL text column cannot hold one); the chain
    # hashes record.state, the stored bytes, untouched.
    state = without_nul(record.state)
    try:
        return _DECODERS[kind](state)
    except msgspec.ValidationError:
        # A field of an unexpected type (a future event's own "reason" object, say): take
        # the fields that have the expected types and leave the rest out.
        return _lenient(state, kind)


def _lenient(state: bytes, kind: type[Envelope]) -> Envelope:
    raw = msgspec.json.decode(state)
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(kind):
        value = raw.get(field.encode_name) if isinstance(raw, dict) else None
        if value is None:
            continue
        try:
            values[field.name] = msgspec.convert(value, field.type)
        except msgspec.ValidationError:
            # A list or an object with some items of the wrong type keeps the others.
            if isinstance(value, list) and field.name in _LISTS:
                values[field.name] = [v for v in value if isinstance(v, str)]
            elif isinstance(value, dict) and field.name in _MAPPINGS:
                values[field.name] = {k: v for k, v in value.items() if isinstance(v, str)}
    return kind(**values)
