"""The audit trail: one entry per stored event, and a hash chain over the stored log.

Backend-neutral: this module derives entries and hashes from :class:`StoredRecord` rows and
checks a chain; :mod:`adapters.readmodels.audit.store` keeps them in tables.

**Entries** (domain-spec §4: who, what, when, which record, why). Every record of the log
gives one :class:`AuditEntry`, whatever its aggregate: visits, idempotency bookkeeping
(``CommandRecord``), refused or denied attempts (``CommandAttempt``: its ``action`` is the
attempted command, its ``outcome`` ``refused`` or ``denied``) and trail exports. Only the
envelope is decoded (a msgspec Struct, no domain objects). ``patient_ref`` comes from an
aggregate's creation event; its later events inherit it, and an attempt gets its target's.

**Hash chain** (tamper evidence)::

    hash(n) = sha256(hash(n-1) || position || originator_version || len(topic) ||
                     len(state) || originator_id (16 bytes) || topic || state)

with big-endian fixed-width integers and ``hash(0) = GENESIS_HASH``. The state is hashed
exactly as stored, so any change to a stored byte, a position, an id, a version or a topic
changes that entry's hash and, through ``hash(n-1)``, every later one.

**Verify** merges the log and the chain in position order and names the first problem:
``altered`` (a position in both whose recomputed hash differs from the stored one),
``removed`` (a chained position missing from the log), ``inserted`` (a log row the chain does
not have, at or below the chain head).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

import msgspec

from projections.shared.records import (
    KEY_MAX_CHARS,
    StoredRecord,
    from_micros,
    key_text,
    key_text_or_none,
    without_nul,
)

GENESIS_HASH = hashlib.sha256(b"patient-services:audit-chain:genesis").hexdigest()

#: The outcome of every ordinary event (a fact that was recorded).
RECORDED = "recorded"
#: Aggregates whose events are idempotency bookkeeping, not facts about a record.
BOOKKEEPING_TYPES = frozenset({"CommandRecord"})
ATTEMPT_TYPE = "CommandAttempt"

#: ``parked``: the chain lacks records its worker could not apply (kept aside with their
#: error): not tampering, but the trail is not complete until a rebuild applies them.
Problem = Literal["altered", "removed", "inserted", "parked"]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


# ---- entries ------------------------------------------------------------------------------
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


class _Tagged(msgspec.Struct, gc=False):
    """The library's tagged value (``{"_type_": "uuid_hex", "_data_": "..."}``)."""

    data: str = msgspec.field(name="_data_")


class _Envelope(msgspec.Struct, gc=False):
    """The fields of a stored event the trail needs; everything else is skipped unread."""

    timestamp: _Tagged | None = None
    event_id: _Tagged | None = None
    actor_id: str | None = None
    actor_role: str | None = None
    command_id: _Tagged | None = None
    correlation_id: str | None = None
    occurred_at: _Tagged | None = None
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    reason: str | None = None
    patient_ref: str | None = None
    corrects_event_id: _Tagged | None = None


class _Attempt(_Envelope, gc=False):
    outcome: str | None = None
    code: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_attempt = msgspec.json.Decoder(_Attempt).decode


@lru_cache(maxsize=1024)
def names_of(topic: str) -> tuple[str, str]:
    """``domain.visits.visit:PatientVisit.PatientArrived`` →
    ``("PatientVisit", "PatientArrived")``."""
    qualname = topic.rpartition(":")[2]
    aggregate, _, event = qualname.rpartition(".")
    return (aggregate or event), event


def _uuid(hex_digits: str) -> str:
    h = hex_digits if len(hex_digits) == 32 else hex_digits.replace("-", "")
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _micros(tagged: _Tagged | None) -> int | None:
    if tagged is None:
        return None
    return (datetime.fromisoformat(tagged.data) - _EPOCH) // _MICROSECOND


def _id(tagged: _Tagged | None) -> str | None:
    return None if tagged is None else _uuid(tagged.data)


def _decode(record: StoredRecord, attempt: bool) -> _Envelope:
    # Decoded with NULs as U+FFFD (a PostgreSQL text column cannot hold one); the chain
    # hashes record.state, the stored bytes, untouched.
    state = without_nul(record.state)
    try:
        return (_decode_attempt if attempt else _decode_envelope)(state)
    except msgspec.ValidationError:
        # A field of an unexpected type (a future event's own "reason" object, say): take
        # the envelope fields that have the expected types and leave the rest out.
        return _lenient(state, _Attempt if attempt else _Envelope)


def _lenient(state: bytes, kind: type[_Envelope]) -> _Envelope:
    raw = msgspec.json.decode(state)
    values = {}
    for name in kind.__struct_fields__:
        value = raw.get(name) if isinstance(raw, dict) else None
        if isinstance(value, str):
            values[name] = value
        elif isinstance(value, dict) and isinstance(value.get("_data_"), str):
            values[name] = _Tagged(value["_data_"])
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError:
        return kind()


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
        f = _decode(record, attempt)
        aggregate_id = str(record.originator_id)
        if attempt:
            key = f.target_id if isinstance(f, _Attempt) else None
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
    decoded: list[tuple[StoredRecord, str, str, str, _Envelope, str | None]],
    refs: Mapping[str, str | None],
) -> Iterator[EntryRow]:
    # Values kept in indexed columns (patient, actor, target, action, outcome) are clipped
    # when too long for an index entry (records.key_text); aggregate ids are UUIDs.
    for record, aggregate_type, event_name, aggregate_id, f, key in decoded:
        if isinstance(f, _Attempt):
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
            record.position, _id(f.event_id), aggregate_type, aggregate_id,
            record.originator_version, action, outcome, patient_ref, actor_id, f.actor_role,
            f.on_behalf_of, _micros(f.occurred_at), _micros(f.timestamp), f.reason,
            f.source_system, f.source_message_id, _id(f.command_id), f.correlation_id,
            _id(f.corrects_event_id), code, target_type, target_id,
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


# ---- the hash chain -----------------------------------------------------------------------
_HEADER = struct.Struct(">qqII")


def _state_bytes(state: bytes | str) -> bytes:
    if isinstance(state, bytes):
        return state
    # A value that is no longer a BLOB (SQLite keeps whatever type an UPDATE wrote).
    return state.encode() if isinstance(state, str) else bytes(state)


def canonical_bytes(record: StoredRecord) -> bytes:
    """What the chain hashes of a record: its place, identity, topic and stored bytes."""
    topic = record.topic.encode()
    state = _state_bytes(record.state)
    header = _HEADER.pack(record.position, record.originator_version, len(topic), len(state))
    return header + record.originator_id.bytes + topic + state


def chain_hash(previous_hash: str, record: StoredRecord) -> str:
    return hashlib.sha256(bytes.fromhex(previous_hash) + canonical_bytes(record)).hexdigest()


def iter_chain_hashes(previous_hash: str, records: Iterable[StoredRecord]) -> Iterator[str]:
    """The hashes of ``records`` chained after ``previous_hash``, in order (the same as
    :func:`chain_hash` one by one, without converting each digest back from hex)."""
    previous = bytes.fromhex(previous_hash)
    sha256, pack = hashlib.sha256, _HEADER.pack
    for record in records:
        topic = record.topic.encode()
        state = _state_bytes(record.state)
        header = pack(record.position, record.originator_version, len(topic), len(state))
        previous = sha256(previous + header + record.originator_id.bytes + topic + state).digest()
        yield previous.hex()


def chain_hashes(previous_hash: str, records: Iterable[StoredRecord]) -> list[str]:
    return list(iter_chain_hashes(previous_hash, records))


def chained_rows(
    rows: Iterable[EntryRow], records: Iterable[StoredRecord], previous_hash: str
) -> Iterator[EntryRow]:
    """Each row with its chain hash and the previous one appended (lazily)."""
    previous = previous_hash
    for row, entry_hash in zip(rows, iter_chain_hashes(previous_hash, records), strict=True):
        row += (entry_hash, previous)
        previous = entry_hash
        yield row


class ChainLink(msgspec.Struct, frozen=True, array_like=True):
    position: int
    hash: str


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The outcome of :func:`verify_chain` (the JSON of ``GET /audit/verify``)."""

    ok: bool
    #: Chained entries found intact, in order, before the first problem (all, if ok).
    checked: int
    first_bad_position: int | None
    #: The stored chain's newest hash: record it elsewhere (a ticket, a notary) to anchor
    #: the chain, since someone who rewrites the log and the chain together is not caught.
    head_hash: str
    head_position: int
    problem: Problem | None = None
    #: Log positions the chain skips because the audit worker parked them.
    parked_positions: list[int] = msgspec.field(default_factory=list)


def _last(links: Iterable[ChainLink], last: ChainLink | None) -> ChainLink | None:
    for link in links:
        last = link
    return last


def verify_chain(
    log: Iterable[StoredRecord],
    chain: Iterable[ChainLink],
    *,
    head: ChainLink | None = None,
    chained_up_to: int | None = None,
    parked: Collection[int] = (),
) -> VerifyResult:
    """Check the chain against the log; both ordered by position.

    ``chained_up_to`` is the position up to which every log row must be chained (the
    projection's tracked position; by default the last link's): a log row after the last
    link but not after it is ``inserted`` (or the chain's tail was cut off); rows after it are
    not chained yet and are not looked at. ``head`` is the chain's last link when the caller
    knows it (else the chain is read to its end after a problem, to report it).

    ``parked`` are positions the worker set aside: the chain runs past them (each link
    chains to the one before it), so they are skipped in the log, and the result is
    ``parked`` rather than ok unless tampering is found first."""
    records = (record for record in log if record.position not in parked)
    links = iter(chain)
    previous = GENESIS_HASH
    checked = 0
    record = next(records, None)
    last: ChainLink | None = None

    def bad(position: int, problem: Problem) -> VerifyResult:
        newest = head or _last(links, last)
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=position, problem=problem,
            head_hash=newest.hash if newest else GENESIS_HASH,
            head_position=newest.position if newest else 0,
        )  # fmt: skip

    for link in links:
        last = link
        if record is None or record.position > link.position:
            return bad(link.position, "removed")
        if record.position < link.position:
            return bad(record.position, "inserted")
        computed = chain_hash(previous, record)
        if computed != link.hash:
            return bad(link.position, "altered")
        previous = computed
        checked += 1
        record = next(records, None)
    if record is not None and chained_up_to is not None and record.position <= chained_up_to:
        return bad(record.position, "inserted")
    if parked:
        skipped = sorted(parked)
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=skipped[0], problem="parked",
            head_hash=last.hash if last else GENESIS_HASH,
            head_position=last.position if last else 0, parked_positions=skipped,
        )  # fmt: skip
    return VerifyResult(
        ok=True, checked=checked, first_bad_position=None,
        head_hash=last.hash if last else GENESIS_HASH,
        head_position=last.position if last else 0,
    )  # fmt: skip
