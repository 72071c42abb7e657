"""Signed audit checkpoints: the log's chain hash at one position, held outside the database.

The trail's hash chain (:mod:`projections.audit.chain`) catches a record altered against the
chain the audit tables hold, but someone who can rewrite the log, those tables and tracking
together can recompute a consistent chain. A checkpoint closes that gap up to its position:
it states the chain hash recomputed *from the log* over every record from genesis to
``position``, and is signed with Ed25519, so it can be kept where the database's users cannot
reach (a ticket, a report, an auditor's laptop) and checked later against the log as it then is.

**The checkpoint** is one JSON object::

    {"algorithm": "Ed25519", "format": "patient-services/audit-checkpoint/1",
     "headHash": "<64 hex digits>", "keyId": "<32 hex digits>", "position": 1234,
     "publicKey": "<base64 of the 32-byte raw public key>",
     "signature": "<base64 of the 64-byte signature>", "takenAt": "2026-12-03T12:00:00.500000Z"}

``keyId`` is the first 32 hex digits of the SHA-256 of the raw public key. ``headHash`` is
``hash(position)`` of the chain over the log (``GENESIS_HASH`` for an empty log, position 0).

**What is signed** (:func:`signed_bytes`): every field but ``signature``, as a JSON object with
its keys sorted and no whitespace, in UTF-8 (msgspec's ``order="sorted"``). The values are
integers and ASCII strings without escapes, so these are also the bytes of RFC 8785 (JCS) and
of Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"))``: anyone can check a
checkpoint with any Ed25519 library, without this code.

This module is pure (no I/O, no keys): :mod:`adapters.audit_signing` signs and verifies and
:mod:`adapters.audit_checkpoints` reads the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Final, Literal

import msgspec

from projections.audit.chain import GENESIS_HASH, LogRow, row_digest

FORMAT: Final = "patient-services/audit-checkpoint/1"
ALGORITHM: Final = "Ed25519"

#: What a check of a checkpoint can find: ``signature`` (not signed by the trusted key: the
#: checkpoint is not genuine, which says nothing about the log), ``rewritten`` (the log up to
#: the position no longer hashes to the head hash) or ``truncated`` (the log now ends before
#: the position).
CheckpointProblem = Literal["signature", "rewritten", "truncated"]

_HEX64 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
_BASE64 = "^[A-Za-z0-9+/]*={0,2}$"
_UTC_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"


class Checkpoint(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """A signed statement: the log's chain hash at ``position`` was ``head_hash``."""

    #: The checkpoint format: patient-services/audit-checkpoint/1.
    format: Literal["patient-services/audit-checkpoint/1"]
    #: The last log position hashed (0: the log was empty).
    #: At most 2**53 - 1, so that every JSON tool reads it exactly (and far beyond any log).
    position: Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
    #: The chain hash recomputed from the log at `position` (SHA-256, 64 hex digits).
    head_hash: _HEX64
    #: When it was taken: RFC 3339 in UTC (``Z``), kept as the text that was signed.
    taken_at: Annotated[str, msgspec.Meta(pattern=_UTC_TIME)]
    #: The signature algorithm: Ed25519.
    algorithm: Literal["Ed25519"]
    #: The signing key's id: the first 32 hex digits of the SHA-256 of the raw public key.
    key_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{32}$")]
    #: The signing key's raw 32-byte Ed25519 public key, base64.
    public_key: Annotated[str, msgspec.Meta(min_length=44, max_length=44, pattern=_BASE64)]
    #: The 64-byte Ed25519 signature, base64, over every other field as sorted, compact JSON.
    signature: Annotated[str, msgspec.Meta(min_length=88, max_length=88, pattern=_BASE64)]


class CheckpointResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The outcome of checking a checkpoint against the log (the JSON ``audit verify
    --checkpoint`` prints and ``POST /audit/verify`` answers)."""

    #: Whether the checkpoint is genuine and the log still hashes to it.
    ok: bool
    #: Log records hashed (0 when the signature was refused: the log was not read).
    checked: int
    #: The position the checkpoint states its hash at.
    checkpoint_position: int
    #: What the check found: signature (not signed by the trusted key), rewritten or truncated; null
    #: when ok.
    problem: CheckpointProblem | None
    #: One sentence for a person: what was found.
    detail: str
    #: The chain hash recomputed from the log at the checkpoint's position (None when it
    #: could not be: a refused signature, or a log that ends before the position).
    head_hash: str | None
    #: The key the checkpoint says signed it.
    key_id: str
    #: The newest position in the log now (0 if it was not read).
    log_position: int


def key_id_of(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:32]


def signed_bytes(checkpoint: Checkpoint) -> bytes:
    """The bytes the signature covers: every field but ``signature``, keys sorted, compact."""
    fields = msgspec.to_builtins(checkpoint)
    del fields["signature"]
    return msgspec.json.encode(fields, order="sorted")


class LogDigest(msgspec.Struct, frozen=True):
    """The chain over a run of the log from genesis: its last hash and position, and how many
    records it covered."""

    head_hash: str
    last_position: int
    records: int


def digest_log(rows: Iterable[LogRow]) -> LogDigest:
    """Chain the log's ``rows`` (ordered by position, from the first; see
    :func:`~projections.audit.chain.log_rows_of`) from ``GENESIS_HASH``: the same hashes as
    the trail's chain, computed without the audit tables."""
    previous = bytes.fromhex(GENESIS_HASH)
    last_position = count = 0
    for row in rows:
        previous = row_digest(previous, row)
        last_position = row[0]
        count += 1
    return LogDigest(previous.hex(), last_position, count)


def compare(checkpoint: Checkpoint, digest: LogDigest, log_position: int) -> CheckpointResult:
    """Judge the log's chain up to the checkpoint's position against the checkpoint.

    ``digest`` covers the log's records up to ``checkpoint.position``; ``log_position`` is the
    newest position in the log now. The record at the checkpoint's position must still be
    there: if the log ends before it, it was truncated; if later records exist but not that
    one, the log up to it was rewritten (and so its hash differs anyway)."""
    position = checkpoint.position

    def result(ok: bool, problem: CheckpointProblem | None, detail: str) -> CheckpointResult:
        return CheckpointResult(
            ok=ok, checked=digest.records, checkpoint_position=position, problem=problem,
            detail=detail, head_hash=digest.head_hash if problem != "truncated" else None,
            key_id=checkpoint.key_id, log_position=log_position,
        )  # fmt: skip

    if log_position < position:
        return result(
            False, "truncated",
            f"the log ends at position {log_position}, before the checkpoint's position "
            f"{position}: records up to it were removed",
        )  # fmt: skip
    if digest.head_hash != checkpoint.head_hash or digest.last_position != position:
        return result(
            False, "rewritten",
            f"the log up to position {position} was rewritten since the checkpoint taken at "
            f"{checkpoint.taken_at}: its chain hash differs from the signed one",
        )  # fmt: skip
    return result(
        True, None,
        f"the log up to position {position} is unchanged since the checkpoint taken at "
        f"{checkpoint.taken_at} ({digest.records} records)",
    )  # fmt: skip


def refused_signature(checkpoint: Checkpoint, detail: str) -> CheckpointResult:
    """The result for a checkpoint whose signature the trusted key does not verify."""
    return CheckpointResult(
        ok=False, checked=0, checkpoint_position=checkpoint.position, problem="signature",
        detail=detail, head_hash=None, key_id=checkpoint.key_id, log_position=0,
    )  # fmt: skip


def utc_text(moment: datetime) -> str:
    """``moment`` as a checkpoint states it: RFC 3339 in UTC with ``Z``, to the microsecond."""
    text: str = msgspec.to_builtins(moment.astimezone(timezone.utc))
    return text
