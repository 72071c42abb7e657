"""Stores written before the bounded contexts moved into subpackages still load.

``tests/fixtures/store_17c56de/`` holds a SQLite store (events and read models) and a
PostgreSQL schema dump, both written by the code at commit 17c56de
(:mod:`tests.support.legacy_store`): every event type of every aggregate, under its old topic
(``domain.visits:PatientVisit.VisitScheduled``). Today's code must rebuild every aggregate
from them, catch every read model up (healing the tables an older release built) and answer
every read route from them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import resolve_topic
from litestar.testing import TestClient
from psycopg.sql import SQL, Identifier

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import verify
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models, read_model_factories
from adapters.readmodels.status import read_model_status
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from domain.budget.policy import BudgetRules
from tests.support.histories import EXPECTED_EVENTS, catch_up_all
from tests.support.postgres import TEST_KEK, PostgresServer
from tests.support.raw_log import raw_events, sql

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_17c56de"
LEGACY_SCHEMA = "legacy_17c56de"
#: The day the fixture was written (its budget lines are of that fiscal year).
WRITTEN_ON = date(2026, 12, 2)

#: What the fixture's walk recorded at 17c56de: today's walks, but for the aggregates added
#: since (the capacity context's, which its bookings write too, and the complaint settings).
ADDED_SINCE = frozenset(
    {
        "PatientBookings",
        "FacilityUnit",
        "ClinicSchedule",
        "SlotClaims",
        "ScheduleWaitlist",
        "ComplaintSettings",
    }
)
LEGACY_EVENTS = {
    kind: events for kind, events in EXPECTED_EVENTS.items() if kind not in ADDED_SINCE
}


@pytest.fixture
def sqlite_legacy(tmp_path: Path, jwt_secret: str) -> Settings:
    """A copy of the SQLite fixture (opening it may heal its read-model tables)."""
    shutil.copytree(FIXTURE / "sqlite", tmp_path / "var")
    return Settings(jwt_secret=jwt_secret, var_dir=tmp_path / "var")


@pytest.fixture
def postgres_legacy(
    postgres_server: PostgresServer, postgres_database: str, jwt_secret: str
) -> Iterator[Settings]:
    """The PostgreSQL dump restored into a new schema of this run's database."""
    schema = f"legacy_{uuid.uuid4().hex[:12]}"
    dump = (FIXTURE / "postgres.sql").read_text(encoding="utf-8")
    # pg_dump 15.14+ brackets the script in psql meta-commands (\restrict): not SQL.
    script = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    with postgres_server.connect(postgres_database) as conn:
        conn.execute(script.replace(LEGACY_SCHEMA, schema).encode())
    try:
        yield Settings(
            jwt_secret=jwt_secret,
            database_url=postgres_server.url(postgres_database, schema),
            privacy_kek=TEST_KEK,
            postgres_pool_size=2,
        )
    finally:
        with postgres_server.connect(postgres_database) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def legacy_settings(request: pytest.FixtureRequest) -> Settings:
    name = "sqlite_legacy" if request.param == "sqlite" else "postgres_legacy"
    return request.getfixturevalue(name)


def stored_topics(settings: Settings) -> dict[str, list[uuid.UUID]]:
    """Each stored topic and the aggregates that recorded it."""
    with raw_events(settings) as (conn, events, _):
        rows = sql(conn, f"SELECT topic, originator_id FROM {events}")
    found: dict[str, list[uuid.UUID]] = {}
    for topic, originator_id in rows:
        found.setdefault(topic, []).append(uuid.UUID(str(originator_id)))
    return found


def test_the_fixture_holds_old_topics_of_every_event_type(legacy_settings: Settings) -> None:
    topics = stored_topics(legacy_settings)
    names = {topic.rpartition(":")[2] for topic in topics}
    expected = {f"{kind}.{event}" for kind, events in LEGACY_EVENTS.items() for event in events}
    assert names == expected
    # Written before the move: the aggregates' topics name the flat domain modules.
    modules = {topic.partition(":")[0] for topic in topics}
    assert {"domain.visits", "domain.complaints", "domain.budget"} <= modules


def test_every_stored_topic_resolves_and_every_aggregate_loads(legacy_settings: Settings) -> None:
    topics = stored_topics(legacy_settings)
    for topic in topics:
        event_class = resolve_topic(topic)
        assert event_class.__qualname__ == topic.rpartition(":")[2]
    services = PatientServices(env=eventsourcing_env(legacy_settings))
    try:
        ids = {aggregate_id for found in topics.values() for aggregate_id in found}
        loaded = [services.repository.get(aggregate_id) for aggregate_id in ids]
        assert {type(aggregate).__name__ for aggregate in loaded} == set(LEGACY_EVENTS)
        assert all(aggregate.version >= 1 for aggregate in loaded)
    finally:
        services.close()


def headers(settings: Settings, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'reader-1', list(roles))}"}


def test_every_read_model_heals_and_answers_from_the_old_store(legacy_settings: Settings) -> None:
    services = PatientServices(env=eventsourcing_env(legacy_settings))
    database: ReadDatabase = open_read_database(legacy_settings)
    models = read_model_factories()
    try:
        prepare_read_models(database, models.values())
        catch_up_all(database)
        statuses = read_model_status(database, models)
        with database.read() as tx:
            parked = {name: tr.parked_records(tx, name, 5) for name in models}
        assert {name: kept for name, kept in parked.items() if kept} == {}
        assert [(s.name, s.position) for s in statuses] == [(s.name, s.head) for s in statuses]
        assert verify(database).ok

        app = create_app(legacy_settings, services, read_database=database)
        with TestClient(app) as client:
            staff = headers(legacy_settings, "clerk", "nurse", "clinician", "manager")
            board: dict[str, Any] = client.get("/api/v1/flow/board", headers=staff).json()
            assert [v for unit in board["units"] for v in unit["arrived"]], board
            worklist = client.get("/api/v1/complaints/worklist", headers=staff)
            assert worklist.status_code == 200 and worklist.json()["items"], worklist.text
            auditor = headers(legacy_settings, "auditor")
            trail = client.get("/api/v1/audit/events?limit=500", headers=auditor)
            assert trail.status_code == 200, trail.text
            kinds = {entry["aggregateType"] for entry in trail.json()["items"]}
            assert {"PatientVisit", "ComplaintCase", "BudgetLine"} <= kinds
            finance = headers(legacy_settings, "finance")
            fiscal_year = BudgetRules().fiscal_year_of(WRITTEN_ON)
            summary = client.get(
                f"/api/v1/budget/summary?fiscalYear={fiscal_year}", headers=finance
            )
            assert summary.status_code == 200 and summary.json()["lines"], summary.text
    finally:
        database.close()
        services.close()
