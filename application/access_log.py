"""Saving reads of patient-linked data (:mod:`application.shared.access`): many
:class:`AccessRecord`\\ s in one ``save``, so one transaction.

The HTTP layer notes each successful read as a :class:`PendingAccess` (who, on whose behalf,
in which request, when, and what it returned) and hands it to a buffer that calls
:func:`record_accesses` in the background (``adapters/access_recording.py``). Each access
becomes its own one-event aggregate, stamped with its own envelope: ``occurred_at`` is when
the read happened, the event's timestamp (``recordedAt``) when it was saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application.shared.access import Access, AccessRecord
from domain.shared.base import event_id_for
from domain.shared.envelope import Envelope


@dataclass(frozen=True)
class PendingAccess:
    """One successful read, not yet saved."""

    access: Access
    actor_id: str
    #: Every role of the token (comma-joined in the envelope's ``actor_role``, as a denial).
    actor_roles: tuple[str, ...]
    correlation_id: str
    #: When the read happened (the answer was ready), not when it is saved.
    occurred_at: datetime
    on_behalf_of: str | None = None
    #: Given on the first attempt to save it and kept for every retry, so a save that did
    #: commit although its answer was lost is recognised (its record exists) and not made
    #: twice. Not drawn when the read happens: ``uuid4()`` is a system call, and the read
    #: path of the board is kept free of them (see ``new_correlation_id``).
    record_id: UUID | None = None
    command_id: UUID | None = None

    def numbered(self) -> PendingAccess:
        """This access with its ids (drawn now if it has none yet)."""
        if self.record_id is not None:
            return self
        return replace(self, record_id=uuid4(), command_id=uuid4())

    def envelope(self) -> Envelope:
        assert self.command_id is not None, "numbered() before it is saved"
        return Envelope(
            actor_id=self.actor_id, actor_role=",".join(self.actor_roles),
            command_id=self.command_id, correlation_id=self.correlation_id,
            occurred_at=self.occurred_at, on_behalf_of=self.on_behalf_of,
        )  # fmt: skip


def record_accesses(app: Application[UUID], accesses: Sequence[PendingAccess]) -> int | None:
    """Save ``accesses`` (each :meth:`~PendingAccess.numbered`) in one transaction: all of
    them or none. Returns the position of the last, or None when there were none. Blocking."""
    for pending in accesses:
        if pending.record_id is None:
            raise ValueError("an access is numbered before it is saved")
    if not accesses:
        return None
    mapper = app.mapper
    if mapper.cipher is not None or mapper.compressor is not None:
        # The library's own path, which encrypts or compresses as configured.
        events = [
            AccessRecord.accessed_event(p.access, p.envelope(), record_id=p.record_id)
            for p in accesses
            if p.record_id is not None
        ]
        return app.save(*events)[-1].notification.id
    # Straight to the recorder: a board read makes one of these per request, thousands a
    # second, and the library's save (its protocol checks, its json encoder) cost several
    # times the rest of the read. Nothing else happens in save() for these: no snapshots,
    # no cached aggregates, no subscribers. A unit test keeps the stored events equal to
    # the library's, field by field, after decoding.
    ids = app.recorder.insert_events([stored_access(p) for p in accesses])
    if not ids:  # an application recorder always returns the positions
        raise RuntimeError("the recorder returned no positions for the access records")
    return ids[-1]


#: How the library's JSON transcoder writes a UUID and a datetime (``UUIDAsHex``,
#: ``DatetimeAsISO``), so its decoder reads these records back as it reads its own.
_UUID, _DATETIME = "uuid_hex", "datetime_iso"
_ACCESSED_TOPIC = get_topic(AccessRecord.Accessed)
_RECORD_TOPIC = get_topic(AccessRecord)
_encode = msgspec.json.encode


def _tagged(name: str, data: str) -> dict[str, str]:
    return {"_type_": name, "_data_": data}


def _plain(value: object) -> object:
    if isinstance(value, UUID):
        return _tagged(_UUID, value.hex)
    if isinstance(value, datetime):
        return _tagged(_DATETIME, value.isoformat())
    return value


def stored_access(pending: PendingAccess) -> StoredEvent:
    """The stored event :meth:`AccessRecord.accessed_event` becomes in the library's mapper
    (without cipher or compressor), encoded by msgspec: the same state once decoded."""
    record_id = pending.record_id
    if record_id is None:
        raise ValueError("an access is numbered before it is saved")
    access = pending.access
    version = AccessRecord.INITIAL_VERSION
    state: dict[str, Any] = {
        "originator_topic": _RECORD_TOPIC,
        "timestamp": _tagged(_DATETIME, datetime.now(timezone.utc).isoformat()),
        "event_id": _tagged(_UUID, event_id_for(record_id, version).hex),
        **{name: _plain(value) for name, value in pending.envelope().as_event_fields().items()},
        "action": access.action,
        "route": access.route,
        "query": dict(access.query),
        "purpose_of_use": access.purpose_of_use,
        "patient_refs": list(access.patient_refs),
        "record_ids": list(access.record_ids),
        "result_count": access.result_count,
        "truncated": access.truncated,
        "outcome": access.outcome,
    }
    return StoredEvent(
        originator_id=record_id, originator_version=version, topic=_ACCESSED_TOPIC,
        state=_encode(state),
    )  # fmt: skip


def is_recorded(app: Application[UUID], pending: PendingAccess) -> bool:
    """Whether this (numbered) access is in the log already: after a save whose outcome is
    unknown (the connection dropped at commit), one record tells for its whole batch."""
    if pending.record_id is None:
        return False
    return bool(app.recorder.select_events(pending.record_id, limit=1))
