"""PostgreSQL for integration tests: a fresh database per test run, a fresh schema per test.

At the start of a run that needs PostgreSQL, a session fixture creates a new, empty database
``ps_test_<random>`` and drops it at the end (``WITH (FORCE)``); each test gets its own schema
``test_<random>`` inside it. Nothing depends on what a shared database holds: a large catalog
there once hid a query that failed on every newly created database.

The server, its maintenance connection (``TEST_DATABASE_URL`` or the local one) and why a
broken CI database fails rather than skips are described in tests/support/postgres.py.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models
from adapters.settings import Settings
from adapters.storage import ensure_schema, eventsourcing_env
from application.service import PatientServices
from tests.support.postgres import (
    BACKENDS,
    LOCAL_HOST,
    LOCAL_MAINTENANCE_DB,
    LOCAL_PORT,
    PostgresServer,
    maintenance_candidates,
    schema_settings,
    unavailable,
)
from tests.support.projections import marked_read_models


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark by fixture use, so `-m "not postgres"` can never miss a test that needs the server.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The server (TEST_DATABASE_URL's, or the local one), checked once per session."""
    errors = []
    for params in maintenance_candidates():
        try:
            psycopg.connect(**{**params, "connect_timeout": 3}).close()
        except psycopg.OperationalError as e:
            errors.append(f"{params.get('user')}: {e}".strip())
            continue
        return PostgresServer(
            host=params.get("host") or LOCAL_HOST,
            port=int(params.get("port") or LOCAL_PORT),
            user=params.get("user") or getpass.getuser(),
            password=params.get("password") or "",
            maintenance=params,
        )
    # The URL itself is never shown: it may carry a password. The errors name host and port.
    where = f"{LOCAL_HOST}:{LOCAL_PORT}/{LOCAL_MAINTENANCE_DB}"
    if os.environ.get("TEST_DATABASE_URL"):
        where = "TEST_DATABASE_URL"
    unavailable(f"PostgreSQL unreachable ({where}): " + "; ".join(errors))


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """This run's own database (its name), created empty and dropped at the end."""
    try:
        name = postgres_server.create_database()
    except psycopg.Error as e:
        unavailable(f"PostgreSQL refused to create the tests' database: {e}")
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_settings(
    postgres_server: PostgresServer, postgres_database: str, jwt_secret: str
) -> Iterator[Settings]:
    """Settings for a fresh schema in this run's database (subprocesses given its
    ``database_url`` as DATABASE_URL use the same database and schema)."""
    with schema_settings(postgres_server, postgres_database, jwt_secret) as settings:
        yield settings


@pytest.fixture
def postgres_env(postgres_settings: Settings) -> dict[str, str]:
    """eventsourcing env for the fresh schema, configured exactly as in production."""
    return eventsourcing_env(postgres_settings)


@pytest.fixture(params=BACKENDS)
def store_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings for a fresh SQLite store, then for a fresh PostgreSQL schema."""
    return request.getfixturevalue("settings" if request.param == "sqlite" else "postgres_settings")


@pytest.fixture
def services(store_settings: Settings) -> Iterator[PatientServices]:
    """The application on ``store_settings``'s store."""
    app = PatientServices(env=eventsourcing_env(store_settings))
    yield app
    app.close()


@pytest.fixture
def database(
    request: pytest.FixtureRequest, store_settings: Settings, services: PatientServices
) -> Iterator[ReadDatabase]:
    """The read database on ``services``'s store, prepared with the read models the test's
    ``read_models`` mark names (none unmarked: the test prepares what it needs)."""
    db = open_read_database(store_settings)
    prepare_read_models(db, marked_read_models(request))
    yield db
    db.close()


@pytest.fixture
def served_client(store_settings: Settings) -> Iterator[TestClient[Any]]:
    """The app on ``store_settings``'s store as `serve` builds it: its own services, read
    models and projection workers (the PostgreSQL schema is ensured first, as `serve` does)."""
    ensure_schema(store_settings)
    with TestClient(create_app(store_settings)) as test_client:
        yield test_client
