"""The patient-flow read model's writer (PostgreSQL and SQLite, one SQL): its tables are in
:mod:`adapters.readmodels.visits.tables`, its queries in :mod:`adapters.readmodels.visits.queries`
(re-exported here, where the HTTP adapters look for them), and its answers as of a past time
in :mod:`adapters.readmodels.visits.as_of`.

:class:`FlowReadModel` folds each batch per visit with :mod:`projections.visits.flow`, starting from
a cache of folded visits (LRU) or, on a miss, from the visit's earlier records in the log.
It is idempotent per visit: records at or below a visit's stored version are skipped, so a
redelivered record changes nothing, and the timeline rows it appends can never exist yet.
Each batch costs a handful of statements whatever its size: one lookup of the versions of
the visits not cached, one delete of the rows it replaces, bulk loads (COPY on PostgreSQL)
of one row per touched visit, of the location periods of the visits whose periods changed,
of the new timeline rows and of the history rows of the visits whose hulls changed
(:mod:`projections.visits.flow_knowledge`), and an update marking the facts a compensation
cancelled.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits.as_of import board_as_of
from adapters.readmodels.visits.queries import board, census, find_visits, metrics, timeline
from adapters.readmodels.visits.tables import ddl, delete_ids, stored_versions
from domain.visits.vocabulary import CANCELLED, CLOSED, ENTERED_IN_ERROR
from projections.shared.records import StoredRecord
from projections.visits import flow

__all__ = [
    "CACHE_SIZE", "NAME", "FlowReadModel", "board", "board_as_of", "census", "find_visits",
    "metrics", "timeline",
]  # fmt: skip

NAME = "flow"
#: Folded visits kept between batches (well under 1 KiB each), least recently used dropped
#: first; a miss costs one read of the visit's records. Visits in a state that takes no flow
#: events any more (closed, cancelled, entered-in-error) are dropped at once, so the cache
#: holds the visits in flight.
CACHE_SIZE = 20_000
_SETTLED = frozenset({CLOSED, CANCELLED, ENTERED_IN_ERROR})


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
        for statement in ddl(prefix):
            tx.execute(statement)

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("history", "timeline", "locations", "visits"):
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
        stored = stored_versions(tx, prefix, list(missing.values()))
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
        timeline_rows: list[flow.TimelineRow] = []
        #: (visit id, version) of a cancelled fact stored by an earlier batch → the
        #: compensating event's id (a fact of this batch is written marked).
        corrections: dict[tuple[str, int], str] = {}
        replaced_periods: list[str] = []
        locations: list[flow.LocationRow] = []
        replaced_history: list[str] = []
        history: list[flow.HistoryRow] = []
        fold, keep = flow.fold, self._keep

        def visit_rows() -> Iterator[flow.VisitRow]:
            """Folds each visit as its row is sent: the server stores one visit while the
            next is folded."""
            for key, new, state in plans:
                existed = state is not None
                revision = state.locations_revision if state is not None else 0
                known = state.known.revision if state is not None else 0
                first, offset = new[0].originator_version, len(timeline_rows)
                for record in new:
                    state, row = fold(state, record)
                    timeline_rows.append(row)
                    cancelled = state.cancelled_version
                    if cancelled is None:
                        continue
                    if cancelled >= first:  # this batch's row: written marked
                        fact = offset + cancelled - first
                        timeline_rows[fact] = timeline_rows[fact]._replace(
                            corrected_by=row.event_id
                        )
                    else:
                        corrections[(state.id, cancelled)] = row.event_id
                assert state is not None
                yield flow.visit_values(state)
                if state.locations_revision != revision:
                    if existed:
                        replaced_periods.append(state.id)
                    locations.extend(flow.location_values(state))
                if state.known.revision != known:
                    if existed:
                        replaced_history.append(state.id)
                    history.extend(flow.history_rows(state))
                keep(key, state)

        # Rows are replaced, not updated: one delete by ids, then bulk loads (COPY on
        # PostgreSQL) of the visits, the changed location periods and the new timeline rows
        # (versions above the stored one, so none of them exists yet).
        delete_ids(tx, f"{prefix}visits", "id", replaced_visits)
        tx.insert_rows(f"{prefix}visits", flow.VISIT_COLUMNS, visit_rows())
        delete_ids(tx, f"{prefix}locations", "visit_id", replaced_periods)
        tx.insert_rows(f"{prefix}locations", flow.LOCATION_COLUMNS, locations)
        tx.insert_rows(f"{prefix}timeline", flow.TIMELINE_COLUMNS, timeline_rows)
        # What was known when (flow_knowledge): a visit's few history rows are replaced whole.
        delete_ids(tx, f"{prefix}history", "visit_id", replaced_history)
        tx.insert_rows(f"{prefix}history", flow.HISTORY_COLUMNS, history)
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
