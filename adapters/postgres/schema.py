"""Create the PostgreSQL schema that holds the application's tables."""

from __future__ import annotations

import psycopg
from psycopg import errors
from psycopg.sql import SQL, Identifier

from adapters.settings import PostgresConnection


def create_schema_if_missing(postgres: PostgresConnection) -> None:
    assert postgres.schema is not None
    with psycopg.connect(
        dbname=postgres.dbname,
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        connect_timeout=5,
        autocommit=True,
    ) as conn:
        try:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(postgres.schema)))
        except errors.UniqueViolation:
            pass  # created concurrently by another process: IF NOT EXISTS is not atomic
