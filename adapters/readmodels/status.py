"""How far each read model has read: for read-your-writes, ``/ready`` and ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.registry import current_fingerprints
from adapters.readmodels.tracking import ReadModelPosition, active_position

# active_position moved to tracking (the stores read it); still importable from here.
__all__ = [
    "ReadModelPosition", "ReadModelStatus", "active_position", "read_model_status",
    "wait_for_position",
]  # fmt: skip

#: How often a read-your-writes request looks again while it waits.
POLL_SECONDS = 0.01


def wait_for_position(
    database: ReadDatabase, name: str, min_position: int, timeout: float
) -> int | None:
    """Wait until the read model has read ``min_position``; its position, or None on timeout."""
    deadline = time.monotonic() + timeout
    asked = False
    while True:
        with database.read() as tx:
            position = active_position(tx, name).position
        if position >= min_position:
            return position
        if time.monotonic() >= deadline:
            return None
        if not asked:
            # Once per request: its worker may be lingering (the batch interval) under load.
            database.want(name)
            asked = True
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class ReadModelStatus:
    name: str
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    rebuilding_generation: int | None
    rebuilding_position: int | None
    #: Records of the active generation it could not apply (see worker); > 0 is degraded.
    parked: int = 0
    #: The first of them, by position (at most PARKED_SHOWN).
    parked_positions: tuple[int, ...] = ()

    #: Its serving generation was built by other code (a rebuild is on its way).
    outdated: bool = False

    @property
    def degraded(self) -> bool:
        return self.parked > 0

    @property
    def state(self) -> str:
        """``rebuilding`` (outdated), ``degraded`` (records parked) or ``ok``."""
        return "rebuilding" if self.outdated else "degraded" if self.degraded else "ok"


#: Parked positions listed by /ready (all of them: ``patient-services parked list``).
PARKED_SHOWN = 20


def read_model_status(database: ReadDatabase, names: Iterable[str]) -> list[ReadModelStatus]:
    fingerprints = current_fingerprints()
    head = database.head_position()
    now = tr.now_micros()
    statuses = []
    with database.read() as tx:
        for name in names:
            rows = tx.execute(
                "SELECT active, building FROM read_model_generations WHERE name = ?", (name,)
            )
            active, building = rows[0] if rows else (1, None)
            track = _tracking(tx, name, active)
            position = track.position if track else 0
            lag_events = _count_after(tx, database, position) if position < head else 0
            if lag_events == 0:
                lag_seconds = 0.0
            else:
                # Stale since it last had nothing newer to read (or since it started).
                since = (track.caught_up_at or track.updated_at) if track else now
                lag_seconds = max(0.0, (now - since) / 1_000_000)
            building_track = _tracking(tx, name, building) if building else None
            parked = _parked(tx, name, active)
            current = fingerprints.get(name)
            outdated = current is not None and tr.built_by_other_code(tx, name, active, current)
            statuses.append(
                ReadModelStatus(
                    name=name,
                    generation=active,
                    position=position,
                    head=head,
                    lag_events=lag_events,
                    lag_seconds=round(lag_seconds, 3),
                    rebuilding_generation=building,
                    rebuilding_position=building_track.position if building_track else None,
                    parked=parked[0],
                    parked_positions=parked[1],
                    outdated=outdated,
                )
            )
    return statuses


def _parked(tx: Transaction, name: str, generation: int) -> tuple[int, tuple[int, ...]]:
    count = tr.parked_count(tx, name, generation)
    if not count:
        return 0, ()
    shown = tr.parked_records(tx, name, generation, limit=PARKED_SHOWN)
    return count, tuple(record.position for record in shown)


def _tracking(tx: Transaction, name: str, generation: int) -> tr.Tracking | None:
    rows = tx.execute(
        "SELECT position, updated_at, caught_up_at FROM read_model_tracking"
        " WHERE name = ? AND generation = ?",
        (name, generation),
    )
    return tr.Tracking(*rows[0]) if rows else None


#: Beyond this many, lag is reported as "at least": counting a huge backlog exactly is slow.
MAX_COUNTED_LAG = 1_000_000


def _count_after(tx: Transaction, database: ReadDatabase, position: int) -> int:
    # Counted, not head - position: the log has gaps (rolled-back inserts).
    table = "events.stored_events" if database.dialect == "sqlite" else "patient_services_events"
    key = "rowid" if database.dialect == "sqlite" else "notification_id"
    rows = tx.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {key} > ? LIMIT ?) AS lag",
        (position, MAX_COUNTED_LAG),
    )
    return int(rows[0][0])
