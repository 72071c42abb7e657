"""PostgreSQL for integration tests: a fresh database per test run, a fresh schema per test.

At the start of a run that needs PostgreSQL, a session fixture creates a new, empty database
``ps_test_<random>`` and drops it at the end (``WITH (FORCE)``); each test gets its own schema
``test_<random>`` inside it. Nothing depends on what a shared database holds: a large catalog
there once hid a query that failed on every newly created database.

The database is created over a *maintenance connection*:

* ``TEST_DATABASE_URL``, when set: a libpq URL such as
  ``postgresql://me:secret@db.example:5433/postgres`` naming the server and an existing
  database on it, as a user allowed to ``CREATE DATABASE``. The tests then connect to their
  fresh database on the same host and port, as the same user with the same password (the
  service's ``DATABASE_URL`` understands no other libpq parameters).
* otherwise the local server on 127.0.0.1:5432, database ``postgres``, as the first of the
  users ``postgres`` and ``root`` that can connect (trust auth).

When the server is unreachable (or refuses to create the database) the tests are skipped on a
laptop but fail under CI (``CI`` set), so a broken CI database can never pass as "all skipped".
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices

#: The server used when TEST_DATABASE_URL is not set, its maintenance database and users.
LOCAL_HOST, LOCAL_PORT, LOCAL_MAINTENANCE_DB = "127.0.0.1", 5432, "postgres"
LOCAL_USERS = ("postgres", "root")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark by fixture use, so `-m "not postgres"` can never miss a test that needs the server.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create databases on, and how they connect to it."""

    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    #: libpq parameters of the maintenance connection (CREATE and DROP DATABASE run there).
    maintenance: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def maintenance_connection(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**{"connect_timeout": 5, **self.maintenance}, autocommit=True)

    def connect(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, dbname=dbname, user=self.user,
            password=self.password, connect_timeout=5, autocommit=True,
        )  # fmt: skip

    def url(self, dbname: str, schema: str | None = None) -> str:
        """The service's ``DATABASE_URL`` for ``dbname`` (and ``schema``) on this server."""
        password = f":{quote(self.password, safe='')}" if self.password else ""
        query = f"?schema={schema}" if schema else ""
        return (
            f"postgresql://{quote(self.user, safe='')}{password}@{self.host}:{self.port}"
            f"/{quote(dbname, safe='')}{query}"
        )

    def create_database(self) -> str:
        """A new, empty database ``ps_test_<random>``: its name."""
        name = f"ps_test_{uuid.uuid4().hex[:12]}"
        with self.maintenance_connection() as conn:
            conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` with whatever is still connected to it (PostgreSQL 13+)."""
        with self.maintenance_connection() as conn:
            conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))

    @contextmanager
    def new_database(self) -> Iterator[str]:
        """A new, empty database for the ``with`` block, dropped afterwards."""
        name = self.create_database()
        try:
            yield name
        finally:
            self.drop_database(name)


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _maintenance_candidates() -> list[dict[str, Any]]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return [conninfo_to_dict(url)]
    return [
        dict(host=LOCAL_HOST, port=LOCAL_PORT, dbname=LOCAL_MAINTENANCE_DB, user=user)
        for user in LOCAL_USERS
    ]


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The server (TEST_DATABASE_URL's, or the local one), checked once per session."""
    errors = []
    for params in _maintenance_candidates():
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
    _unavailable(f"PostgreSQL unreachable ({where}): " + "; ".join(errors))


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """This run's own database (its name), created empty and dropped at the end."""
    try:
        name = postgres_server.create_database()
    except psycopg.Error as e:
        _unavailable(f"PostgreSQL refused to create the tests' database: {e}")
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@contextmanager
def schema_settings(server: PostgresServer, dbname: str, jwt_secret: str) -> Iterator[Settings]:
    """Settings for a new schema ``test_<random>`` in ``dbname``, dropped with everything in
    it afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with server.connect(dbname) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    try:
        yield Settings(
            jwt_secret=jwt_secret,
            database_url=server.url(dbname, schema),
            # Small pools: a test opens a few applications, and the server has ~100 connections.
            postgres_pool_size=2,
        )
    finally:
        with server.connect(dbname) as conn:
            # Bounded: a leaked connection holding a lock must fail the teardown, not hang it.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


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
