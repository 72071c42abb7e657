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
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import Application

from application.shared.access import Access, AccessRecord
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
    """Save ``accesses`` (each :meth:`~PendingAccess.numbered`) in one ``save``: all of them
    or none. Returns the position of the last, or None when there were none. Blocking."""
    records = []
    for pending in accesses:
        if pending.record_id is None:
            raise ValueError("an access is numbered before it is saved")
        records.append(
            AccessRecord.accessed_event(
                pending.access, pending.envelope(), record_id=pending.record_id
            )
        )
    if not records:
        return None
    # Each record's one event, saved as such: the same stored events as saving the
    # aggregates, without building each aggregate only to collect its event.
    return app.save(*records)[-1].notification.id


def is_recorded(app: Application[UUID], pending: PendingAccess) -> bool:
    """Whether this (numbered) access is in the log already: after a save whose outcome is
    unknown (the connection dropped at commit), one record tells for its whole batch."""
    if pending.record_id is None:
        return False
    return bool(app.recorder.select_events(pending.record_id, limit=1))
