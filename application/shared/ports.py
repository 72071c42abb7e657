"""What the application needs from its infrastructure beyond eventsourcing's own
interfaces. Adapters implement these; the application never imports adapters."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate


class PositionLookup(Protocol):
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The global log position (notification id) of one stored event."""


class SnapshotStore(Protocol):
    """Where aggregates' snapshots are kept (see :mod:`application.snapshots`)."""

    def latest(self, aggregate_id: UUID, *, lte: int | None) -> Aggregate | None:
        """The aggregate as its newest usable snapshot holds it, at a version at or below
        ``lte`` (None: any); None when there is none, or none this code may trust."""

    def put(self, aggregate: Aggregate) -> None:
        """Keep a snapshot of the aggregate as it stands (best effort: a failure is logged
        and swallowed, never raised, since the events alone still give the answer)."""
