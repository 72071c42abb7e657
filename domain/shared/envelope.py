"""Who, why and when: the envelope every event carries (domain-spec §0).

The application binds an :class:`Envelope` for the duration of one command with
:func:`recording`; the base aggregate stamps it onto every event it triggers, so no
command method has to pass actor or correlation ids by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Envelope:
    actor_id: str
    actor_role: str
    command_id: UUID
    correlation_id: str
    occurred_at: datetime
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    reason: str | None = None

    def as_event_fields(self) -> dict[str, object]:
        # Shallow on purpose: every field is immutable, and asdict()'s deep copy showed up
        # in the profile of every command.
        return {name: getattr(self, name) for name in ENVELOPE_FIELDS}


ENVELOPE_FIELDS = tuple(f.name for f in fields(Envelope))

_current: ContextVar[Envelope | None] = ContextVar("current_envelope", default=None)
_decided_at: ContextVar[datetime | None] = ContextVar("decided_at", default=None)


class MissingEnvelopeError(RuntimeError):
    """An event was triggered outside :func:`recording`: it would not say who did it."""


def current_envelope() -> Envelope:
    envelope = _current.get()
    if envelope is None:
        raise MissingEnvelopeError("events can only be triggered inside recording(envelope)")
    return envelope


def decision_time() -> datetime:
    """When the command is being decided (the system's clock), as opposed to the envelope's
    ``occurred_at``, which a late entry back-dates. Rules about *now* — is an authorisation
    still in force, has a deadline passed — use this, so back-dating cannot get round them.
    Not stored on events: what was decided is, in their own fields."""
    decided = _decided_at.get()
    return decided if decided is not None else current_envelope().occurred_at


@contextmanager
def recording(envelope: Envelope, *, decided_at: datetime | None = None) -> Iterator[Envelope]:
    """Bind the envelope (and the decision time, default ``occurred_at``) for one command."""
    token = _current.set(envelope)
    decided = _decided_at.set(decided_at)
    try:
        yield envelope
    finally:
        _decided_at.reset(decided)
        _current.reset(token)
