"""Signed audit checkpoints without a database: what is signed (bytes anyone can rebuild),
that an outsider with only the JSON, the public key and a stock Ed25519 library can check
one, that the log's digest is the trail's chain, and how a log is judged against one."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone

import msgspec
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.audit_signing import (
    parse_public_key,
    public_key_pem,
    raw_public_key,
    sign,
    signature_holds,
)
from projections.audit.chain import GENESIS_HASH, chain_hashes, log_rows_of
from projections.audit.checkpoint import (
    ALGORITHM,
    FORMAT,
    Checkpoint,
    LogDigest,
    compare,
    digest_log,
    key_id_of,
    signed_bytes,
    utc_text,
)
from projections.shared.records import StoredRecord

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def records(count: int, first: int = 1) -> list[StoredRecord]:
    return [
        StoredRecord(
            position,
            uuid.UUID(int=position),
            1,
            "domain.visits:Visit.Created",
            b'{"n":%d}' % position,
        )  # fmt: skip
        for position in range(first, first + count)
    ]


def checkpoint_of(log: list[StoredRecord], key: Ed25519PrivateKey = KEY) -> Checkpoint:
    digest = digest_log(log_rows_of(log))
    raw = raw_public_key(key.public_key())
    unsigned = Checkpoint(
        format=FORMAT, position=digest.last_position, head_hash=digest.head_hash,
        taken_at=utc_text(datetime(2026, 12, 3, 12, 0, 0, 500000, tzinfo=timezone.utc)),
        algorithm=ALGORITHM, key_id=key_id_of(raw), public_key=base64.b64encode(raw).decode(),
        signature="",
    )  # fmt: skip
    return msgspec.structs.replace(unsigned, signature=sign(key, signed_bytes(unsigned)))


def test_the_signed_bytes_are_the_sorted_compact_json_of_every_field_but_the_signature() -> None:
    checkpoint = checkpoint_of(records(3))
    as_written = json.loads(msgspec.json.encode(checkpoint))

    del as_written["signature"]
    assert (
        signed_bytes(checkpoint)
        == json.dumps(as_written, sort_keys=True, separators=(",", ":")).encode()
    )
    assert list(as_written) == [
        "format", "position", "headHash", "takenAt", "algorithm", "keyId", "publicKey",
    ]  # fmt: skip
    assert as_written["takenAt"] == "2026-12-03T12:00:00.500000Z"


def test_an_outsider_checks_a_checkpoint_with_only_its_json_and_a_stock_ed25519_library() -> None:
    text = msgspec.json.encode(checkpoint_of(records(5)))

    fields = json.loads(text)
    signature = base64.b64decode(fields.pop("signature"))
    message = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    public_key = Ed25519PublicKey.from_public_bytes(raw_public_key(KEY.public_key()))
    public_key.verify(signature, message)  # raises if it does not hold
    fields["headHash"] = "0" * 64
    forged = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, forged)


def test_the_log_digest_is_the_trails_chain_hash_at_the_last_record() -> None:
    log = records(7)

    digest = digest_log(log_rows_of(log))

    assert digest == LogDigest(chain_hashes(GENESIS_HASH, log)[-1], 7, 7)
    assert digest_log(log_rows_of([])) == LogDigest(GENESIS_HASH, 0, 0)


def test_an_unchanged_log_passes_and_records_after_the_position_do_not_count() -> None:
    checkpoint = checkpoint_of(records(4))

    result = compare(checkpoint, digest_log(log_rows_of(records(4))), log_position=9)

    assert (result.ok, result.problem, result.checked) == (True, None, 4)
    assert result.head_hash == checkpoint.head_hash
    assert "unchanged" in result.detail and "position 4" in result.detail


def test_a_changed_byte_before_the_position_is_reported_as_rewritten() -> None:
    checkpoint = checkpoint_of(records(4))
    changed = records(4)
    changed[1] = StoredRecord(2, changed[1].originator_id, 1, changed[1].topic, b'{"n":20}')

    result = compare(checkpoint, digest_log(log_rows_of(changed)), log_position=4)

    assert (result.ok, result.problem, result.checkpoint_position) == (False, "rewritten", 4)
    assert "rewritten" in result.detail and "position 4" in result.detail


def test_a_log_lacking_the_positions_record_is_rewritten_and_one_ending_before_truncated() -> None:
    checkpoint = checkpoint_of(records(4))

    gone = compare(
        checkpoint, digest_log(log_rows_of(records(3))), log_position=6
    )  # 4 deleted, 5-6 new
    short = compare(checkpoint, digest_log(log_rows_of(records(3))), log_position=3)

    assert (gone.ok, gone.problem) == (False, "rewritten")
    assert (short.ok, short.problem, short.head_hash) == (False, "truncated", None)
    assert "ends at position 3" in short.detail


def test_signatures_hold_only_for_the_signed_bytes_and_the_signing_key() -> None:
    checkpoint = checkpoint_of(records(2))
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    moved = msgspec.structs.replace(checkpoint, position=1)

    assert signature_holds(KEY.public_key(), checkpoint.signature, signed_bytes(checkpoint))
    assert not signature_holds(KEY.public_key(), checkpoint.signature, signed_bytes(moved))
    assert not signature_holds(other.public_key(), checkpoint.signature, signed_bytes(checkpoint))
    assert not signature_holds(KEY.public_key(), "not base64!", signed_bytes(checkpoint))


def test_a_public_key_is_read_from_pem_or_from_the_base64_of_its_raw_bytes() -> None:
    public = KEY.public_key()
    raw = raw_public_key(public)

    assert raw_public_key(parse_public_key(public_key_pem(public).encode())) == raw
    assert raw_public_key(parse_public_key(base64.b64encode(raw) + b"\n")) == raw
    x25519 = X25519PrivateKey.generate().public_key()
    for bad in (
        b"-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n",
        x25519.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        base64.b64encode(b"short"),
        b"not base64 at all",
    ):
        with pytest.raises(ValueError):
            parse_public_key(bad)


@pytest.mark.parametrize(
    "change",
    [
        {"position": -1},
        {"headHash": "A" * 64},
        {"takenAt": "2026-12-03T12:00:00+01:00"},
        {"algorithm": "RS256"},
        {"format": "other/1"},
        {"signature": "c2hvcnQ="},
        {"extra": 1},
    ],
)
def test_a_malformed_checkpoint_does_not_decode(change: dict[str, object]) -> None:
    fields = msgspec.to_builtins(checkpoint_of(records(1)))

    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode({**fields, **change}), type=Checkpoint)
