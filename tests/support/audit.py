"""The audit read model in the integration tests: its tables' prefix, a worker run to the end
of the log, and the trail as its query returns it."""

from __future__ import annotations

from typing import Any

from adapters.readmodels.audit.store import AuditFilters, AuditReadModel, audit_events
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.worker import ProjectionWorker

#: The first generation's tables (``prepare_read_models`` creates them).
PREFIX = "audit_g1_"


def catch_up(database: ReadDatabase, batch_size: int = 5, generation: int | None = None) -> None:
    worker = ProjectionWorker(
        database, AuditReadModel, batch_size=batch_size, generation=generation
    )
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        worker.catch_up(conn)


def trail(database: ReadDatabase, **filters: Any) -> list[Any]:
    with database.read() as tx:
        return audit_events(tx, PREFIX, AuditFilters(**filters), None, 500).entries
