"""Create the PostgreSQL schema that holds the application's tables, and serialise the
creation of tables across processes."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors
from psycopg.sql import SQL, Identifier

from adapters.settings import PostgresConnection

#: The advisory lock held while tables are created (one per database, whatever the schema:
#: creations are rare and short, so serialising them all costs nothing).
TABLE_CREATION_LOCK_KEY = zlib.crc32(b"patient-services:table-creation")


def _connect(postgres: PostgresConnection) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        dbname=postgres.dbname,
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        connect_timeout=5,
        autocommit=True,
    )


@contextmanager
def creating_tables(postgres: PostgresConnection) -> Iterator[None]:
    """Hold the table-creation lock while the block creates tables where missing.

    ``CREATE TABLE IF NOT EXISTS`` (and the row type PostgreSQL makes with each table) is not
    safe to run concurrently: when several processes start at once (``serve`` with WORKERS
    above 1, or several hosts), one of them fails with a duplicate ``pg_type`` key or "tuple
    concurrently updated". Under this session-level advisory lock they take turns; the later
    ones find the tables there. Not reentrant: do not nest it."""
    with _connect(postgres) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (TABLE_CREATION_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (TABLE_CREATION_LOCK_KEY,))


def create_schema_if_missing(postgres: PostgresConnection) -> None:
    assert postgres.schema is not None
    with _connect(postgres) as conn:
        try:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(postgres.schema)))
        except errors.UniqueViolation:
            pass  # created concurrently by another process: IF NOT EXISTS is not atomic
