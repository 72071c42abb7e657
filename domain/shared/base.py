"""The base aggregate: every event carries the envelope and a stable event id.

Event classes get the envelope fields (``actor_id``, ``command_id``, ``occurred_at``, …)
as ordinary dataclass fields, so they are stored with the event and come back on
replay. ``trigger_event`` fills them from the envelope bound by
:func:`domain.shared.envelope.recording`; a command may still pass one explicitly (an
arrival passes its own ``occurred_at``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.shared.envelope import ENVELOPE_FIELDS, current_envelope

_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:patient-services:event")


def event_id_for(aggregate_id: UUID, version: int) -> UUID:
    """An event's id is derived from its place in its aggregate's sequence, so it is
    stable across replays and needs no extra storage to look up."""
    return uuid5(_EVENT_ID_NAMESPACE, f"{aggregate_id}/{version}")


def _stamp(kwargs: dict[str, Any], aggregate_id: UUID, version: int) -> dict[str, Any]:
    fields = current_envelope().as_event_fields()
    fields.update({k: v for k, v in kwargs.items() if k in ENVELOPE_FIELDS and v is not None})
    fields.update({k: v for k, v in kwargs.items() if k not in ENVELOPE_FIELDS})
    fields["event_id"] = event_id_for(aggregate_id, version)
    return fields


class AuditedAggregate(Aggregate):
    class Event(Aggregate.Event):
        event_id: UUID
        actor_id: str
        actor_role: str
        command_id: UUID
        correlation_id: str
        occurred_at: datetime
        on_behalf_of: str | None
        source_system: str | None
        source_message_id: str | None
        reason: str | None

        @property
        def recorded_at(self) -> datetime:
            """When the system learned the fact (``occurred_at`` is when it happened)."""
            return self.timestamp

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: Any, *, id: UUID | None = None, **kwargs: Any) -> Any:  # noqa: A002
        aggregate_id = id if id is not None else cls.create_id(**kwargs)
        kwargs = _stamp(kwargs, aggregate_id, cls.INITIAL_VERSION)
        return super()._create(event_class, id=aggregate_id, **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **_stamp(kwargs, self.id, self.version + 1))
