"""Access records on SQLite and PostgreSQL: the app as ``serve`` builds it buffers the reads
(nothing written per request) and saves them when it stops; a save the store refuses keeps
its records and retries them, so once the store takes them again each is saved exactly once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
from litestar.testing import TestClient
from prometheus_client import CollectorRegistry
from psycopg.sql import SQL, Identifier

from adapters.access_recording import AccessMetrics
from adapters.auth_tokens import mint_token
from adapters.composition import access_recorder
from adapters.http.app import create_app
from adapters.settings import Settings
from adapters.storage import APPLICATION_NAME, ensure_schema, eventsourcing_env
from application.service import PatientServices
from application.shared.access import AccessRecord
from tests.support.api import API, recorded_since

ACCESSED = f"{AccessRecord.Accessed.__module__}:AccessRecord.Accessed"


def access_records(services: PatientServices) -> list[Any]:
    return [e for e in recorded_since(services, 0) if isinstance(e, AccessRecord.Accessed)]


def staff(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'nina', ['clerk', 'nurse'])}"}


def walk_in(client: TestClient[Any], headers: dict[str, str]) -> str:
    body = {"patientRef": "P-42", "visitClass": "EMER", "serviceUnit": "ED"}
    reply = client.post(f"{API}/walk-ins", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def test_the_served_app_buffers_reads_and_saves_them_when_it_stops(
    store_settings: Settings,
) -> None:
    ensure_schema(store_settings)
    settings = replace(store_settings, access_flush_ms=5000, projection_workers=False)
    headers = staff(settings)
    observer = PatientServices(env=eventsourcing_env(settings))
    try:
        with TestClient(create_app(settings)) as client:
            visit = walk_in(client, headers)
            for n in range(3):
                reply = client.get(
                    f"{API}/{visit}", headers={**headers, "X-Correlation-Id": f"r{n}"}
                )
                assert reply.status_code == 200
            assert client.get(f"/fhir/r4/Encounter/{visit}", headers=headers).status_code == 200
            # Answered without a write: within the 5 s interval nothing is saved yet.
            assert access_records(observer) == []
        found = access_records(observer)
    finally:
        observer.close()
    assert [(a.action, a.patient_refs, a.record_ids) for a in found] == [
        ("read visit", ["P-42"], [visit])
    ] * 3 + [("read fhir Encounter", ["P-42"], [visit])]
    assert [a.correlation_id for a in found[:3]] == ["r0", "r1", "r2"]
    assert all(a.actor_role == "clerk,nurse" for a in found)


@contextmanager
def refusing_access_records(settings: Settings) -> Iterator[None]:
    """While open, the store refuses every access record's insert (a constraint error)."""
    postgres = settings.postgres
    if postgres is None:
        path = settings.var_dir / f"{APPLICATION_NAME}.db"
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TRIGGER refuse_access BEFORE INSERT ON stored_events"
                f" WHEN NEW.topic = '{ACCESSED}'"
                " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
        yield
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse_access")
        return
    table = Identifier(postgres.schema or "public", f"{APPLICATION_NAME}_events")
    function = Identifier(postgres.schema or "public", "refuse_access")
    connect = dict(host=postgres.host, port=postgres.port, dbname=postgres.dbname,
                   user=postgres.user, password=postgres.password)  # fmt: skip
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL(
            "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.topic = {} THEN RAISE EXCEPTION 'injected failure'"
            " USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
        ).format(function, ACCESSED))  # fmt: skip
        db.execute(SQL(
            "CREATE TRIGGER refuse_access BEFORE INSERT ON {} FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(table, function))  # fmt: skip
    yield
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL("DROP TRIGGER refuse_access ON {}").format(table))


def test_a_refused_save_is_retried_and_each_access_saved_once(
    store_settings: Settings, services: PatientServices
) -> None:
    settings = replace(store_settings, access_flush_ms=50)
    recorder = access_recorder(settings, services).start()
    app = create_app(settings, services, access_recorder=recorder)
    recorder.metrics = metrics = AccessMetrics(CollectorRegistry())  # this test's own counts
    headers = staff(settings)
    try:
        with TestClient(app) as client:
            visit = walk_in(client, headers)
            with refusing_access_records(settings):
                for n in range(4):
                    path = f"{API}/{visit}"
                    reply = client.get(path, headers={**headers, "X-Correlation-Id": f"c{n}"})
                    assert reply.status_code == 200  # served while the store refuses
                deadline = time.monotonic() + 10
                while metrics.save_failures._value.get() < 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert metrics.save_failures._value.get() >= 2
                assert access_records(services) == []  # all or nothing per save
                assert recorder.waiting == 4
            assert recorder.flush(10)
    finally:
        recorder.close()
    found = access_records(services)
    assert sorted(a.correlation_id for a in found) == ["c0", "c1", "c2", "c3"]
    assert len({a.originator_id for a in found}) == 4
