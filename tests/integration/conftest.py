"""PostgreSQL for integration tests: each test gets its own schema in database ``test``.

When the server is unreachable the tests are skipped on a laptop but fail under CI (``CI`` set),
so a broken CI database can never pass as "all skipped".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices

PG_HOST, PG_PORT, PG_DBNAME = "127.0.0.1", 5432, "test"
PG_USERS = ("postgres", "root")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark by fixture use, so `-m "not postgres"` can never miss a test that needs the server.
    for item in items:
        if "postgres_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_user() -> str:
    """The first user that can connect (trust auth), checked once per session."""
    errors = []
    for user in PG_USERS:
        try:
            psycopg.connect(
                host=PG_HOST, port=PG_PORT, dbname=PG_DBNAME, user=user, connect_timeout=3
            ).close()
        except psycopg.OperationalError as e:
            errors.append(f"{user}: {e}".strip())
        else:
            return user
    message = f"PostgreSQL unreachable on {PG_HOST}:{PG_PORT}/{PG_DBNAME}: " + "; ".join(errors)
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres_settings(postgres_user: str, jwt_secret: str) -> Iterator[Settings]:
    """Settings for a fresh schema ``test_<random>``, dropped with everything in it afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    connect = dict(host=PG_HOST, port=PG_PORT, dbname=PG_DBNAME, user=postgres_user)
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    yield Settings(
        jwt_secret=jwt_secret,
        database_url=f"postgresql://{postgres_user}@{PG_HOST}:{PG_PORT}/{PG_DBNAME}?schema={schema}",
        # Small pools: a test opens a few applications, and the server has ~100 connections.
        postgres_pool_size=2,
    )
    with psycopg.connect(**connect, autocommit=True) as conn:
        # Bounded: a leaked connection holding a lock must fail the teardown, not hang it.
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


@pytest.fixture
def postgres_env(postgres_settings: Settings) -> dict[str, str]:
    """eventsourcing env for the fresh schema, configured exactly as in production."""
    return eventsourcing_env(postgres_settings)


#: Both stores, for tests that must hold on each (select with the ``store_settings`` fixture).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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
