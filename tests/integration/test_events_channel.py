"""Each PostgreSQL store notifies a channel of its own schema: a read-model worker wakes for
its store's commits and not for those of another schema in the same database (channels are
database-wide; with the library's channel, named after the table alone, every store's
workers woke for every store's writes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.postgres.channels import events_channel
from adapters.readmodels.database import open_read_database
from adapters.readmodels.postgres_backend import PostgresWorkerConnection
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.postgres import schema_settings
from tests.support.visits import record_visits


@pytest.fixture
def other_settings(postgres_server, postgres_database, jwt_secret) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    with schema_settings(postgres_server, postgres_database, jwt_secret) as settings:
        yield settings


def _listening_worker(settings: Settings) -> PostgresWorkerConnection:
    database = open_read_database(settings)
    conn = database.worker_connection()
    assert isinstance(conn, PostgresWorkerConnection)
    database.close()
    return conn


def test_a_worker_hears_its_own_schema_and_not_another(
    postgres_settings: Settings, other_settings: Settings
) -> None:
    ours = PatientServices(env=eventsourcing_env(postgres_settings))
    theirs = PatientServices(env=eventsourcing_env(other_settings))
    conn = _listening_worker(postgres_settings)
    try:
        conn._conn.execute(f'LISTEN "{conn._events_channel}"')
        assert conn._events_channel == events_channel(postgres_settings.postgres.schema)
        record_visits(theirs, 1)
        assert list(conn._conn.notifies(timeout=0.5)) == []
        record_visits(ours, 1)
        heard = list(conn._conn.notifies(timeout=2, stop_after=1))
        assert heard and {n.channel for n in heard} == {conn._events_channel}
    finally:
        conn.close()
        ours.close()
        theirs.close()
