"""The read models this service keeps, by name (``rebuild NAME`` and the workers use it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from adapters.readmodels import tracking as tr
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase


def read_model_factories() -> dict[str, Callable[[], ReadModel]]:
    from adapters.readmodels.audit_store import AuditReadModel
    from adapters.readmodels.flow_store import FlowReadModel

    return {"flow": FlowReadModel, "audit": AuditReadModel}


def prepare_read_models(
    database: ReadDatabase, factories: Iterable[Callable[[], ReadModel]]
) -> None:
    """Create the tracking tables and each active generation's tables if missing, so
    queries work before the first worker batch (run once at start, like ``migrate``)."""
    with database.worker_connection() as conn, conn.transaction() as tx:
        tr.create_tracking_tables(tx)
        for factory in factories:
            model = factory()
            active = tr.generations(tx, model.name).active
            tr.tracking(tx, model.name, active)
            model.create_tables(tx, tr.table_prefix(model.name, active))
