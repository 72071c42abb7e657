"""What the flow fold needs to know about a stored topic, resolved once per topic per process.

A topic names an event class the fold handles (its reducer, whether a compensation may cancel
it, which of its fields the timeline shows), or one it does not know: a PatientVisit event
class added since this code was written, or a topic that no longer resolves (a class removed
or renamed without ``register_topic``). An unknown class never stops the fold: its records
are folded **timeline-only** (a timeline row with the class's name and its stored fields as
details; the visit's flow state is unchanged), and, unless the fold lists it as ``IGNORED``
(knowingly left alone), it is logged once per class per process as a ``flow.unknown_event``
warning naming the topic (never a value of the record: they may be patient data).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import structlog
from eventsourcing.utils import TopicError

from domain.shared.envelope import ENVELOPE_FIELDS
from projections.shared.records import FirstSighting, event_class, untag, without_nul
from projections.visits.flow_events import FlowEvent, camel, decode_attributes, plain
from projections.visits.flow_reducers import REDUCERS, Reducer

log = structlog.get_logger("projections")

#: Attributes of a stored event that are envelope or bookkeeping, not the fact's own details
#: (``patient_ref`` too: the timeline names the visit, not the patient).
_NOT_DETAILS = frozenset(
    {
        *ENVELOPE_FIELDS, "event_id", "timestamp", "originator_topic", "originator_id",
        "originator_version", "patient_ref", "corrects_event_id", "restored_status",
    }
)  # fmt: skip
#: An unknown class marks no fact as corrected, so a correction's fields, if it has them,
#: are shown among its details rather than as the timeline's marks.
_NOT_UNKNOWN_DETAILS = _NOT_DETAILS - {"corrects_event_id", "restored_status"}
#: The FlowEvent fields decoded as stored (``Any``): shown as they are, no conversion.
_AS_STORED = frozenset(f.name for f in msgspec.structs.fields(FlowEvent) if f.type is Any)
_encode_json = msgspec.json.Encoder().encode


class Kind:
    """One topic as the fold sees it. ``reduce`` is None for an event class the fold does
    not know (folded timeline-only)."""

    __slots__ = ("name", "reduce", "cancellable", "details", "plain")

    def __init__(
        self,
        name: str,
        reduce: Reducer | None = None,
        cancellable: bool = False,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        #: The timeline's ``event_type``: the class's name.
        self.name = name
        self.reduce = reduce
        self.cancellable = cancellable
        #: (camelCase key, attribute) of the event's own fields, in the stored order.
        self.details = details
        #: Whether every detail is stored as it is shown (no datetime, no nested values).
        self.plain = not any(name == "changes" or name not in _AS_STORED for _, name in details)


def _known(cls: type, reduce: Reducer, cancellable: bool) -> Kind:
    details = tuple(
        (camel(f.name), f.name) for f in dataclasses.fields(cls) if f.name not in _NOT_DETAILS
    )
    missing = [name for _, name in details if name not in FlowEvent.__struct_fields__]
    if missing:  # a coding error, not a record's: the reducer reads fields it cannot decode
        raise LookupError(f"FlowEvent lacks {cls.__name__}'s fields {missing}")
    return Kind(cls.__name__, reduce, cancellable, details)


#: Each topic met, resolved (the fold looks here first: the hot path is one dict lookup).
KINDS: dict[str, Kind] = {}
#: The unknown classes (a class, or the topic that no longer resolves) already logged.
_UNKNOWN = FirstSighting()


def kind_of(topic: str, ignored: frozenset[str] = frozenset()) -> Kind:
    """The topic's kind; a class named in ``ignored`` (knowingly left alone) is folded
    timeline-only without a warning."""
    kind = KINDS.get(topic)
    if kind is None:
        kind = KINDS[topic] = _resolve(topic, ignored)
    return kind


def _resolve(topic: str, ignored: frozenset[str]) -> Kind:
    try:
        cls = event_class(topic)
    except TopicError:
        # The class's own name is the topic's last part ("module:Aggregate.Name").
        name = topic.partition(":")[2].rpartition(".")[2] or topic
        _warn_once(topic, topic, resolves=False)
        return Kind(name)
    entry = REDUCERS.get(cls)
    if entry is not None:
        return _known(cls, *entry)
    if cls.__name__ not in ignored:
        _warn_once(cls, topic, resolves=True)
    return Kind(cls.__name__)


def _warn_once(identity: object, topic: str, *, resolves: bool) -> None:
    """Log an unknown class (``identity``: the class, or the topic that does not resolve)
    the first time this process meets it, under any of its topics."""
    if not _UNKNOWN.first(identity):
        return
    log.warning("flow.unknown_event", topic=topic, resolves=resolves, folded="timeline-only")


def details_of(kind: Kind, event: FlowEvent) -> str:
    """The JSON object of a known event's own fields, camelCase (before/after of each field
    for a correction)."""
    if not kind.details:
        return "{}"
    if kind.plain:
        return _encode_json({key: getattr(event, name) for key, name in kind.details}).decode()
    details = {}
    for key, name in kind.details:
        value = getattr(event, name)
        if name == "changes":  # VisitDetailsCorrected: field → {before, after}
            value = {camel(field): change for field, change in value.items()}
        details[key] = plain(value)
    return _encode_json(details).decode()


def unknown_details(state: bytes) -> str:
    """The JSON object of an unknown event's own stored fields, camelCase, as stored."""
    attributes = decode_attributes(without_nul(state))
    return _encode_json(
        {camel(k): untag(v) for k, v in attributes.items() if k not in _NOT_UNKNOWN_DETAILS}
    ).decode()
