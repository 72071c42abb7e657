"""Plain SQL on the stored log, as someone with database access could: for tests that
tamper with the log or plant records that no command would write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from adapters.readmodels.database import EVENTS_FILE
from adapters.settings import Settings


@contextmanager
def raw_events(store_settings: Settings) -> Iterator[tuple[Any, str, str]]:
    """(connection, events table, position column), committing on exit."""
    postgres = store_settings.postgres
    if postgres is None:
        conn = sqlite3.connect(store_settings.var_dir / EVENTS_FILE)
        try:
            with conn:
                yield conn, "stored_events", "rowid"
        finally:
            conn.close()
        return
    with psycopg.connect(
        host=postgres.host, port=postgres.port, dbname=postgres.dbname, user=postgres.user,
        password=postgres.password, options=f"-c search_path={postgres.schema}",
    ) as conn:  # fmt: skip
        yield conn, "patient_services_events", "notification_id"


def sql(conn: Any, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """``?`` placeholders on both databases."""
    if isinstance(conn, psycopg.Connection):
        statement = statement.replace("?", "%s")
    cursor = conn.execute(statement, params)
    return cursor.fetchall() if cursor.description else []
