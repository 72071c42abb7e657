"""No record can stop a projection worker: a record its read model cannot apply is parked
(kept with its error), the rest of its batch is applied, the position moves on, the read
model is reported degraded, and the audit trail's verify names the parked positions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import AuditReadModel, verify
from adapters.readmodels.base import LogReader
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.status import read_model_status
from adapters.readmodels.visits.store import FlowReadModel
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application.service import PatientServices
from projections.shared.records import StoredRecord
from tests.support.counting_model import CountingReadModel
from tests.support.raw_log import raw_events, sql
from tests.support.visits import record_visits

#: Positions the poisoned models refuse (set per test).
POISONED: set[int] = set()


class PoisonedCounting(CountingReadModel):
    """Fails on a poisoned record wherever it is in a batch, like a bug would."""

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        super().apply(tx, prefix, records, log)  # writes first: the savepoint must undo them
        if any(r.position in POISONED for r in records):
            raise ValueError("cannot apply this record")


class PoisonedAudit(AuditReadModel):
    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        if any(r.position in POISONED for r in records):
            raise ValueError("cannot apply this record")
        super().apply(tx, prefix, records, log)


@pytest.fixture(autouse=True)
def no_poison() -> Iterator[None]:
    POISONED.clear()
    yield
    POISONED.clear()


def catch_up(database: ReadDatabase, factory, batch_size: int = 50) -> ProjectionWorker:  # noqa: ANN001
    prepare_read_models(database, [factory])
    worker = ProjectionWorker(database, factory, batch_size=batch_size)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        worker.catch_up(conn)
    return worker


def applied(database: ReadDatabase) -> list[int]:
    with database.read() as tx:
        rows = tx.execute("SELECT position FROM counting_g1_applied ORDER BY 1")
    return [row[0] for row in rows]


def parked(database: ReadDatabase, name: str) -> list[tr.ParkedRecord]:
    with database.read() as tx:
        return tr.parked_records(tx, name, 1)


def test_a_record_that_fails_is_parked_and_the_rest_of_its_batch_is_applied(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = record_visits(services, 10)
    POISONED.update({positions[3], positions[11]})
    catch_up(database, PoisonedCounting)
    assert applied(database) == [p for p in positions if p not in POISONED]
    kept = parked(database, "counting")
    assert [p.position for p in kept] == sorted(POISONED)
    assert all(p.error == "ValueError: cannot apply this record" for p in kept)
    assert kept[0].originator_version == 2  # positions[3] is the second visit's triage
    [status] = read_model_status(database, ["counting"])
    assert status.position == positions[-1] and status.lag_events == 0
    assert status.degraded and status.parked == 2
    assert status.parked_positions == tuple(sorted(POISONED))


def test_a_worker_never_retries_a_parked_record(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = record_visits(services, 3)
    POISONED.add(positions[0])
    worker = catch_up(database, PoisonedCounting)
    resets = worker.model.resets
    more = record_visits(services, 2)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        worker.catch_up(conn)
    assert applied(database) == positions[1:] + more
    assert worker.model.resets == resets  # the later batch applied at once, no re-isolation
    assert [p.position for p in parked(database, "counting")] == [positions[0]]


def test_a_record_the_view_store_refuses_is_parked_not_retried_forever(
    services: PatientServices, database: ReadDatabase
) -> None:
    """The store itself refusing a row (as PostgreSQL refused a NUL in a text column):
    the failing statement is undone by its savepoint and the transaction goes on."""

    class StoreRefuses(CountingReadModel):
        def apply(self, tx, prefix, records, log):  # noqa: ANN001
            super().apply(tx, prefix, records, log)
            if any(r.position in POISONED for r in records):
                tx.execute(f"INSERT INTO {prefix}applied (position, aggregate_id) VALUES (?, ?)",
                           (records[0].position, "duplicate key"))  # fmt: skip

    positions = record_visits(services, 4)
    POISONED.add(positions[5])
    catch_up(database, StoreRefuses)
    assert applied(database) == [p for p in positions if p != positions[5]]
    [kept] = parked(database, "counting")
    assert kept.position == positions[5]
    # sqlite3.IntegrityError "UNIQUE constraint failed" / psycopg UniqueViolation
    assert "unique" in kept.error.lower()


def test_ready_and_metrics_report_a_degraded_read_model_with_its_parked_positions(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = record_visits(services, 2)
    POISONED.add(positions[1])
    catch_up(database, PoisonedAudit)
    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        ready = client.get("/ready").json()
        metrics = client.get("/metrics").text
    [audit] = [m for m in ready["readModels"] if m["name"] == "audit"]
    assert audit["state"] == "degraded"
    assert audit["parked"] == 1 and audit["parkedPositions"] == [positions[1]]
    assert 'read_model_parked_records{name="audit"} 1.0' in metrics
    flow = [m for m in ready["readModels"] if m["name"] == "flow"]
    assert flow and flow[0]["state"] == "ok" and flow[0]["parked"] == 0


def test_audit_verify_reports_parked_records_and_still_finds_tampering_past_them(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = record_visits(services, 3)
    POISONED.add(positions[2])
    catch_up(database, PoisonedAudit)
    result = verify(database)
    assert not result.ok
    assert result.problem == "parked"
    assert result.first_bad_position == positions[2]
    assert result.parked_positions == [positions[2]]
    # The chain runs on past the parked record: every chained entry is still checked.
    with database.read() as tx:
        chained = int(tx.execute("SELECT count(*) FROM audit_g1_entries")[0][0])
    assert result.checked == chained
    # A row altered after the parked one is still caught, and reported as what it is.
    with raw_events(store_settings) as (conn, events, key):
        [(state,)] = sql(conn, f"SELECT state FROM {events} WHERE {key} = ?", (positions[4],))
        forged = bytes(state).replace(b'"pt-1"', b'"pt-2"')
        assert forged != bytes(state)
        sql(conn, f"UPDATE {events} SET state = ? WHERE {key} = ?", (forged, positions[4]))
    tampered = verify(database)
    assert tampered.problem == "altered" and tampered.first_bad_position == positions[4]


def test_a_rebuild_after_the_fix_applies_the_parked_records(
    services: PatientServices, database: ReadDatabase
) -> None:
    from adapters.readmodels.rebuild import rebuild

    positions = record_visits(services, 4)
    POISONED.add(positions[4])
    catch_up(database, PoisonedAudit)
    assert verify(database).problem == "parked"
    POISONED.clear()  # "the fix"
    rebuild(database, PoisonedAudit, drop_grace=0)
    result = verify(database)
    assert result.ok, result
    with database.read() as tx:
        assert tr.parked_count(tx, "audit", 2) == 0
        assert tr.parked_count(tx, "audit", 1) == 0  # the old generation's are gone with it


def test_the_flow_model_parks_one_visit_and_keeps_the_others(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = record_visits(services, 5)

    class PoisonedFlow(FlowReadModel):
        def apply(self, tx, prefix, records, log):  # noqa: ANN001
            if any(r.position in POISONED for r in records):
                raise KeyError("no fold for this record")
            super().apply(tx, prefix, records, log)

    POISONED.add(positions[4])  # the third visit's walk-in
    catch_up(database, PoisonedFlow)
    with database.read() as tx:
        rows = tx.execute("SELECT id, version FROM flow_g1_visits ORDER BY id")
    # Its triage, in a later part of the batch, folds the visit from the log (the real fold
    # has no poison): every visit has its row, and only the walk-in is parked.
    assert len(rows) == 5 and {version for _, version in rows} == {2}
    assert [p.position for p in parked(database, "flow")] == [positions[4]]


# ---- patient-services parked list | retry -------------------------------------------------
@pytest.fixture
def cli_env(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI reads its settings from the environment: point it at the test's store.
    Its logging set-up is process-wide (and caches loggers): keep it out of the tests."""
    monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
    for name in ("DATABASE_URL", "JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(store_settings.var_dir))
    monkeypatch.setenv("JWT_SECRET", store_settings.jwt_secret)
    if store_settings.database_url:
        monkeypatch.setenv("DATABASE_URL", store_settings.database_url)
    return store_settings


def test_parked_list_shows_the_parked_records_and_retry_applies_them_after_the_fix(
    cli_env: Settings,
    services: PatientServices,
    database: ReadDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from adapters.cli import main

    positions = record_visits(services, 3)
    POISONED.add(positions[2])

    class PoisonedFlow(FlowReadModel):
        def apply(self, tx, prefix, records, log):  # noqa: ANN001
            if any(r.position in POISONED for r in records):
                raise KeyError("no fold for this record")
            super().apply(tx, prefix, records, log)

    catch_up(database, PoisonedFlow)
    capsys.readouterr()
    assert main(["parked", "list"]) == 4  # records are parked (1 would be "failed")
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert line.startswith(f"flow\tgeneration 1\tposition {positions[2]}\t")
    assert "PatientVisit.WalkInRegistered" in line and "KeyError" in line
    assert "1 parked record(s)" in err
    assert main(["parked", "list", "audit"]) == 0

    # The live code has no poison: "the fix". Retry rebuilds flow and nothing stays parked.
    assert main(["parked", "retry", "flow", "--batch-size", "2"]) == 0
    assert "0 record(s) still parked in flow" in capsys.readouterr().err
    assert main(["parked", "list"]) == 0
    with database.read() as tx:
        rows = tx.execute("SELECT count(*) FROM flow_g2_visits")
    assert int(rows[0][0]) == 3


def test_audit_verify_exits_4_when_the_trail_has_parked_records(
    cli_env: Settings,
    services: PatientServices,
    database: ReadDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from adapters.cli import EXIT_AUDIT_INCOMPLETE, main

    positions = record_visits(services, 2)
    POISONED.add(positions[1])
    catch_up(database, PoisonedAudit)
    capsys.readouterr()
    assert main(["audit", "verify"]) == EXIT_AUDIT_INCOMPLETE == 4
    result = json.loads(capsys.readouterr().out)
    assert result["problem"] == "parked" and result["parkedPositions"] == [positions[1]]


def test_an_operational_error_of_the_statement_is_parked_but_a_lost_connection_is_not() -> None:
    """psycopg's OperationalError also covers a statement's own limits (an index row too big:
    SQLSTATE 54000), which retrying can never mend; SQLite's covers "string or blob too big"."""
    import sqlite3

    import psycopg

    from adapters.readmodels.failures import is_connection_error

    assert not is_connection_error(psycopg.errors.ProgramLimitExceeded("index row too big"))
    assert is_connection_error(psycopg.errors.AdminShutdown("terminating connection"))
    assert is_connection_error(psycopg.OperationalError("connection lost"))  # no sqlstate
    assert is_connection_error(sqlite3.OperationalError("database is locked"))
    assert not is_connection_error(sqlite3.OperationalError("string or blob too big"))
    assert not is_connection_error(ValueError("a bug"))


def test_a_record_the_store_finds_too_big_is_parked_not_retried_forever(
    services: PatientServices, database: ReadDatabase
) -> None:
    import psycopg

    class TooBig(CountingReadModel):
        def apply(self, tx, prefix, records, log):  # noqa: ANN001
            super().apply(tx, prefix, records, log)
            if any(r.position in POISONED for r in records):
                raise psycopg.errors.ProgramLimitExceeded("index row requires 11320 bytes")

    positions = record_visits(services, 2)
    POISONED.add(positions[1])
    catch_up(database, TooBig)
    assert applied(database) == [p for p in positions if p != positions[1]]
    [kept] = parked(database, "counting")
    assert kept.position == positions[1] and kept.error.startswith("ProgramLimitExceeded")
