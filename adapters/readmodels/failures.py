"""Which database errors are the database failing (reconnect and retry the batch) and which
are a record it refused (park the record): the line between the two decides whether a
worker waits for the database or moves on without the record."""

from __future__ import annotations

import sqlite3

import psycopg

from adapters.readmodels import tracking as tr

#: Errors after which a worker reconnects: the database went away or refused for a while.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    tr.TrackingConflictError,
)


#: PostgreSQL error classes that mean the connection or the server, not the statement:
#: 08 connection exception, 57 operator intervention (shutdown, cancel), 53 insufficient
#: resources. An OperationalError of another class (54 program limit exceeded: an index row
#: too big) is the record's own and must be parked, or the worker would retry it forever.
_CONNECTION_SQLSTATE_CLASSES = frozenset({"08", "57", "53"})
#: SQLite's OperationalErrors that are the database's state, not the statement's.
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` is the database failing (reconnect and retry the batch) rather
    than a record it refused (park the record)."""
    if isinstance(error, tr.TrackingConflictError | psycopg.InterfaceError):
        return True
    if isinstance(error, psycopg.OperationalError):
        sqlstate = error.sqlstate
        return sqlstate is None or sqlstate[:2] in _CONNECTION_SQLSTATE_CLASSES
    if isinstance(error, sqlite3.OperationalError):
        return any(word in str(error).lower() for word in _SQLITE_TRANSIENT)
    return False
