"""The request context: who is acting, on which request, from which source.

Adapters build one per request (from the JWT and headers, or from a feed message);
the application turns it plus the command into the :class:`~domain.shared.envelope.Envelope`
that stamps every event the command records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from application.shared.errors import CommandValidationError
from domain.shared.envelope import Envelope

#: domain-spec §0: occurred_at may be late, but not more than 5 minutes ahead.
MAX_CLOCK_AHEAD = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RequestContext:
    actor_id: str
    actor_role: str
    correlation_id: str
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None

    def envelope(
        self,
        *,
        command_id: UUID,
        occurred_at: datetime | None,
        reason: str | None,
        now: datetime,
        time_field: str = "occurredAt",
    ) -> Envelope:
        if occurred_at is None:
            occurred_at = now
        elif occurred_at.tzinfo is None:
            raise CommandValidationError("must carry a UTC offset", field=time_field)
        elif occurred_at - now > MAX_CLOCK_AHEAD:
            raise CommandValidationError("is more than 5 minutes in the future", field=time_field)
        return Envelope(
            actor_id=self.actor_id,
            actor_role=self.actor_role,
            command_id=command_id,
            correlation_id=self.correlation_id,
            occurred_at=occurred_at.astimezone(timezone.utc),
            on_behalf_of=self.on_behalf_of,
            source_system=self.source_system,
            source_message_id=self.source_message_id,
            reason=reason,
        )
