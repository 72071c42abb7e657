"""The audit trail's hash chain over the stored log (tamper evidence)::

    hash(n) = sha256(hash(n-1) || position || originator_version || len(topic) ||
                     len(state) || originator_id (16 bytes) || topic || state)

with big-endian fixed-width integers and ``hash(0) = GENESIS_HASH``. The state is hashed
exactly as stored, so any change to a stored byte, a position, an id, a version or a topic
changes that entry's hash and, through ``hash(n-1)``, every later one. Chains already stored
were made with these bytes: the layout must never change.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

import msgspec

from projections.audit.entries import EntryRow
from projections.shared.records import StoredRecord

GENESIS_HASH = hashlib.sha256(b"patient-services:audit-chain:genesis").hexdigest()

#: The fixed-width fields before the id: position, version, len(topic), len(state).
_HEADER = struct.Struct(">qqII")


def state_bytes(state: bytes | str) -> bytes:
    if isinstance(state, bytes):
        return state
    # A value that is no longer a BLOB (SQLite keeps whatever type an UPDATE wrote).
    return state.encode() if isinstance(state, str) else bytes(state)


#: A log row as a reader of the whole log takes it: position, originator id (its 16 bytes),
#: version, topic (UTF-8 bytes), state (the stored bytes). A plain tuple: no object per row.
LogRow = tuple[int, bytes, int, bytes, bytes]


def log_rows_of(records: Iterable[StoredRecord]) -> Iterator[LogRow]:
    for r in records:
        yield (r.position, r.originator_id.bytes, r.originator_version, r.topic.encode(),
               state_bytes(r.state))  # fmt: skip


def row_bytes(row: LogRow) -> bytes:
    """What the chain hashes of a row: its place, identity, topic and stored bytes (the one
    place the layout is written)."""
    position, originator_id, version, topic, state = row
    return _HEADER.pack(position, version, len(topic), len(state)) + originator_id + topic + state


def row_digest(previous: bytes, row: LogRow) -> bytes:
    """The chain's hash of ``row`` after ``previous``, both as bytes."""
    return hashlib.sha256(previous + row_bytes(row)).digest()


def canonical_bytes(record: StoredRecord) -> bytes:
    """What the chain hashes of a record."""
    return row_bytes(next(log_rows_of((record,))))


def chain_hash(previous_hash: str, record: StoredRecord) -> str:
    return row_digest(bytes.fromhex(previous_hash), next(log_rows_of((record,)))).hex()


def iter_chain_hashes(previous_hash: str, records: Iterable[StoredRecord]) -> Iterator[str]:
    """The hashes of ``records`` chained after ``previous_hash``, in order (the same as
    :func:`chain_hash` one by one, without converting each digest back from hex)."""
    previous = bytes.fromhex(previous_hash)
    for row in log_rows_of(records):
        previous = row_digest(previous, row)
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
