"""Several `patient-services project` processes side by side (as several `serve` processes run
their workers): one leads each read model, a standby takes over when the leader is killed,
and the views end up with every event exactly once. Then `rebuild` switches generations."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.status import wait_for_position
from adapters.settings import Settings
from tests.support.ports import free_port
from tests.support.visits import record_visits

SCRIPT = Path(sys.executable).parent / "patient-services"


@pytest.fixture
def process_environ(store_settings: Settings) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(
        JWT_SECRET=store_settings.jwt_secret,
        VAR_DIR=str(store_settings.var_dir),
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
    )
    if store_settings.database_url:
        env["DATABASE_URL"] = store_settings.database_url
    return env


def _start_project(environ: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(SCRIPT), "project"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _audit_positions(database: ReadDatabase) -> list[int]:
    with database.read() as tx:
        (generation,) = tx.execute(
            "SELECT active FROM read_model_generations WHERE name = 'audit'"
        )[0]
        rows = tx.execute(f"SELECT position FROM audit_g{generation}_entries ORDER BY position")
    return [row[0] for row in rows]


def _stored_positions(database: ReadDatabase) -> list[int]:
    table, key = (
        ("events.stored_events", "rowid")
        if database.dialect == "sqlite"
        else ("patient_services_events", "notification_id")
    )
    with database.read() as tx:
        return [row[0] for row in tx.execute(f"SELECT {key} FROM {table} ORDER BY 1")]


def _caught_up(database: ReadDatabase, timeout: float) -> bool:
    head = database.head_position()
    return all(
        wait_for_position(database, name, head, timeout) is not None for name in ("flow", "audit")
    )


def test_two_worker_processes_share_the_work_and_survive_the_leader_being_killed(
    store_settings, process_environ, services
) -> None:
    record_visits(services, 5)
    subprocess.run([str(SCRIPT), "migrate"], env=process_environ, check=True, timeout=60)
    first = _start_project(process_environ)
    database = open_read_database(store_settings)
    second = None
    try:
        assert _caught_up(database, timeout=30)  # so the first process leads both
        second = _start_project(process_environ)  # a standby
        record_visits(services, 1)
        assert _caught_up(database, timeout=30)
        first.send_signal(signal.SIGKILL)  # the leader dies; nothing is handed over cleanly
        first.wait(10)
        record_visits(services, 4)
        assert _caught_up(database, timeout=30)  # the standby took over
        assert _audit_positions(database) == _stored_positions(database)  # once each
        with database.read() as tx:
            (generation,) = tx.execute(
                "SELECT active FROM read_model_generations WHERE name = 'flow'"
            )[0]
            (visits,) = tx.execute(f"SELECT count(*) FROM flow_g{generation}_visits")[0]
        assert visits == 10
    finally:
        processes = [p for p in (first, second) if p is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        database.close()
    assert second is not None and second.returncode == 0  # SIGTERM stops it cleanly


def test_rebuild_command_switches_to_a_new_generation_with_the_same_view(
    store_settings, process_environ, services
) -> None:
    record_visits(services, 4)
    result = subprocess.run(
        [str(SCRIPT), "rebuild", "audit", "--batch-size", "3"],
        env=process_environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "audit rebuilt as generation 2" in result.stderr
    assert "ETA" in result.stderr  # the progress line
    database = open_read_database(store_settings)
    try:
        assert _audit_positions(database) == _stored_positions(database)
        # Loaded without its secondary indexes, then indexed before the switch.
        assert "audit_g2_entries_patient" in _index_names(database)
    finally:
        database.close()


def _index_names(database: ReadDatabase) -> set[str]:
    statement = (
        "SELECT name FROM sqlite_master WHERE type = 'index'"
        if database.dialect == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    )
    with database.read() as tx:
        return {row[0] for row in tx.execute(statement)}


def test_rebuild_of_an_unknown_read_model_is_refused(process_environ) -> None:
    result = subprocess.run(
        [str(SCRIPT), "rebuild", "nonsense"], env=process_environ, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown read model 'nonsense'" in result.stderr


def _projection_children_of(parent: int) -> list[int]:
    """The live `project` processes `serve` started (they name it with --stop-with-parent)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z" or b"--stop-with-parent" not in argv:
            continue
        if argv[argv.index(b"--stop-with-parent") + 1] == str(parent).encode():
            found.append(int(entry.name))
    return found


def _one_child_other_than(parent: int, former: int | None, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [pid for pid in _projection_children_of(parent) if pid != former]
        if children:
            assert len(children) == 1, children
            return children[0]
        time.sleep(0.2)
    pytest.fail(f"no projection process (other than {former}) under serve in {timeout} s")


def _serve_with_two_http_workers(environ: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own, so the HTTP workers can be killed with it whatever happens.
    return subprocess.Popen(
        [str(SCRIPT), "serve"], env={**environ, "PORT": str(free_port()), "WORKERS": "2"},
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_serve_with_two_http_workers_keeps_one_projection_process_and_stops_it(
    store_settings, process_environ, services
) -> None:
    serve = _serve_with_two_http_workers(process_environ)
    database = open_read_database(store_settings)
    try:
        child = _one_child_other_than(serve.pid, None)
        record_visits(services, 2)
        assert _caught_up(database, timeout=30)
        os.kill(child, signal.SIGKILL)  # the projection process dies: serve starts another
        _one_child_other_than(serve.pid, child)
        record_visits(services, 1)
        assert _caught_up(database, timeout=30)  # the replacement resumed the read models
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(60) == 0
        assert _projection_children_of(serve.pid) == []  # stopped with serve
    finally:
        _kill_session(serve)
        database.close()


def test_a_projection_process_stops_when_serve_is_killed_outright(
    store_settings, process_environ
) -> None:
    serve = _serve_with_two_http_workers(process_environ)
    try:
        _one_child_other_than(serve.pid, None)
        serve.send_signal(signal.SIGKILL)  # no chance to stop its child
        serve.wait(10)
        deadline = time.monotonic() + 30
        while _projection_children_of(serve.pid):  # in its own session, not killed with serve
            assert time.monotonic() < deadline, "the orphaned projection process kept running"
            time.sleep(0.2)
    finally:
        _kill_session(serve)


def _kill_session(serve: subprocess.Popen[bytes]) -> None:
    """serve and its HTTP workers (the projection process has a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(serve.pid, signal.SIGKILL)
    serve.wait(10)
    for pid in _projection_children_of(serve.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
