"""``rebuild`` on real PostgreSQL and SQLite: it works on a newly created database, a rebuild
that fails with an error leaves nothing of its generation behind (the next one starts
clean), and one that is interrupted resumes where it stopped."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters import cli
from adapters.readmodels import rebuild as rebuild_module
from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.rebuild import RebuildBusyError, RebuildProgress, rebuild
from adapters.readmodels.status import active_position
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.counting_model import CountingReadModel, applied_positions, catch_up
from tests.support.postgres import PostgresServer
from tests.support.visits import record_visits

pytestmark = pytest.mark.read_models([CountingReadModel])


def table_names(database: ReadDatabase, prefix: str) -> list[str]:
    statement = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if database.dialect == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    with database.read() as tx:
        return sorted(name for (name,) in tx.execute(statement) if name.startswith(prefix))


def generation_rows(database: ReadDatabase, name: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything the tracking tables hold about ``name``."""
    with database.read() as tx:
        return {
            table: tx.execute(f"SELECT * FROM {table} WHERE name = ? ORDER BY 2", (name,))
            for table in ("read_model_generations", "read_model_tracking")
        }


def secondary_indexes(database: ReadDatabase, prefix: str) -> set[str]:
    """The non-unique indexes on the tables named ``prefix…``, from pg_indexes."""
    with database.read() as tx:
        rows = tx.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema()"
        )
    return {
        index for table, index, definition in rows
        if table.startswith(prefix) and not definition.startswith("CREATE UNIQUE")
    }  # fmt: skip


def fail_after(batches: int, error: BaseException) -> Callable[[RebuildProgress], None]:
    """A progress callback that raises ``error`` at the ``batches``-th batch."""
    calls = 0

    def progress(_: RebuildProgress) -> None:
        nonlocal calls
        calls += 1
        if calls == batches:
            raise error

    return progress


# ---- a newly created PostgreSQL database -----------------------------------------------------
@pytest.mark.parametrize("schema", [None, "ward"], ids=["public", "schema"])
def test_the_rebuild_command_works_on_a_newly_created_database(
    postgres_server: PostgresServer,
    schema: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Its own new database, not this run's: the failure showed on an almost empty catalog.
    with postgres_server.new_database() as dbname:
        monkeypatch.setenv("DATABASE_URL", postgres_server.url(dbname, schema))
        monkeypatch.setenv("JWT_SECRET", "test-secret-" + "x" * 40)
        monkeypatch.setenv("VAR_DIR", str(tmp_path))
        # The command as run, minus the process-wide logging set-up (other tests share it).
        monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
        settings = Settings.from_env(os.environ)
        assert cli.main(["migrate"]) == 0
        services = PatientServices(env=eventsourcing_env(settings))
        database = open_read_database(settings)
        try:
            record_visits(services, 3)
            for name in cli.READ_MODEL_NAMES:
                indexes = secondary_indexes(database, f"{name}_g1_")
                assert cli.main(["rebuild", name]) == 0, name
                assert f"{name} rebuilt as generation 2" in capsys.readouterr().err
                with database.read() as tx:
                    assert active_position(tx, name).generation == 2
                assert table_names(database, f"{name}_g1_") == []  # the old one is dropped
                # Loaded without its secondary indexes, then indexed again: the same ones.
                renamed = {index.replace("_g1_", "_g2_") for index in indexes}
                assert secondary_indexes(database, f"{name}_g2_") == renamed
            with database.read() as tx:
                assert tx.execute("SELECT count(*) FROM flow_g2_visits") == [(3,)]
            # The indexes a rebuild sets aside are exactly the secondary ones.
            with database.worker_connection() as conn, conn.transaction() as tx:
                found = rebuild_module._drop_secondary_indexes(tx, "audit_g2_")
                rebuild_module._index_and_analyze(tx, "audit_g2_", found)
            assert {index for index, _ in found} == secondary_indexes(database, "audit_g2_")
            assert found
        finally:
            database.close()
            services.close()


# ---- a rebuild that fails cleans up; one that is interrupted resumes -------------------------
def _fail_while_switching(monkeypatch: pytest.MonkeyPatch) -> None:
    def index_and_analyze(*_: object) -> None:
        raise RuntimeError("the index could not be built")

    monkeypatch.setattr(rebuild_module, "_index_and_analyze", index_and_analyze)


@pytest.mark.parametrize("when", ["loading", "switching"])
def test_a_rebuild_that_fails_leaves_nothing_behind_and_the_next_one_succeeds(
    database: ReadDatabase, services: PatientServices, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    positions = record_visits(services, 8)
    catch_up(database)
    before = generation_rows(database, "counting")
    with monkeypatch.context() as patch:
        if when == "loading":  # any error: here the caller's progress display breaks
            progress = fail_after(3, RuntimeError("the progress display broke"))
        else:  # in the last transaction, the one that would switch
            progress = fail_after(0, RuntimeError())  # never raises
            _fail_while_switching(patch)
        with pytest.raises(RuntimeError):
            rebuild(database, CountingReadModel, batch_size=3, progress=progress, drop_grace=0)

    # No tables, tracking row or reservation of generation 2; generation 1 still serves.
    assert table_names(database, "counting_g2_") == []
    assert generation_rows(database, "counting") == before
    assert applied_positions(database, generation=1) == positions
    # The locks went with the failed run: the next rebuild takes them and starts from zero.
    result = rebuild(database, CountingReadModel, batch_size=3, drop_grace=0)
    assert (result.generation, result.replaced_generation) == (2, 1)
    assert result.records == len(positions)
    assert applied_positions(database, generation=2) == positions


def test_an_interrupted_rebuild_resumes_where_it_stopped(
    database: ReadDatabase, services: PatientServices
) -> None:
    positions = record_visits(services, 8)
    catch_up(database)
    with pytest.raises(KeyboardInterrupt):  # as Ctrl-C; a kill leaves the same state
        rebuild(
            database, CountingReadModel, batch_size=3, drop_grace=0,
            progress=fail_after(2, KeyboardInterrupt()),
        )  # fmt: skip
    with database.read() as tx:
        assert tr.generations(tx, "counting").building == 2
        done = tr.tracking(tx, "counting", 2).position
    assert done > 0

    result = rebuild(database, CountingReadModel, batch_size=3, drop_grace=0)

    assert result.generation == 2
    assert result.records == len([p for p in positions if p > done])  # only the rest was read
    assert applied_positions(database, generation=2) == positions


def test_a_rebuild_refused_as_busy_leaves_the_running_one_alone(
    database: ReadDatabase, services: PatientServices
) -> None:
    positions = record_visits(services, 4)
    with pytest.raises(KeyboardInterrupt):  # generation 2 half built, as by a running rebuild
        rebuild(
            database, CountingReadModel, batch_size=3, progress=fail_after(1, KeyboardInterrupt())
        )
    with database.worker_connection() as writer:
        assert writer.try_lead("counting.g2")  # as the rebuild writing generation 2 holds
        with pytest.raises(RebuildBusyError):
            rebuild(database, CountingReadModel, batch_size=3, drop_grace=0)
    assert table_names(database, "counting_g2_") == ["counting_g2_applied"]

    rebuild(database, CountingReadModel, batch_size=3, drop_grace=0)
    assert applied_positions(database, generation=2) == positions
