"""Idempotency fingerprints are keyed (HMAC-SHA256), so the one kept beside a command cannot
confirm a guess at what the request said; a request retried across a key rotation, or from
before keying, still matches what its first run stored."""

from __future__ import annotations

import hashlib

from application.shared.idempotency import KEYED, CommandIdentity, Fingerprints

PARTS = ("POST", "/api/v1/complaints", "", b'{"summary":"my mother was shouted at"}')
OLD, NEW = b"o" * 32, b"n" * 32


def test_a_keyed_fingerprint_is_not_the_plain_hash_of_the_request() -> None:
    identity = Fingerprints(key=NEW).identity("user:mo", "k-1", *PARTS)

    assert identity.fingerprint.startswith(KEYED)
    plain = CommandIdentity.fingerprint_of(*PARTS)
    assert plain not in identity.fingerprint
    assert hashlib.sha256(PARTS[-1]).hexdigest() not in identity.fingerprint


def test_the_same_request_matches_what_an_earlier_key_or_no_key_stored() -> None:
    before_keying = Fingerprints().identity("user:mo", "k-1", *PARTS).fingerprint
    under_old_key = Fingerprints(key=OLD).identity("user:mo", "k-1", *PARTS).fingerprint

    now = Fingerprints(key=NEW, previous=(OLD,)).identity("user:mo", "k-1", *PARTS)

    assert now.matches(now.fingerprint)
    assert now.matches(under_old_key) and now.matches(before_keying)
    other = Fingerprints(key=NEW, previous=(OLD,)).identity("user:mo", "k-1", *PARTS[:-1], b"{}")
    assert not other.matches(now.fingerprint)
    assert not other.matches(under_old_key) and not other.matches(before_keying)
    # Another key never matches: a fingerprint is only good with its own key.
    assert (
        not Fingerprints(key=b"x" * 32).identity("user:mo", "k-1", *PARTS).matches(now.fingerprint)
    )
