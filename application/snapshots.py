"""Loading aggregates so that a command costs the same on a budget line that has collected a
year of postings as on a new one: a snapshot and the events after it, or the aggregate the
process already holds and the events after that.

**Snapshots.** The repository asks the :class:`~application.shared.ports.SnapshotStore` for
the newest snapshot it may trust at or below the version asked for and replays only the
events after it. A load of the current state that had to replay ``every`` events or more
leaves a new snapshot behind, and so does a command that takes its aggregate past a multiple
of ``every``. The store decides what it may trust (snapshots are tied to the code that took
them, so one taken by other domain code is ignored, then replaced); the events stay the
truth, and a missing or ignored snapshot only costs the replay.

**Held aggregates.** Loading a snapshot still costs in proportion to the aggregate's state
(a line's book of every posting it holds), so a command's aggregates are also *held* by the
process after the command saved them, in a bounded least-recently-used set. A command takes
(:meth:`SnapshottingRepository.checkout`) the aggregate out of that set, so no other command
or reader shares the object, brings it up to date with the events recorded since (one
indexed read, usually empty: another process may have written), and hands it back
(:meth:`~SnapshottingRepository.keep`) only once its events are saved; an aggregate of a
command that failed or was refused is dropped, never handed back, so what is held is always
exactly the stored events' result. Reads and loads at a version never touch the held set.

A load as of a recorded time (``asOf``) never uses either: it replays the events recorded by
then, so it stays exact whatever the snapshots hold. Aggregates that hold personal free text
are neither snapshotted nor held: a copy would keep readable text that erasing the data
subject (destroying their key) must make unreadable everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, LRUCache, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore

from application.shared.ports import SnapshotStore

#: Events a load of the current state replays before it leaves a snapshot behind: at most
#: this many are replayed on top of a snapshot, whatever the stream's length.
SNAPSHOT_EVERY = 20
#: Aggregates a process holds for the next command on them (see the module).
HELD_AGGREGATES = 1000


def may_snapshot(aggregate_type: type) -> bool:
    """Whether this kind of aggregate may be snapshotted or held (see the module)."""
    return getattr(aggregate_type, "personal_text", None) is None


class SnapshottingRepository(Repository[UUID]):
    def __init__(
        self,
        event_store: EventStore[UUID],
        snapshots: SnapshotStore,
        *,
        every: int = SNAPSHOT_EVERY,
        held: int = HELD_AGGREGATES,
    ) -> None:
        super().__init__(event_store)
        self.snapshot_store_port = snapshots
        self.every = every
        self._held: LRUCache[UUID, Aggregate] | None = LRUCache(held) if held > 0 else None

    def get(self, aggregate_id: UUID, *, version: int | None = None, **_: Any) -> Any:
        """The aggregate now or at a version, from a snapshot and the events after it."""
        start = self.snapshot_store_port.latest(aggregate_id, lte=version)
        aggregate, replayed = self._replay(aggregate_id, start, version)
        if version is None and replayed >= self.every and may_snapshot(type(aggregate)):
            self.snapshot_store_port.put(aggregate)
        return aggregate

    def checkout(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate now, for a command: taken out of the held set when it is there
        (brought up to date), loaded otherwise. The caller owns it until :meth:`keep`."""
        held = self._take(aggregate_id)
        if held is None:
            return cast(Aggregate, self.get(aggregate_id))
        aggregate, _ = self._replay(aggregate_id, held, None)
        return aggregate

    def keep(self, aggregate: Aggregate, loaded_version: int) -> None:
        """Hold an aggregate whose events are all saved, for the next command; snapshot it
        when the command took it past a multiple of ``every``."""
        if not may_snapshot(type(aggregate)) or aggregate.pending_events:
            return
        if loaded_version // self.every < aggregate.version // self.every:
            self.snapshot_store_port.put(aggregate)
        if self._held is not None:
            self._held.put(aggregate.id, aggregate)

    def _take(self, aggregate_id: UUID) -> Aggregate | None:
        if self._held is None:
            return None
        try:
            return self._held.get(aggregate_id, evict=True)
        except KeyError:
            return None

    def _replay(
        self, aggregate_id: UUID, start: Aggregate | None, version: int | None
    ) -> tuple[Aggregate, int]:
        after = None if start is None else start.version
        # Every stored event is an Aggregate.Event: the store's protocol type has no mutate.
        events = cast(
            Iterable[Aggregate.Event], self.event_store.get(aggregate_id, gt=after, lte=version)
        )
        aggregate: Aggregate | None = start
        replayed = 0
        for domain_event in events:
            aggregate = domain_event.mutate(aggregate)
            replayed += 1
        if aggregate is None:
            raise AggregateNotFoundError(
                f"Aggregate {aggregate_id!r} version {version!r} not found."
            )
        return aggregate, replayed
