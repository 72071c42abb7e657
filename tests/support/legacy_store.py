"""Write the legacy fixture stores: a short history of every event type, on SQLite and on
PostgreSQL, with every read model caught up by the code of the time.

The committed stores under ``tests/fixtures/store_17c56de/`` were written by this module at
commit 17c56de, before the bounded contexts became subpackages (so every stored topic is an
old module path such as ``domain.visits:PatientVisit.VisitScheduled``).
``tests/integration/test_legacy_stores.py`` opens them with the code of today. Running it
again writes stores with today's topics, which would no longer test anything: keep the
committed ones.

    python -m tests.support.legacy_store OUT_DIR POSTGRES_MAINTENANCE_URL
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

from adapters.readmodels.database import open_read_database
from adapters.readmodels.registry import prepare_read_models, read_model_factories
from adapters.settings import Settings
from adapters.storage import ensure_schema, eventsourcing_env
from application.service import PatientServices
from domain.budget.policy import BudgetRules
from tests.support.histories import (
    NOW,
    Hostile,
    Scenario,
    catch_up_all,
    walk_budget,
    walk_complaints,
    walk_visits,
)

#: The schema the PostgreSQL fixture lives in (its dump restores into it).
SCHEMA = "legacy_17c56de"
#: Plain words for every text field, so the fixture is readable.
WORDS = ["Ward 7", "walked in", "ref-a", "reviewed by the duty manager", "ED", "clinic B"]
JWT_SECRET = "legacy-fixture-secret-of-at-least-32-bytes"


def write_history(settings: Settings) -> None:
    """Walk every event type once and catch every read model up."""
    ensure_schema(settings)
    services = PatientServices(env=eventsourcing_env(settings))
    try:
        scenario = Scenario(services, Hostile(WORDS))
        rules = BudgetRules()
        walk_visits(scenario)
        walk_complaints(scenario)
        walk_budget(scenario, rules.fiscal_year_of(rules.local_date(NOW)))
        database = open_read_database(settings)
        try:
            prepare_read_models(database, read_model_factories().values())
            catch_up_all(database)
        finally:
            database.close()
    finally:
        services.close()


def main(out_dir: str, maintenance_url: str) -> None:
    out = Path(out_dir)
    write_history(Settings(jwt_secret=JWT_SECRET, var_dir=out / "sqlite"))
    dbname = f"legacy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE DATABASE {}").format(Identifier(dbname)))
    base = maintenance_url.rsplit("/", 1)[0]
    try:
        url = f"{base}/{dbname}?schema={SCHEMA}"
        write_history(Settings(jwt_secret=JWT_SECRET, database_url=url, postgres_pool_size=2))
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--inserts", f"--schema={SCHEMA}",
             f"{base}/{dbname}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (out / "postgres.sql").write_text(dump, encoding="utf-8")
    finally:
        with psycopg.connect(maintenance_url, autocommit=True) as conn:
            conn.execute(SQL("DROP DATABASE {} WITH (FORCE)").format(Identifier(dbname)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
