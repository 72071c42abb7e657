"""The read-model database of the configured store, and the interface every read model
writes and queries through (defined in :mod:`.connection`; the backends are
:mod:`.postgres_backend` and :mod:`.sqlite_backend`)."""

from __future__ import annotations

from adapters.readmodels.connection import (
    DATABASE_ERRORS,
    EVENTS_FILE,
    READ_MODELS_FILE,
    Dialect,
    ReadDatabase,
    Transaction,
    WorkerConnection,
)
from adapters.readmodels.postgres_backend import (
    PostgresReadDatabase,
    PostgresWorkerConnection,
    advisory_lock_key,
)
from adapters.readmodels.sqlite_backend import SqliteReadDatabase, SqliteWorkerConnection
from adapters.settings import Settings

__all__ = [
    "DATABASE_ERRORS", "EVENTS_FILE", "READ_MODELS_FILE", "Dialect",
    "PostgresReadDatabase", "PostgresWorkerConnection", "ReadDatabase", "SqliteReadDatabase",
    "SqliteWorkerConnection", "Transaction", "WorkerConnection", "advisory_lock_key",
    "open_read_database",
]  # fmt: skip


def open_read_database(settings: Settings) -> ReadDatabase:
    """The read-model database of the configured store (tables made by :mod:`.registry`)."""
    postgres = settings.postgres
    if postgres is None:
        return SqliteReadDatabase(settings.var_dir)
    return PostgresReadDatabase(postgres, pool_size=settings.postgres_pool_size)
