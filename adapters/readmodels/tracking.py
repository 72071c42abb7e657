"""Which generation of each read model serves, and how far each generation has read.

A read model's tables are named ``<name>_g<generation>_<table>``. Readers use the
*active* generation; ``rebuild`` fills the next one beside it and switches ``active`` in the
same transaction as its last batch, so the switch is atomic (blue/green).

Tracking holds, per (name, generation), the position of the last record read (processed or
skipped) and when the worker last found nothing newer (``caught_up_at``), from which lag in
seconds is measured. Advancing is fenced on the old position: if two workers ever wrote the
same generation, the second commit finds the position moved and rolls back, so nothing is
applied twice.

Parked records: a record that a read model cannot apply (a bug, or data the view's store
cannot hold) is kept in ``read_model_parked`` with its error, per (name, generation), and
the worker moves on; the read model is then *degraded* until a rebuild applies it (see
:mod:`adapters.readmodels.worker`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from adapters.readmodels.database import Transaction
from projections.shared.records import StoredRecord

_DDL = (
    "CREATE TABLE IF NOT EXISTS read_model_generations ("
    " name TEXT PRIMARY KEY, active INTEGER NOT NULL, building INTEGER)",
    "CREATE TABLE IF NOT EXISTS read_model_tracking ("
    " name TEXT NOT NULL, generation INTEGER NOT NULL, position BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL, caught_up_at BIGINT,"
    " PRIMARY KEY (name, generation))",
    "CREATE TABLE IF NOT EXISTS read_model_parked ("
    " name TEXT NOT NULL, generation INTEGER NOT NULL, position BIGINT NOT NULL,"
    " topic TEXT NOT NULL, originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL,"
    " error TEXT NOT NULL, parked_at BIGINT NOT NULL,"
    " PRIMARY KEY (name, generation, position))",
    # The shape a generation was built with (see adapters.readmodels.fingerprint).
    "CREATE TABLE IF NOT EXISTS read_model_fingerprints ("
    " name TEXT NOT NULL, generation INTEGER NOT NULL, fingerprint TEXT NOT NULL,"
    " PRIMARY KEY (name, generation))",
)
#: Characters of an error's message kept with a parked record (its type is always kept).
PARKED_ERROR_CHARS = 300


class TrackingConflictError(RuntimeError):
    """Another worker advanced this generation first: this batch must not commit."""


def now_micros() -> int:
    return time.time_ns() // 1000


def table_prefix(name: str, generation: int) -> str:
    return f"{name}_g{generation}_"


def create_tracking_tables(tx: Transaction) -> None:
    for statement in _DDL:
        tx.execute(statement)


@dataclass(frozen=True)
class Generations:
    active: int
    building: int | None


def generations(tx: Transaction, name: str) -> Generations:
    """The read model's generations; the first call makes generation 1 active."""
    rows = tx.execute("SELECT active, building FROM read_model_generations WHERE name = ?", (name,))
    if rows:
        return Generations(rows[0][0], rows[0][1])
    tx.execute(
        "INSERT INTO read_model_generations (name, active) VALUES (?, 1)"
        " ON CONFLICT (name) DO NOTHING",
        (name,),
    )
    return generations(tx, name)


def start_building(tx: Transaction, name: str) -> int:
    """Reserve the next generation for a rebuild (a crashed rebuild's is reused)."""
    current = generations(tx, name)
    building = current.building or current.active + 1
    tx.execute("UPDATE read_model_generations SET building = ? WHERE name = ?", (building, name))
    return building


def stop_building(tx: Transaction, name: str, generation: int) -> None:
    """Give up the reservation of ``generation`` (a failed rebuild's): the next starts anew."""
    tx.execute(
        "UPDATE read_model_generations SET building = NULL WHERE name = ? AND building = ?",
        (name, generation),
    )


def switch_to(tx: Transaction, name: str, generation: int) -> int:
    """Make ``generation`` the active one; returns the generation it replaces."""
    previous = generations(tx, name).active
    tx.execute(
        "UPDATE read_model_generations SET active = ?, building = NULL WHERE name = ?",
        (generation, name),
    )
    return previous


@dataclass(frozen=True)
class Tracking:
    position: int
    updated_at: int
    caught_up_at: int | None


def tracking(tx: Transaction, name: str, generation: int) -> Tracking:
    rows = tx.execute(
        "SELECT position, updated_at, caught_up_at FROM read_model_tracking"
        " WHERE name = ? AND generation = ?",
        (name, generation),
    )
    if rows:
        return Tracking(*rows[0])
    tx.execute(
        "INSERT INTO read_model_tracking (name, generation, position, updated_at)"
        " VALUES (?, ?, 0, ?) ON CONFLICT (name, generation) DO NOTHING",
        (name, generation, now_micros()),
    )
    return tracking(tx, name, generation)


def advance(
    tx: Transaction, name: str, generation: int, old: int, new: int, *, caught_up: bool
) -> None:
    now = now_micros()
    rows = tx.execute(
        "UPDATE read_model_tracking SET position = ?, updated_at = ?,"
        " caught_up_at = CASE WHEN ? THEN ? ELSE caught_up_at END"
        " WHERE name = ? AND generation = ? AND position = ? RETURNING position",
        (new, now, caught_up, now, name, generation, old),
    )
    if not rows:
        raise TrackingConflictError(f"{name} generation {generation} moved past {old}")


def mark_caught_up(tx: Transaction, name: str, generation: int) -> None:
    tx.execute(
        "UPDATE read_model_tracking SET caught_up_at = ? WHERE name = ? AND generation = ?",
        (now_micros(), name, generation),
    )


def forget_generation(tx: Transaction, name: str, generation: int) -> None:
    for table in ("read_model_tracking", "read_model_parked", "read_model_fingerprints"):
        tx.execute(f"DELETE FROM {table} WHERE name = ? AND generation = ?", (name, generation))


# ---- fingerprints ---------------------------------------------------------------------
def fingerprint_of(tx: Transaction, name: str, generation: int) -> str | None:
    """What the generation was built with; None for one built before fingerprints."""
    rows = tx.execute(
        "SELECT fingerprint FROM read_model_fingerprints WHERE name = ? AND generation = ?",
        (name, generation),
    )
    return str(rows[0][0]) if rows else None


def built_by_other_code(tx: Transaction, name: str, generation: int, current: str) -> bool:
    """Whether the generation holds rows made by code of another fingerprint than
    ``current``: it recorded another, or it predates fingerprints and has read records.
    A generation that has read nothing yet is not: it will be built with ``current``."""
    recorded = fingerprint_of(tx, name, generation)
    if recorded is not None:
        return recorded != current
    rows = tx.execute(
        "SELECT position FROM read_model_tracking WHERE name = ? AND generation = ?",
        (name, generation),
    )
    return bool(rows) and int(rows[0][0]) > 0


def claim_fingerprint(tx: Transaction, name: str, generation: int, fingerprint: str) -> None:
    """Record what a generation is being built with, if it has not started yet (position
    0): a generation that already holds records keeps what it has (or nothing, if it
    predates fingerprints), so its tables are never taken for the current shape."""
    if tracking(tx, name, generation).position != 0:
        return
    tx.execute(
        "INSERT INTO read_model_fingerprints (name, generation, fingerprint) VALUES (?, ?, ?)"
        " ON CONFLICT (name, generation) DO NOTHING",
        (name, generation, fingerprint),
    )


# ---- parked records -------------------------------------------------------------------
@dataclass(frozen=True)
class ParkedRecord:
    position: int
    topic: str
    originator_id: str
    originator_version: int
    error: str
    parked_at: int


def describe_error(error: BaseException) -> str:
    """The error's type and the start of its message, storable anywhere (no NUL). The
    message is kept in the database only, never logged: a driver may quote a value."""
    text = f"{type(error).__name__}: {error}"[:PARKED_ERROR_CHARS]
    return text.replace("\x00", "\ufffd")


def park(
    tx: Transaction, name: str, generation: int, record: StoredRecord, error: BaseException
) -> None:
    tx.execute(
        "INSERT INTO read_model_parked (name, generation, position, topic, originator_id,"
        " originator_version, error, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name, generation, position) DO UPDATE SET error = excluded.error,"
        " parked_at = excluded.parked_at",
        (
            name,
            generation,
            record.position,
            record.topic.replace("\x00", "\ufffd"),
            str(record.originator_id),
            record.originator_version,
            describe_error(error),
            now_micros(),
        ),
    )


def parked_records(
    tx: Transaction, name: str, generation: int, limit: int | None = 1000
) -> list[ParkedRecord]:
    """The generation's parked records by position (all of them with ``limit=None``)."""
    rows = tx.execute(
        "SELECT position, topic, originator_id, originator_version, error, parked_at"
        " FROM read_model_parked WHERE name = ? AND generation = ? ORDER BY position"
        + ("" if limit is None else f" LIMIT {int(limit)}"),
        (name, generation),
    )
    return [ParkedRecord(*row) for row in rows]


def parked_count(tx: Transaction, name: str, generation: int) -> int:
    rows = tx.execute(
        "SELECT count(*) FROM read_model_parked WHERE name = ? AND generation = ?",
        (name, generation),
    )
    return int(rows[0][0])


@dataclass(frozen=True)
class ReadModelPosition:
    generation: int
    position: int


def generations_known(tx: Transaction, name: str) -> bool:
    """Whether read model ``name`` is kept here (its tables were prepared)."""
    return bool(tx.execute("SELECT 1 FROM read_model_generations WHERE name = ?", (name,)))


def active_position(tx: Transaction, name: str) -> ReadModelPosition:
    """The active generation and its tracked position, read inside the caller's
    transaction before it reads the view, so the view holds at least that position."""
    rows = tx.execute(
        "SELECT g.active, t.position FROM read_model_generations g"
        " JOIN read_model_tracking t ON t.name = g.name AND t.generation = g.active"
        " WHERE g.name = ?",
        (name,),
    )
    if not rows:
        return ReadModelPosition(1, 0)
    return ReadModelPosition(rows[0][0], rows[0][1])
