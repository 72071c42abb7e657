"""The stored log as projections see it: raw records, decoded fast.

Workers read rows straight from the events table and hand them over as
:class:`StoredRecord`. A projection decodes only the records it wants: ``msgspec`` turns the
stored JSON into a dict about 2.5 times faster than the library's transcoder, and the
library's three tagged types (``{"_type_": "datetime_iso" | "uuid_hex" | "decimal_str",
"_data_": ...}``) are turned back into values here. :func:`domain_event` rebuilds the
domain event object exactly as the library's mapper does (same class, same ``__dict__``),
so a projection can fold it with the aggregate's own ``apply``.

**Odd text.** A read-model store must hold whatever the log holds, the same on every backend
(the log may hold text that commands refuse today: written before a rule, or by a feed):

* a NUL (U+0000), which a PostgreSQL text column cannot hold, reaches a projection as U+FFFD
  (:func:`without_nul`, applied to the stored JSON before every decode; the audit chain
  still hashes the stored bytes);
* an identifier over :data:`KEY_MAX_CHARS` characters is kept *clipped* in an indexed column
  (:func:`key_text`), as a btree entry must fit in a third of a page (about 2.7 kB on
  PostgreSQL). Free text in unindexed columns stays whole.

Lone surrogates never get this far: the log's JSON transcoder cannot encode them (the command
fails and records nothing), and the HTTP layer's JSON decoder refuses them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.utils import TopicError, resolve_topic

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_decode_json = msgspec.json.Decoder(dict).decode

# ---- odd text ---------------------------------------------------------------------------
#: A JSON string escape of U+0000 that is not itself escaped text: ``\u0000`` after an even
#: run of backslashes (``\\u0000`` is the text "\u0000", a backslash and five characters).
_ESCAPED_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_NUL = b"\\u0000"
_BACKSLASH = ord("\\")


def without_nul(state: bytes) -> bytes:
    r"""The stored JSON with every NUL character turned into U+FFFD (the replacement
    character), for a projection to decode.

    The log's JSON encoders escape every control character, so a NUL can only be the six
    bytes ``\u0000``, and there is none without a backslash: a record with no backslash at
    all (nearly every one) costs one ``memchr`` and is returned as it is."""
    try:
        if _BACKSLASH not in state or _NUL not in state:
            return state
    except TypeError:  # text, not bytes: SQLite keeps whatever type an UPDATE wrote
        return without_nul(state.encode() if isinstance(state, str) else bytes(state))
    return _ESCAPED_NUL.sub(rb"\1\\ufffd", state)


#: Identifiers longer than this are clipped in indexed columns (:func:`key_text`).
KEY_MAX_CHARS = 256
#: A clipped identifier keeps this many first characters, then "…" and a digest.
KEY_HEAD_CHARS = 200


def key_text(value: str) -> str:
    """``value`` as an indexed column keeps it: whole up to :data:`KEY_MAX_CHARS` characters,
    else its first :data:`KEY_HEAD_CHARS`, "…" and the first 16 hex digits of the SHA-256 of
    the whole value (UTF-8): at most 217 characters, deterministic (every store and every
    rebuild agree), and two values that share their first 200 characters still differ (but
    for a 64-bit digest collision). Idempotent. A query must clip its filter value the same
    way to find a clipped one (the HTTP filters are far shorter than the limit)."""
    if len(value) <= KEY_MAX_CHARS:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{value[:KEY_HEAD_CHARS]}…{digest}"


def key_text_or_none(value: str | None) -> str | None:
    return None if value is None else key_text(value)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the events table: its global position and its stored bytes."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def untag(value: Any) -> Any:
    """A stored value with the library's tagged datetimes, UUIDs and Decimals restored."""
    if isinstance(value, dict):
        kind = value.get("_type_")
        if kind is not None and len(value) == 2:
            data = value["_data_"]
            if kind == "datetime_iso":
                return datetime.fromisoformat(data)
            if kind == "uuid_hex":
                return UUID(data)
            if kind == "decimal_str":
                return Decimal(data)
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def decode_state(state: bytes) -> dict[str, Any]:
    """The event's attributes, with datetimes, UUIDs and Decimals restored."""
    return {k: untag(v) for k, v in _decode_json(without_nul(state)).items()}


@lru_cache(maxsize=512)
def event_class(topic: str) -> type:
    cls: type = resolve_topic(topic)
    return cls


@lru_cache(maxsize=4096)
def is_event_of(topic: str, aggregate: type) -> bool:
    """Whether ``topic`` names an event of ``aggregate``. Decided by class, not by the topic's
    text: events stored before a class moved carry its old module path, which
    ``register_topic`` maps to the class. A topic naming no class (one removed since) is an
    event of no aggregate."""
    try:
        cls = event_class(topic)
    except TopicError:
        return False
    return isinstance(cls, type) and issubclass(cls, aggregate.Event)  # type: ignore[attr-defined]


@lru_cache(maxsize=4096)
def is_lost_event_of(topic: str, aggregate: type) -> bool:
    """Whether ``topic`` names a class nested in ``aggregate`` that no longer resolves: an
    event class removed or renamed since its records were stored. The topic no longer leads
    to a class, but its enclosing name (``module:Aggregate`` of ``module:Aggregate.Name``)
    still leads to the aggregate, so its records are still that aggregate's."""
    try:
        event_class(topic)
    except TopicError:
        pass
    else:
        return False
    module, _, qualname = topic.partition(":")
    owner, dot, _ = qualname.rpartition(".")
    if not dot:
        return False
    try:
        cls = event_class(f"{module}:{owner}")
    except TopicError:
        return False
    return isinstance(cls, type) and issubclass(cls, aggregate)


def domain_event(record: StoredRecord) -> Any:
    """The domain event object of a record, as the library's mapper would build it."""
    cls = event_class(record.topic)
    attributes = decode_state(record.state)
    attributes["originator_id"] = record.originator_id
    attributes["originator_version"] = record.originator_version
    event: Any = object.__new__(cls)
    object.__setattr__(event, "__dict__", attributes)
    return event


def to_micros(moment: datetime | None) -> int | None:
    """Read models store instants as integer microseconds since the epoch (UTC): the same
    type on PostgreSQL and SQLite, exact, and fast to compare and index."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc).replace(
        microsecond=micros % 1_000_000
    )


class FirstSighting:
    """Which keys this process has met before, so that something said about each (a
    warning about an unknown event class) is said once, not once per record. Safe across
    the worker's threads."""

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """True the first time ``key`` is met, False ever after."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True
