"""Ids derived from natural keys, so a command finds its aggregate without a lookup table
and two writers of the same key meet on the same aggregate (the store's version check then
serialises them): a unit by its code, a slot by its schedule and start, a patient's bookings
by the patient's opaque reference.

The namespaces are fixed for ever: every stored id depends on them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID, uuid5

UNIT_NAMESPACE = UUID("5f0c2a52-6f5e-5b8e-9a7e-2d1f3c4b5a61")
SLOT_NAMESPACE = UUID("0d7b9a1e-3c2f-5a4d-8e6b-7f1a2b3c4d5e")
BOOKINGS_NAMESPACE = UUID("9c1e2d3f-4a5b-5c6d-9e7f-8a9b0c1d2e3f")
WAITLIST_NAMESPACE = UUID("3b2a1c0d-9e8f-5a7b-8c6d-5e4f3a2b1c0d")


def unit_id_for(code: str) -> UUID:
    """The unit with this code (exactly as written: unit codes are compared as HL7 does)."""
    return uuid5(UNIT_NAMESPACE, code)


def slot_id_for(schedule_id: UUID, start: datetime) -> UUID:
    """The claims on one slot of a schedule, named by the slot's start in UTC."""
    instant = start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return uuid5(SLOT_NAMESPACE, f"{schedule_id}/{instant}")


def bookings_id_for(patient_ref: str) -> UUID:
    """The bookings of the patient with this opaque reference."""
    return uuid5(BOOKINGS_NAMESPACE, patient_ref)


def waitlist_id_for(schedule_id: UUID) -> UUID:
    """The waitlist of a schedule."""
    return uuid5(WAITLIST_NAMESPACE, str(schedule_id))


def waitlist_entry_id_for(waitlist_id: UUID, patient_ref: str) -> UUID:
    """A patient's place on a waitlist (a patient waits once per schedule). It also names the
    slot place an offer to the patient holds."""
    return uuid5(waitlist_id, patient_ref)
