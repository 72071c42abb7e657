"""Taking a signed audit checkpoint of the stored log, and checking one against it.

Both read the events table itself, never the audit read model's tables: a checkpoint must
hold against someone who rewrote those too. The log is streamed in batches by the reader
``audit verify`` uses (:mod:`adapters.readmodels.audit.store`), in one snapshot (REPEATABLE
READ on PostgreSQL; SQLite's read transaction is one), so memory stays bounded on any log.
The format and what is signed are in :mod:`projections.audit.checkpoint`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from adapters.audit_signing import raw_public_key, sign, signature_holds
from adapters.readmodels.audit.store import VERIFY_BATCH

# The verify path's log reader, reused as it is (one reader of the log for the audit chain).
from adapters.readmodels.audit.store import _log_rows as log_rows
from adapters.readmodels.database import ReadDatabase, Transaction
from projections.audit.checkpoint import (
    ALGORITHM,
    FORMAT,
    Checkpoint,
    CheckpointResult,
    compare,
    digest_log,
    key_id_of,
    refused_signature,
    signed_bytes,
    utc_text,
)

_HEAD_QUERIES = {
    "postgres": "SELECT max(notification_id) FROM patient_services_events",
    "sqlite": "SELECT max(rowid) FROM events.stored_events",
}


@contextmanager
def _snapshot(database: ReadDatabase) -> Iterator[Transaction]:
    with database.read() as tx:
        if tx.dialect == "postgres":
            tx.cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield tx


def _log_head(tx: Transaction) -> int:
    rows = tx.execute(_HEAD_QUERIES[tx.dialect])
    return int(rows[0][0] or 0)


def take_checkpoint(database: ReadDatabase, key: Ed25519PrivateKey, now: datetime) -> Checkpoint:
    """A checkpoint of the whole log as it stands, signed with ``key``.

    Events recorded meanwhile are simply after its position: the head and the records are
    read in one snapshot."""
    with _snapshot(database) as tx:
        position = _log_head(tx)
        digest = digest_log(log_rows(tx, position, VERIFY_BATCH))
    raw = raw_public_key(key.public_key())
    unsigned = Checkpoint(
        format=FORMAT, position=position, head_hash=digest.head_hash, taken_at=utc_text(now),
        algorithm=ALGORITHM, key_id=key_id_of(raw),
        public_key=base64.b64encode(raw).decode(), signature="",
    )  # fmt: skip
    return msgspec.structs.replace(unsigned, signature=sign(key, signed_bytes(unsigned)))


def check_checkpoint(
    database: ReadDatabase, checkpoint: Checkpoint, trusted: Ed25519PublicKey
) -> CheckpointResult:
    """Check ``checkpoint``'s signature against ``trusted`` (never against the key the
    checkpoint names), then recompute the log's chain from genesis to its position.

    A checkpoint the trusted key did not sign is refused before the log is read."""
    trusted_id = key_id_of(raw_public_key(trusted))
    if not signature_holds(trusted, checkpoint.signature, signed_bytes(checkpoint)):
        if checkpoint.key_id != trusted_id:
            detail = (
                f"the checkpoint names key {checkpoint.key_id}, not the trusted key "
                f"{trusted_id}, and the trusted key did not sign it: it is not genuine"
            )
        else:
            detail = "the signature does not match the checkpoint: it is not genuine"
        return refused_signature(checkpoint, detail)
    with _snapshot(database) as tx:
        head = _log_head(tx)
        digest = digest_log(log_rows(tx, min(checkpoint.position, head), VERIFY_BATCH))
    return compare(checkpoint, digest, head)
