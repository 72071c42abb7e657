"""Turn :class:`~adapters.settings.Settings` into the eventsourcing environment.

The application is constructed as ``PatientServices(env=eventsourcing_env(settings))``. Note
that eventsourcing merges ``os.environ`` *under* this dict, so keys set here win over stray
variables; keys prefixed with the application name (``PATIENT_SERVICES_...``) would still win,
so do not set those.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.settings import Settings

APPLICATION_NAME = "patient_services"
SQLITE_RECORDER_TOPIC = "adapters.sqlite.recorder:SQLiteEventRecorder"
POSTGRES_RECORDER_TOPIC = "adapters.postgres.recorder:PostgresEventRecorder"
#: Connections a process may open above the pool under a burst; (pool + this) x WORKERS
#: must stay below the server's max_connections.
POSTGRES_MAX_OVERFLOW = 5


def eventsourcing_env(
    settings: Settings, *, projection_names: Iterable[str] = ()
) -> dict[str, str]:
    """The env for the application (and, on SQLite, one database file per projection).

    ``projection_names``: on SQLite every projection needs its own file, because SQLite table
    names are fixed (``<NAME>_SQLITE_DBNAME`` is read first by a projection named ``name``).
    On PostgreSQL tables are prefixed by name, so nothing is needed.
    """
    postgres = settings.postgres
    if postgres is None:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.var_dir / f"{APPLICATION_NAME}.db"),
            # Seconds a writer waits for SQLite's single write lock before failing.
            "SQLITE_LOCK_TIMEOUT": "5",
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
            "CREATE_TABLE": "y",
        }
        for name in projection_names:
            env[f"{name.upper()}_SQLITE_DBNAME"] = str(settings.var_dir / f"{name}.db")
        return env
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": postgres.dbname,
        "POSTGRES_HOST": postgres.host,
        "POSTGRES_PORT": str(postgres.port),
        "POSTGRES_USER": postgres.user,
        "POSTGRES_PASSWORD": postgres.password,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(POSTGRES_MAX_OVERFLOW),
        # Seconds. Also the wait for a pooled connection, which the library retries 10 times:
        # the default of 30 would hang a request for minutes when the pool is exhausted.
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # Seconds a writer waits for the events table lock (behind DDL, VACUUM FULL, ...).
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Seconds before the server ends a session left idle inside a transaction.
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "5",
        # Explicitly off, overriding any stray environment variable: in 9.5.6 the database
        # function skips the table lock (tailing readers miss events) and can write into
        # another application's table.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
        "CREATE_TABLE": "y",
    }
    if postgres.schema:
        env["POSTGRES_SCHEMA"] = postgres.schema
    return env


def ensure_schema(settings: Settings) -> None:
    """Create the PostgreSQL schema named by the settings if it is missing (a no-op on SQLite
    or without a schema). Tables are then created by constructing the application."""
    postgres = settings.postgres
    if postgres is None or postgres.schema is None:
        return
    from adapters.postgres.schema import create_schema_if_missing

    create_schema_if_missing(postgres)
