"""The projection worker machinery, on real PostgreSQL and SQLite: batches commit with their
tracking position or not at all, one worker leads, a killed or disconnected worker resumes
with nothing lost or doubled, and a rebuild switches generations atomically."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import advisory_lock_key, open_read_database
from adapters.readmodels.rebuild import RebuildProgress, rebuild
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.status import active_position, read_model_status, wait_for_position
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.counting_model import CountingReadModel, applied_positions, catch_up
from tests.support.visits import record_visits

ROOT = Path(__file__).resolve().parents[2]


def test_a_live_worker_waits_for_new_records_without_failing_and_applies_them_promptly(
    services, database
) -> None:
    """Caught up, it sleeps (LISTEN on PostgreSQL, a short poll on SQLite) and wakes for the
    next write; nothing is logged as a failure (which would mean reconnects and back-off)."""
    prepare_read_models(database, [CountingReadModel])
    worker = ProjectionWorker(database, CountingReadModel)
    stop = threading.Event()
    with capture_logs() as logs:
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            for _ in range(3):
                [*_, last] = record_visits(services, 2)
                assert wait_for_position(database, "counting", last, timeout=5) == last
        finally:
            stop.set()
            thread.join(10)
    assert [e for e in logs if e["log_level"] in ("error", "warning")] == []
    assert len(applied_positions(database)) == 12


def test_a_worker_behind_doubles_its_batches_and_returns_to_small_ones_once_caught_up(
    services, database
) -> None:
    positions = record_visits(services, 15)  # 30 records
    worker = ProjectionWorker(database, CountingReadModel, batch_size=3, max_batch_size=12)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        sizes = []
        while (outcome := worker.step(conn)).read:
            sizes.append(outcome.read)
        assert sizes == [3, 6, 12, 9]
        assert worker.caught_up
        positions += record_visits(services, 6)  # 12 more: from 3 at a time again, growing
        assert [worker.step(conn).read for _ in range(4)] == [3, 6, 3, 0]
    assert applied_positions(database) == positions


def test_every_record_is_applied_once_in_batches_and_tracking_reaches_the_head(
    services, database
) -> None:
    positions = record_visits(services, 10)

    catch_up(database, batch_size=3)

    assert applied_positions(database) == positions
    with database.read() as tx:
        assert active_position(tx, "counting").position == database.head_position()


def test_a_failing_batch_commits_nothing_and_the_retry_applies_it_once(services, database) -> None:
    positions = record_visits(services, 3)
    prepare_read_models(database, [CountingReadModel])  # as serve does at start

    class FailsHalfway(CountingReadModel):
        def apply(self, tx, prefix, records, log):  # type: ignore[no-untyped-def]
            super().apply(tx, prefix, records[:1], log)
            # The database failing under it (a record's own failure is parked instead,
            # see test_parked_records.py): the whole batch is undone and tried again.
            raise sqlite3.OperationalError("disk I/O error after writing part of the batch")

    failing = ProjectionWorker(database, FailsHalfway, batch_size=4)
    with database.worker_connection() as conn:
        conn.try_lead(failing.lock_name)
        with pytest.raises(sqlite3.OperationalError):
            failing.step(conn)
        assert failing.model.resets >= 1  # its caches were dropped with the transaction
    with database.read() as tx:
        assert active_position(tx, "counting").position == 0
    assert applied_positions(database) == []

    catch_up(database, batch_size=4)
    assert applied_positions(database) == positions


def test_a_second_worker_cannot_lead_until_the_first_lets_go(database, services) -> None:
    record_visits(services, 2)
    prepare_read_models(database, [CountingReadModel])
    first = ProjectionWorker(database, CountingReadModel, standby_retry=0.05, idle_wait=0.01)
    second = ProjectionWorker(database, CountingReadModel, standby_retry=0.05, idle_wait=0.01)
    stop_first, stop_second = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=first.run, args=(stop_first,)),
        threading.Thread(target=second.run, args=(stop_second,)),
    ]
    threads[0].start()
    assert first.leading.wait(10)
    threads[1].start()
    try:
        assert not second.leading.wait(0.5)  # standing by
        stop_first.set()
        threads[0].join(10)
        assert second.leading.wait(10)  # took over
        record_visits(services, 1)
        head = database.head_position()
        assert wait_for_position(database, "counting", head, timeout=10) == head
    finally:
        stop_first.set()
        stop_second.set()
        for thread in threads:
            thread.join(10)
    assert len(applied_positions(database)) == 6


def test_tracking_refuses_to_advance_from_a_position_another_worker_moved(database) -> None:
    with database.worker_connection() as conn:
        with conn.transaction() as tx:
            tr.create_tracking_tables(tx)
            tr.tracking(tx, "counting", 1)
            tr.advance(tx, "counting", 1, 0, 10, caught_up=False)
        with pytest.raises(tr.TrackingConflictError), conn.transaction() as tx:
            tr.advance(tx, "counting", 1, 0, 12, caught_up=False)  # stale "old" position
        with conn.transaction() as tx:
            assert tr.tracking(tx, "counting", 1).position == 10


_CHILD = """
import sys, threading
from adapters.settings import Settings
from adapters.readmodels.database import open_read_database
from adapters.readmodels.worker import ProjectionWorker
from tests.support.counting_model import CountingReadModel
import os
settings = Settings(jwt_secret="x" * 40, var_dir=os.environ["VAR_DIR"],
                    database_url=os.environ.get("DATABASE_URL") or None)
database = open_read_database(settings)
worker = ProjectionWorker(database, CountingReadModel, batch_size=6)
worker.run(threading.Event())
"""


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    store_settings, services, database
) -> None:
    positions = record_visits(services, 10)
    prepare_read_models(database, [CountingReadModel])
    env = {
        **os.environ,
        "COUNTING_PAUSE": "60",
        "VAR_DIR": str(store_settings.var_dir),
        "DATABASE_URL": store_settings.database_url or "",
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], env=env, stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    try:
        assert child.stdout is not None
        lines = iter(child.stdout.readline, "")
        # Half a batch is written, uncommitted, when the child says so (after its log lines).
        assert any(line.strip() == "paused" for line in lines)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert applied_positions(database) == []  # the half batch died with the process

    catch_up(database, batch_size=6)  # the next leader resumes from the committed position
    assert applied_positions(database) == positions


@pytest.mark.postgres
def test_a_worker_whose_connection_drops_reconnects_and_resumes(postgres_settings) -> None:
    services = PatientServices(env=eventsourcing_env(postgres_settings))
    database = open_read_database(postgres_settings)
    prepare_read_models(database, [CountingReadModel])
    worker = ProjectionWorker(database, CountingReadModel, idle_wait=0.01, standby_retry=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    try:
        record_visits(services, 3)
        thread.start()
        head = database.head_position()
        assert wait_for_position(database, "counting", head, timeout=10) == head
        _terminate_advisory_lock_holders(postgres_settings)
        record_visits(services, 3)
        head = database.head_position()
        assert wait_for_position(database, "counting", head, timeout=20) == head
        assert len(applied_positions(database)) == 12
    finally:
        stop.set()
        thread.join(10)
        database.close()
        services.close()


def _terminate_advisory_lock_holders(settings: Settings) -> None:
    postgres = settings.postgres
    assert postgres is not None
    with psycopg.connect(
        host=postgres.host, port=postgres.port, dbname=postgres.dbname, user=postgres.user,
        password=postgres.password, autocommit=True,
    ) as admin:  # fmt: skip
        # Only this test's worker: other tests and benchmarks hold locks in other schemas.
        key = advisory_lock_key(postgres.schema or "public", CountingReadModel.name)
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key,),
        ).fetchall()
    assert killed == [(True,)], "the worker did not hold its advisory lock"


def test_rebuild_fills_a_new_generation_while_the_old_serves_then_switches(
    services, database
) -> None:
    positions = record_visits(services, 8)
    catch_up(database)
    seen_during_rebuild = []

    def progress(p: RebuildProgress) -> None:
        with database.read() as tx:
            seen_during_rebuild.append(active_position(tx, "counting").generation)

    result = rebuild(database, CountingReadModel, batch_size=5, progress=progress, drop_grace=0)

    assert (result.generation, result.replaced_generation) == (2, 1)
    assert set(seen_during_rebuild) == {1}  # readers stayed on the old generation
    assert applied_positions(database, generation=2) == positions
    with database.read() as tx:
        assert active_position(tx, "counting").generation == 2
    with pytest.raises((psycopg.errors.UndefinedTable, sqlite3.OperationalError)):
        with database.read() as tx:  # the old generation's tables are gone
            tx.execute("SELECT 1 FROM counting_g1_applied")
    # The live worker now follows the new generation from where the rebuild stopped.
    later = record_visits(services, 1)
    catch_up(database)
    assert applied_positions(database, generation=2) == positions + later


def test_status_reports_position_and_lag_in_events(services, database) -> None:
    record_visits(services, 3)
    catch_up(database)
    record_visits(services, 1)

    (status,) = read_model_status(database, ["counting"])

    assert status.lag_events == 2
    assert status.position == status.head - 2
    assert status.lag_seconds >= 0
