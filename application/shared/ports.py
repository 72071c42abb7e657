"""What the application needs from its infrastructure beyond eventsourcing's own
interfaces. Adapters implement these; the application never imports adapters."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class PositionLookup(Protocol):
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The global log position (notification id) of one stored event."""
