"""Who a message is about and who sent it, without personal data.

The patient's identifier (PID-3, the medical record number) never reaches the store: it
becomes an opaque ``patientRef`` through a keyed hash (HMAC-SHA256 under a secret setting),
so the same patient always gets the same ref, and without the secret no one can go from a
ref back to the MRN, nor test a guessed MRN against a ref. The sender's names and control id
become the identifiers stored on every event (``source_system``, ``source_message_id``),
kept to the characters an identifier may hold.
"""

from __future__ import annotations

import hashlib
import hmac
import re

#: What an identifier stored on an event may be (as the X-Source-* headers of the API).
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")
_NOT_IDENTIFIER_CHARACTER = re.compile(r"[^A-Za-z0-9._:/@-]")
#: The prefix of every ref the feed derives, so a ref says where it came from.
PATIENT_REF_PREFIX = "mrn-"


class PatientRefs:
    """``patientRef`` for a patient identifier under its assigning authority."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def ref_for(self, identifier: str, authority: str | None) -> str:
        """The same ref for the same (authority, identifier), always; 128 bits of the MAC,
        as 32 hex digits: collisions are out of reach for any hospital's population."""
        name = f"{authority or ''}\x1f{identifier}".encode()
        digest = hmac.new(self._key, name, hashlib.sha256).hexdigest()
        return PATIENT_REF_PREFIX + digest[:32]


def as_identifier(value: str) -> str:
    """``value`` as an identifier: unchanged when it is one, else with each character an
    identifier may not hold replaced by ``_`` (``EPIC ADT`` → ``EPIC_ADT``), and cut to
    100 characters. Deterministic, so a resend maps to the same identifier."""
    if _IDENTIFIER.fullmatch(value):
        return value
    cleaned = _NOT_IDENTIFIER_CHARACTER.sub("_", value)
    if not cleaned[:1].isalnum():
        cleaned = "x" + cleaned
    return cleaned[:100]


def source_system_of(application: str | None, facility: str | None) -> str:
    """``source_system``: MSH-3 and MSH-4, as ``application/facility`` when both are plain
    identifiers without ``/``. It scopes the idempotency of MSH-10, so two senders must never
    share one: any other pair (``EPIC ADT``, or a ``/`` that would shift the split) becomes a
    digest of both parts exactly as sent, unlike any plain pair."""
    if not application and not facility:
        return "unknown"
    if application and _plain(application) and (not facility or _plain(facility)):
        return f"{application}/{facility}" if facility else application
    digest = hashlib.sha256(f"{application or ''}\x1f{facility or ''}".encode()).hexdigest()
    return f"hl7-sha256:{digest[:40]}"


def _plain(part: str) -> bool:
    return _IDENTIFIER.fullmatch(part) is not None and "/" not in part


def message_id_of(control_id: str) -> str:
    """``source_message_id``: MSH-10 as an identifier. A control id that is not one (rare:
    spaces, or over 100 characters) becomes a digest of itself, so two never share one."""
    if _IDENTIFIER.fullmatch(control_id):
        return control_id
    return "sha256:" + hashlib.sha256(control_id.encode()).hexdigest()[:48]
