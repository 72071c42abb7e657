"""The envelope of a stored event, decoded for the audit trail without domain objects.

Only the fields the trail shows are decoded (a msgspec Struct; everything else in the stored
JSON is skipped unread), straight from the stored bytes. The library's tagged values
(``{"_type_": "datetime_iso" | "uuid_hex", "_data_": ...}``) stay tagged here and are turned
into microseconds or canonical UUID strings only for the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


_decode_plain = msgspec.json.Decoder(Envelope).decode
_decode_attempt = msgspec.json.Decoder(Attempt).decode


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


def decode_envelope(record: StoredRecord, attempt: bool) -> Envelope:
    """The envelope of ``record`` (an :class:`Attempt` when ``attempt``), never raising for a
    field of an unexpected type."""
    # Decoded with NULs as U+FFFD (a PostgreSQL text column cannot hold one); the chain
    # hashes record.state, the stored bytes, untouched.
    state = without_nul(record.state)
    try:
        return (_decode_attempt if attempt else _decode_plain)(state)
    except msgspec.ValidationError:
        # A field of an unexpected type (a future event's own "reason" object, say): take
        # the envelope fields that have the expected types and leave the rest out.
        return _lenient(state, Attempt if attempt else Envelope)


def _lenient(state: bytes, kind: type[Envelope]) -> Envelope:
    raw = msgspec.json.decode(state)
    values: dict[str, str | Tagged] = {}
    for name in kind.__struct_fields__:
        value = raw.get(name) if isinstance(raw, dict) else None
        if isinstance(value, str):
            values[name] = value
        elif isinstance(value, dict) and isinstance(value.get("_data_"), str):
            values[name] = Tagged(value["_data_"])
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError:
        return kind()
