"""The read models this service keeps, by name: the one list the workers, the healing job,
``/ready``, ``/metrics`` and the CLI's ``rebuild NAME`` all read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache, partial

from adapters.policies import budget_rules_of
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import AuditReadModel
from adapters.readmodels.base import ReadModel
from adapters.readmodels.budget.store import BudgetReadModel
from adapters.readmodels.capacity.store import CapacityReadModel
from adapters.readmodels.complaints.store import ComplaintsReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.fingerprint import fingerprint
from adapters.readmodels.visits.store import FlowReadModel
from adapters.settings import Settings
from domain.budget.policy import BudgetRules

ReadModelFactory = Callable[[], ReadModel]


def read_model_factories(settings: Settings | None = None) -> dict[str, ReadModelFactory]:
    """Each read model by name. ``settings`` give the facility's calendar (fiscal year, time
    zone) to the models that bucket by it; without them, the defaults (for callers that only
    need the names or the table definitions)."""
    budget_rules = budget_rules_of(settings) if settings is not None else BudgetRules()
    return {
        "flow": FlowReadModel,
        "audit": AuditReadModel,
        "budget": partial(BudgetReadModel, budget_rules),
        "complaints": ComplaintsReadModel,
        "capacity": CapacityReadModel,
    }


#: The names alone, in the order above (the CLI's help lists them).
READ_MODEL_NAMES = tuple(read_model_factories())


@cache
def current_fingerprints() -> dict[str, str]:
    """Each read model's fingerprint in this release, by name (table definitions and fold
    version; settings change neither)."""
    return {name: fingerprint(factory()) for name, factory in read_model_factories().items()}


def prepare_read_models(database: ReadDatabase, factories: Iterable[ReadModelFactory]) -> None:
    """Create the tracking tables and each active generation's tables if missing, so
    queries work before the first worker batch (run once at start, like ``migrate``).
    A generation an older release built is left as it is: this release's statements may
    name columns its tables lack (an index on a new column), and the healing job rebuilds
    it as a new generation anyway."""
    with database.worker_connection() as conn, conn.transaction() as tx:
        tr.create_tracking_tables(tx)
        for factory in factories:
            model = factory()
            active = tr.generations(tx, model.name).active
            tr.tracking(tx, model.name, active)
            if not tr.built_by_other_code(tx, model.name, active, fingerprint(model)):
                model.create_tables(tx, tr.table_prefix(model.name, active))
