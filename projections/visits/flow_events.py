"""A stored PatientVisit record as the flow fold reads it: one typed msgspec decode.

Only the fields the rows need are converted; datetimes and UUIDs stay in their stored form
(the library's ``{"_type_": ..., "_data_": ...}``) until a row needs them, and the fields the
rows only copy into the timeline's details are ``Any``, as stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec

from domain.shared.envelope import ENVELOPE_FIELDS
from projections.shared.records import untag

#: Attributes of a stored event that are envelope or bookkeeping, not the fact's own details
#: (``patient_ref`` too: the timeline names the visit, not the patient).
NOT_DETAILS = frozenset(
    {
        *ENVELOPE_FIELDS, "event_id", "timestamp", "originator_topic", "originator_id",
        "originator_version", "patient_ref", "corrects_event_id", "restored_status",
    }
)  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


class When(msgspec.Struct):
    """A stored datetime: the library's ``{"_type_": "datetime_iso", "_data_": iso}``."""

    data: datetime = msgspec.field(name="_data_")


class StoredId(msgspec.Struct):
    """A stored UUID: ``{"_type_": "uuid_hex", "_data_": hex}``."""

    data: str = msgspec.field(name="_data_")


class Envelope(msgspec.Struct):
    """What every PatientVisit event carries (``AuditedAggregate.Event``): all a timeline row
    needs of an event the fold does not know (its own fields are read apart, untyped)."""

    event_id: StoredId
    occurred_at: When
    timestamp: When
    actor_id: str
    actor_role: str
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    reason: str | None = None


class FlowEvent(Envelope):
    """Every field of every PatientVisit event the flow model reads (others are skipped)."""

    # creation
    patient_ref: Any = None
    visit_class: Any = None
    service_unit: Any = None
    scheduled_start: When | None = None
    scheduled_end: When | None = None
    reason_code: Any = None
    arrival_mode: Any = None
    visit_number: Any = None  # None too in a creation stored before visit numbers
    visit_number_authority: Any = None
    # flow
    late_cancellation: Any = None
    acuity_scale: Any = None
    acuity_level: Any = None
    clinician_ref: Any = None
    first_contact: Any = None
    target_unit: Any = None
    unit: Any = None
    bed: Any = None
    from_unit: Any = None
    from_bed: Any = None
    to_unit: Any = None
    to_bed: Any = None
    expected_return: When | None = None
    disposition: Any = None
    destination: Any = None
    deceased_at: When | None = None
    # corrections
    previous_status: Any = None
    changes: Any = None
    corrects_event_id: StoredId | None = None
    restored_status: str | None = None


decode_event = msgspec.json.Decoder(FlowEvent).decode
decode_envelope = msgspec.json.Decoder(Envelope).decode
#: An event's stored attributes, untyped (the fields of a class the fold does not know).
decode_attributes = msgspec.json.Decoder(dict[str, Any]).decode


def micros_of(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (UTC)."""
    return (moment - EPOCH) // MICROSECOND


def micros(when: When | None) -> int | None:
    return None if when is None else (when.data - EPOCH) // MICROSECOND


def canonical_uuid(stored: StoredId) -> str:
    """The canonical text of a stored UUID (the library stores ``UUID.hex``)."""
    h = stored.data
    if len(h) == 32 and h == h.lower():
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(UUID(h))


def plain(value: Any) -> Any:
    """A stored value as the domain event holds it (what the details show)."""
    if type(value) is When:
        return value.data
    if type(value) is StoredId:
        return UUID(value.data)
    return untag(value)


@lru_cache(maxsize=256)
def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)
