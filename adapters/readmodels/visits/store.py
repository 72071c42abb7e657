"""The patient-flow read model's tables and queries (PostgreSQL and SQLite, one SQL).

Tables (``<prefix>`` = ``flow_g<generation>_``):

* ``visits``: one row per visit, its flow facts now (the board and the metrics read it);
* ``locations``: each visit's location periods ``[start_at, end_at)`` (the census);
* ``timeline``: one row per event, with ``corrected_by`` once a compensation names it.

:class:`FlowReadModel` folds each batch per visit with :mod:`projections.visits.flow`, starting from
a cache of folded visits (LRU) or, on a miss, from the visit's earlier records in the log.
It is idempotent per visit: records at or below a visit's stored version are skipped, so a
redelivered record changes nothing, and the timeline rows it appends can never exist yet.
Each batch costs a handful of statements whatever its size: one lookup of the versions of
the visits not cached, one delete of the rows it replaces, bulk loads (COPY on PostgreSQL)
of one row per touched visit, of the location periods of the visits whose periods changed
and of the new timeline rows, and an update marking the facts a compensation cancelled.

Queries (:func:`board`, :func:`census`, :func:`timeline`, :func:`metrics`) select rows and
leave the rules to :mod:`projections.visits.flow_views` and :mod:`projections.visits.flow_metrics`.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import Transaction
from domain.visits.vocabulary import CANCELLED, CLOSED, ENTERED_IN_ERROR
from projections.shared.records import StoredRecord, to_micros
from projections.visits import flow
from projections.visits import flow_views as views
from projections.visits.flow_metrics import (
    METRIC_COLUMNS,
    FlowMetrics,
    MetricVisit,
    compute_metrics,
)

NAME = "flow"
#: Folded visits kept between batches (well under 1 KiB each), least recently used dropped
#: first; a miss costs one read of the visit's records. Visits in a state that takes no flow
#: events any more (closed, cancelled, entered-in-error) are dropped at once, so the cache
#: holds the visits in flight.
CACHE_SIZE = 20_000
_SETTLED = frozenset({CLOSED, CANCELLED, ENTERED_IN_ERROR})

#: The board's visits. Literal, not parameters, so that planners match the partial index.
_ON_THE_BOARD = "status IN ({})".format(
    ", ".join(f"'{state}'" for state in (*views.BOARD_STATES, views.ON_LEAVE))
)
_INTEGER = {"version", "position", "walk_in", "acuity_level", "late_cancellation", "seq"}


def _ddl(prefix: str) -> list[str]:
    def columns(names: Sequence[str], types: dict[str, str], primary: str) -> str:
        cols = [f"{name} {types.get(name, _type_of(name))}" for name in names]
        return ", ".join([*cols, f"PRIMARY KEY ({primary})"])

    v, loc, tl = f"{prefix}visits", f"{prefix}locations", f"{prefix}timeline"
    not_null = {
        "patient_ref": "TEXT NOT NULL", "status": "TEXT NOT NULL",
        "visit_class": "TEXT NOT NULL", "service_unit": "TEXT NOT NULL",
        "unit": "TEXT NOT NULL", "start_at": "BIGINT NOT NULL", "event_id": "TEXT NOT NULL",
        "event_type": "TEXT NOT NULL", "occurred_at": "BIGINT NOT NULL",
        "recorded_at": "BIGINT NOT NULL", "actor_id": "TEXT NOT NULL",
        "actor_role": "TEXT NOT NULL", "details": "TEXT NOT NULL",
    }  # fmt: skip
    return [
        f"CREATE TABLE IF NOT EXISTS {v} ({columns(flow.VISIT_COLUMNS, not_null, 'id')})",
        # Partial: only the visits on the board are in it (a small index, kept up only
        # for them), in board order.
        f"CREATE INDEX IF NOT EXISTS {v}_board ON {v} (current_unit, arrival_at)"
        f" WHERE {_ON_THE_BOARD}",
        f"CREATE INDEX IF NOT EXISTS {v}_span ON {v} (span_end)",
        f"CREATE TABLE IF NOT EXISTS {loc}"
        f" ({columns(flow.LOCATION_COLUMNS, not_null, 'visit_id, seq')})",
        f"CREATE INDEX IF NOT EXISTS {loc}_census ON {loc} (unit, end_at)",
        f"CREATE INDEX IF NOT EXISTS {loc}_at ON {loc} (end_at)",
        f"CREATE TABLE IF NOT EXISTS {tl}"
        f" ({columns(flow.TIMELINE_COLUMNS, not_null, 'visit_id, version')})",
    ]


def _type_of(column: str) -> str:
    if column in _INTEGER:
        return "BIGINT" if column == "position" else "INTEGER"
    if column.endswith(("_at", "_since", "_start", "_end")):
        return "BIGINT"
    return "TEXT"


class FlowReadModel:
    """The flow board, census, visit timelines and flow metrics (domain-spec §1)."""

    name = NAME

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self.cache_size = cache_size
        #: Folded visits by their id's integer, least recently used first.
        self._cache: OrderedDict[int, flow.VisitState] = OrderedDict()

    def wants(self, topic: str) -> bool:
        return flow.wants(topic)

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        for statement in _ddl(prefix):
            tx.execute(statement)

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("timeline", "locations", "visits"):
            tx.execute(f"DROP TABLE IF EXISTS {prefix}{table}")

    def reset(self) -> None:
        self._cache.clear()

    # ---- a batch ---------------------------------------------------------------------
    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        # Folding allocates many small containers while the cache keeps thousands of visits
        # alive: the cyclic collector would scan that cache over and over (a third of the
        # time, measured). A batch makes no reference cycles; refcounting frees its garbage.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._apply(tx, prefix, records, log)
        finally:
            if collecting:
                gc.enable()

    def _apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        # Keyed by the id's integer: UUID hashing and comparison run in Python.
        by_visit: dict[int, list[StoredRecord]] = {}
        for record in records:
            key = record.originator_id.int
            batch = by_visit.get(key)
            if batch is None:
                by_visit[key] = [record]
            else:
                batch.append(record)
        cache = self._cache
        # A visit's stored version: its cached fold's (this model wrote it, and the cache is
        # dropped whenever a batch rolls back) or, for a visit not cached, the table's.
        missing = {
            key: str(batch[0].originator_id) for key, batch in by_visit.items() if key not in cache
        }
        stored = _stored_versions(tx, prefix, list(missing.values()))
        # First every read (the log of visits not cached), as no query can run during a COPY.
        plans: list[tuple[int, list[StoredRecord], flow.VisitState | None]] = []
        replaced_visits: list[str] = []
        for key, batch in by_visit.items():
            state = cache.get(key)
            visit_id = missing[key] if state is None else state.id
            known = state.version if state is not None else stored.get(visit_id, 0)
            new = batch if batch[0].originator_version > known else [
                r for r in batch if r.originator_version > known
            ]  # fmt: skip
            if not new:
                continue  # redelivered: already in the view
            first = new[0].originator_version
            if first == 1:
                state = None
            elif state is None or first != known + 1:  # not cached: fold its earlier records
                state = flow.replay(log.aggregate_records(tx, batch[0].originator_id, first))
            if known:
                replaced_visits.append(visit_id)
            plans.append((key, new, state))
        timeline: list[tuple[Any, ...]] = []
        #: (visit id, version) of a cancelled fact stored by an earlier batch → the
        #: compensating event's id (a fact of this batch is written marked).
        corrections: dict[tuple[str, int], str] = {}
        replaced_periods: list[str] = []
        locations: list[tuple[Any, ...]] = []
        fold, keep = flow.fold, self._keep

        def visit_rows() -> Iterator[tuple[Any, ...]]:
            """Folds each visit as its row is sent: the server stores one visit while the
            next is folded."""
            for key, new, state in plans:
                existed = state is not None
                revision = state.locations_revision if state is not None else 0
                first, offset = new[0].originator_version, len(timeline)
                for record in new:
                    state, row = fold(state, record)
                    timeline.append(row)
                    cancelled = state.cancelled_version
                    if cancelled is None:
                        continue
                    if cancelled >= first:  # this batch's row: written marked
                        fact = timeline[offset + cancelled - first]
                        timeline[offset + cancelled - first] = (*fact[:-1], row[3])
                    else:
                        corrections[(state.id, cancelled)] = row[3]
                assert state is not None
                yield flow.visit_values(state)
                if state.locations_revision != revision:
                    if existed:
                        replaced_periods.append(state.id)
                    locations.extend(flow.location_values(state))
                keep(key, state)

        # Rows are replaced, not updated: one delete by ids, then bulk loads (COPY on
        # PostgreSQL) of the visits, the changed location periods and the new timeline rows
        # (versions above the stored one, so none of them exists yet).
        _delete_ids(tx, f"{prefix}visits", "id", replaced_visits)
        tx.insert_rows(f"{prefix}visits", flow.VISIT_COLUMNS, visit_rows())
        _delete_ids(tx, f"{prefix}locations", "visit_id", replaced_periods)
        tx.insert_rows(f"{prefix}locations", flow.LOCATION_COLUMNS, locations)
        tx.insert_rows(f"{prefix}timeline", flow.TIMELINE_COLUMNS, timeline)
        if corrections:
            tx.executemany(
                f"UPDATE {prefix}timeline SET corrected_by = ?"
                " WHERE visit_id = ? AND version = ? AND corrected_by IS NULL",
                [(by, visit_id, version) for (visit_id, version), by in corrections.items()],
            )

    def _keep(self, key: int, state: flow.VisitState) -> None:
        cache = self._cache
        if state.status in _SETTLED:
            cache.pop(key, None)
            return
        cache[key] = state
        cache.move_to_end(key)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)


_encode_json = msgspec.json.encode


def _stored_versions(tx: Transaction, prefix: str, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    statement = f"SELECT id, version FROM {prefix}visits WHERE {_id_in(tx, 'id')}"
    return dict(tx.execute(statement, (_id_list(tx, ids),)))


def _delete_ids(tx: Transaction, table: str, column: str, ids: list[str]) -> None:
    if ids:
        tx.execute(f"DELETE FROM {table} WHERE {_id_in(tx, column)}", (_id_list(tx, ids),))


def _id_in(tx: Transaction, column: str) -> str:
    """``column`` is one of a list of ids given as ONE parameter: a short statement, prepared
    once, whatever the batch (psycopg re-parses every statement with over 50 parameters).
    The one place where the dialects differ: on PostgreSQL the ids joined by commas (one
    string: psycopg's array dumper costs several microseconds per element), JSON on SQLite."""
    if tx.dialect == "postgres":
        return f"{column} = ANY(string_to_array(?, ','))"
    return f"{column} IN (SELECT value FROM json_each(?))"


def _id_list(tx: Transaction, ids: list[str]) -> str:
    """Canonical UUIDs never hold a comma."""
    return ",".join(ids) if tx.dialect == "postgres" else _encode_json(ids).decode()


# ---- queries ---------------------------------------------------------------------------
def board(tx: Transaction, prefix: str, unit: str | None, now: datetime) -> views.Board:
    """Per unit, the visits in each active state and those on leave, longest waiting first."""
    statement = f"SELECT {', '.join(views.BOARD_COLUMNS)} FROM {prefix}visits WHERE {_ON_THE_BOARD}"
    params: list[Any] = []
    if unit is not None:
        statement += " AND current_unit = ?"
        params.append(unit)
    rows = tx.execute(statement + " ORDER BY arrival_at, id", params)
    return views.board_of(rows, unit, now)


def census(tx: Transaction, prefix: str, unit: str | None, at: datetime) -> views.Census:
    """The visits with a location period in ``unit`` (every unit if None) holding ``at``."""
    at_us = to_micros(at)
    statement = (
        f"SELECT {', '.join(views.CENSUS_COLUMNS)} FROM {prefix}locations l"
        f" JOIN {prefix}visits v ON v.id = l.visit_id"
        " WHERE l.start_at <= ? AND (l.end_at IS NULL OR l.end_at > ?)"
    )
    params: list[Any] = [at_us, at_us]
    if unit is not None:
        statement += " AND l.unit = ?"
        params.append(unit)
    order = " ORDER BY l.unit, COALESCE(l.bed, ''), l.start_at, l.visit_id"
    return views.census_of(tx.execute(statement + order, params), unit, at)


def timeline(
    tx: Transaction, prefix: str, visit_id: UUID, *, after_version: int = 0, limit: int = 500
) -> views.Timeline | None:
    """The visit's recorded facts in order, corrections marked; None if the view has no
    such visit."""
    key = str(visit_id)
    found = tx.execute(f"SELECT status, version FROM {prefix}visits WHERE id = ?", (key,))
    if not found:
        return None
    status, version = found[0]
    rows = tx.execute(
        f"SELECT {', '.join(views.TIMELINE_ENTRY_COLUMNS)} FROM {prefix}timeline"
        " WHERE visit_id = ? AND version > ? ORDER BY version LIMIT ?",
        (key, after_version, limit + 1),
    )
    items = [views.timeline_entry(row) for row in rows[:limit]]
    more = len(rows) > limit
    return views.Timeline(
        visit_id=key,
        status=status,
        version=version,
        items=items,
        next_cursor=str(items[-1].version) if more else None,
    )


def metrics(
    tx: Transaction,
    prefix: str,
    start: datetime,
    end: datetime,
    unit: str | None,
    zone: ZoneInfo,
) -> FlowMetrics:
    """The metrics of domain-spec §1 over ``[start, end)`` (see
    :mod:`projections.visits.flow_metrics`)."""
    low, high = to_micros(start), to_micros(end)
    statement = (
        f"SELECT {', '.join(METRIC_COLUMNS)} FROM {prefix}visits"
        " WHERE span_end >= ? AND span_start < ? AND status <> ?"
    )
    params: list[Any] = [low, high, ENTERED_IN_ERROR]
    if unit is not None:
        statement += " AND service_unit = ?"
        params.append(unit)
    rows = tx.execute(statement, params)
    return compute_metrics((MetricVisit(*row) for row in rows), start, end, zone, unit)
