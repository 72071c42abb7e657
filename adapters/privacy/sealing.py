"""Sealing one text under a data key, and wrapping data keys under the KEK.

A sealed text is stored as ``sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``:
AES-256-GCM with a random 96-bit nonce, the record and field it belongs to as associated data
(so a sealed value copied into another record or field does not open). A data key is wrapped
the same way under the KEK, its key id as associated data, and stored with the KEK's id so an
old KEK can still unwrap it during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed:v1:"
KEY_BYTES = 32
_NONCE_BYTES = 12

__all__ = ["KEY_BYTES", "PREFIX", "InvalidTag", "KeyRing", "new_data_key", "open_text",
           "parse", "seal_text"]  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def context_of(record_id: str, field: str) -> bytes:
    """The associated data of a sealed field: the record it belongs to and its name."""
    return f"{record_id}\x1f{field}".encode()


def seal_text(key: bytes, key_id: str, text: str, context: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8", "surrogatepass"), context)
    return f"{PREFIX}{key_id}:{_b64(nonce + sealed)}"


def parse(value: object) -> tuple[str, bytes] | None:
    """``(key id, sealed bytes)`` of a sealed value, None for anything else (plain text
    stored before sealing began, None, a number)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    key_id, _, body = value[len(PREFIX) :].partition(":")
    if not key_id or not body:
        return None
    try:
        return key_id, _unb64(body)
    except ValueError:
        return None


def open_text(key: bytes, sealed: bytes, context: bytes) -> str:
    """The text; raises :class:`InvalidTag` when it was altered or belongs elsewhere."""
    if len(sealed) <= _NONCE_BYTES:
        raise InvalidTag()
    plain = AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context)
    return plain.decode("utf-8", "surrogatepass")


def kek_id_of(kek: bytes) -> str:
    """A KEK's public name: enough to tell KEKs apart, nothing to attack it with."""
    return hashlib.sha256(b"patient-services:kek:" + kek).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The current KEK, which wraps every new data key, and the previous ones, which only
    unwrap (for the time a rotation takes)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return kek_id_of(self.current)

    def wrap(self, key_id: str, data_key: bytes) -> tuple[str, str]:
        """``(kek id, wrapped key as base64url)``."""
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = AESGCM(self.current).encrypt(nonce, data_key, key_id.encode())
        return self.current_id, _b64(nonce + wrapped)

    def unwrap(self, kek_id: str, key_id: str, wrapped: str) -> bytes | None:
        """The data key, or None when no KEK of the ring has that id (or it does not open)."""
        for kek in (self.current, *self.previous):
            if kek_id_of(kek) == kek_id:
                raw = _unb64(wrapped)
                try:
                    return AESGCM(kek).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                               key_id.encode())  # fmt: skip
                except InvalidTag:
                    return None
        return None
