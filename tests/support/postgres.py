"""The PostgreSQL server the integration tests create their databases on, and settings for a
fresh schema in one (the fixtures using them are in tests/integration/conftest.py).

The databases are created over a *maintenance connection*:

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

#: The key-encryption key of the tests' PostgreSQL stores (the service requires one there);
#: tests/conftest.py also puts it into the environment, for the processes tests start.
TEST_KEK = "dGVzdC1vbmx5LWtleS1lbmNyeXB0aW9uLWtleS0xMjM"

#: The server used when TEST_DATABASE_URL is not set, its maintenance database and users.
LOCAL_HOST, LOCAL_PORT, LOCAL_MAINTENANCE_DB = "127.0.0.1", 5432, "postgres"
LOCAL_USERS = ("postgres", "root")


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


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def maintenance_candidates() -> list[dict[str, Any]]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return [conninfo_to_dict(url)]
    return [
        dict(host=LOCAL_HOST, port=LOCAL_PORT, dbname=LOCAL_MAINTENANCE_DB, user=user)
        for user in LOCAL_USERS
    ]


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
            privacy_kek=TEST_KEK,
            # Small pools: a test opens a few applications, and the server has ~100 connections.
            postgres_pool_size=2,
        )
    finally:
        with server.connect(dbname) as conn:
            # Bounded: a leaked connection holding a lock must fail the teardown, not hang it.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


#: Both stores, for tests that must hold on each (select with the ``store_settings`` fixture).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
