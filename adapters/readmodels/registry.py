"""The read models this service keeps, by name (``rebuild NAME`` and the workers use it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from adapters.readmodels import tracking as tr
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.settings import Settings
from domain.budget.policy import BudgetRules


def read_model_factories(settings: Settings | None = None) -> dict[str, Callable[[], ReadModel]]:
    """Each read model by name. ``settings`` give the facility's calendar (fiscal year, time
    zone) to the models that bucket by it; without them, the defaults (for callers that only
    need the names)."""
    from adapters.composition import budget_rules_of
    from adapters.readmodels.audit.store import AuditReadModel
    from adapters.readmodels.budget.store import BudgetReadModel
    from adapters.readmodels.complaints.store import ComplaintsReadModel
    from adapters.readmodels.visits.store import FlowReadModel

    budget_rules = budget_rules_of(settings) if settings is not None else BudgetRules()
    return {
        "flow": FlowReadModel,
        "audit": AuditReadModel,
        "budget": partial(BudgetReadModel, budget_rules),
        "complaints": ComplaintsReadModel,
    }


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
