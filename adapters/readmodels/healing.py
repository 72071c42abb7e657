"""Read models heal themselves after an upgrade.

A generation records the fingerprint of the code that built it (its table definitions and
fold version, see :mod:`.fingerprint`). When a release changes a read model, its serving
generation is *outdated*: the live worker stops writing it (new code must not write old
tables), queries that the old tables can still answer keep being answered from them, and
those they cannot are 503 ``PROJECTION_REBUILDING`` with ``Retry-After``. Meanwhile the
healing job, beside the projection workers in every ``serve``/``project`` process, runs the
blue/green rebuild; only one process wins its lock, the others find it busy and look again
at the next tick. When the rebuild switches, the live worker carries on from the new
generation. ``/ready`` shows ``"state": "rebuilding"`` until then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from adapters.periodic import PeriodicJob
from adapters.readmodels import tracking as tr
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.fingerprint import fingerprint
from adapters.readmodels.rebuild import RebuildBusyError, rebuild
from adapters.readmodels.registry import current_fingerprints

log = structlog.get_logger("projections")

#: Seconds between two looks for outdated read models (a rebuild runs inside a look).
HEALING_CHECK_SECONDS = 5.0


def is_outdated(database: ReadDatabase, name: str) -> bool:
    """Whether read model ``name``'s serving generation was built by other code."""
    current = current_fingerprints().get(name)
    if current is None:
        return False
    with database.read() as tx:
        rows = tx.execute("SELECT active FROM read_model_generations WHERE name = ?", (name,))
        active = rows[0][0] if rows else 1
        return tr.built_by_other_code(tx, name, active, current)


class ReadModelHealer:
    def __init__(
        self, database: ReadDatabase, factories: Sequence[Callable[[], ReadModel]]
    ) -> None:
        self.database = database
        self.factories = list(factories)

    def run_once(self) -> int:
        """Rebuild each outdated read model (one at a time); returns how many it rebuilt."""
        healed = 0
        for factory in self.factories:
            model = factory()
            if not self._outdated(model):
                continue
            log.warning("projection.outdated", projection=model.name)
            try:
                result = rebuild(self.database, factory)
            except RebuildBusyError:
                continue  # another process (or `rebuild`) is at it; look again next tick
            log.info(
                "projection.healed", projection=model.name, generation=result.generation,
                records=result.records,
            )  # fmt: skip
            healed += 1
        return healed

    def _outdated(self, model: ReadModel) -> bool:
        with self.database.worker_connection() as conn, conn.transaction() as tx:
            tr.create_tracking_tables(tx)
            active = tr.generations(tx, model.name).active
            tr.claim_fingerprint(tx, model.name, active, fingerprint(model))  # a new store
            return tr.built_by_other_code(tx, model.name, active, fingerprint(model))


def healing_job(
    database: ReadDatabase, factories: Sequence[Callable[[], ReadModel]]
) -> PeriodicJob:
    healer = ReadModelHealer(database, factories)
    return PeriodicJob("read-model-healing", HEALING_CHECK_SECONDS, healer.run_once)
