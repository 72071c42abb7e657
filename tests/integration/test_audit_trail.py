"""The audit trail on real PostgreSQL and SQLite: refused and denied commands are in it, the
hash chain catches rows altered, removed or inserted with plain SQL on the events table and
names the exact first bad position, a redelivered batch changes nothing, and a rebuild from
zero equals the view built incrementally."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.cli import main
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit.store import (
    AuditReadModel,
    verify,
)
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import NotAuthorisedError
from application.shared.idempotency import CommandIdentity
from application.visits.commands import (
    CloseVisit,
    RecordTriage,
    RegisterArrival,
    RegisterWalkIn,
)
from domain.shared.errors import DomainError
from tests.support.audit import PREFIX, catch_up, trail
from tests.support.postgres import BACKENDS, schema_settings
from tests.support.projections import table
from tests.support.raw_log import raw_events, sql

CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="c-1")
NURSE = RequestContext(actor_id="nurse-1", actor_role="nurse", correlation_id="c-2")


pytestmark = pytest.mark.read_models([AuditReadModel])


def walk_ins(services: PatientServices, count: int) -> list[int]:
    """``count`` visits, each walked in and triaged: the positions written."""
    positions = []
    for n in range(count):
        walk_in = RegisterWalkIn(patient_ref=f"P-{n}", visit_class="EMER", service_unit="ED")
        first = services.execute(walk_in, CLERK)
        triage = RecordTriage(acuity_scale="ESI", acuity_level=3)
        positions += [first.position, services.execute(triage, NURSE, target=first.id).position]
    return positions


# ---- plain SQL on the stored log, as someone with database access could --------------------
def positions_in_log(store_settings: Settings) -> list[int]:
    with raw_events(store_settings) as (conn, events, key):
        return [row[0] for row in sql(conn, f"SELECT {key} FROM {events} ORDER BY 1")]


# ---- refused and denied commands ------------------------------------------------------------
def test_denied_and_refused_commands_over_http_are_in_the_trail_with_their_outcome(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    def headers(*roles: str, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(store_settings, sub, roles)}"}

    with TestClient(create_app(store_settings, services, database)) as client:
        created = client.post(
            "/api/v1/visits/walk-ins",
            json={"patientRef": "P-77", "visitClass": "EMER", "serviceUnit": "ED"},
            headers=headers("clerk", sub="cleo"),
        ).json()
        visit = f"/api/v1/visits/{created['id']}"
        denied = client.post(f"{visit}/close", json={}, headers=headers("nurse", sub="nico"))
        refused = client.post(f"{visit}/arrive", json={}, headers=headers("clerk", sub="cleo"))
    assert (denied.status_code, refused.status_code) == (403, 409)
    catch_up(database)

    entries = trail(database, patient_ref="P-77")

    assert [(e.action, e.outcome, e.code, e.actor_id) for e in entries] == [
        ("WalkInRegistered", "recorded", None, "cleo"),
        ("CloseVisit", "denied", "NOT_AUTHORISED", "nico"),
        ("RegisterArrival", "refused", "INVALID_TRANSITION", "cleo"),
    ]
    assert [e.target_id for e in entries[1:]] == [created["id"]] * 2
    assert trail(database, outcome="denied") == [entries[1]]
    assert verify(database).ok


# ---- tampering ------------------------------------------------------------------------------
def test_an_updated_row_is_named_as_altered(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 4)
    catch_up(database)
    target = positions[3]

    with raw_events(store_settings) as (conn, events, key):
        [(state,)] = sql(conn, f"SELECT state FROM {events} WHERE {key} = ?", (target,))
        forged = bytes(state).replace(b'"acuity_level":3', b'"acuity_level":1')
        assert forged != bytes(state)
        sql(conn, f"UPDATE {events} SET state = ? WHERE {key} = ?", (forged, target))
    result = verify(database)

    assert (result.ok, result.first_bad_position, result.problem) == (False, target, "altered")
    assert result.checked == 3


def test_a_deleted_row_is_named_as_removed(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)

    with raw_events(store_settings) as (conn, events, key):
        sql(conn, f"DELETE FROM {events} WHERE {key} = ?", (positions[2],))
    result = verify(database)

    assert (result.ok, result.first_bad_position, result.problem) == (
        False, positions[2], "removed",
    )  # fmt: skip


@pytest.mark.postgres
def test_a_row_forged_into_a_gap_left_by_a_rolled_back_insert_is_named_as_inserted(
    postgres_settings: Settings,
) -> None:
    services = PatientServices(env=eventsourcing_env(postgres_settings))
    database = open_read_database(postgres_settings)
    try:
        prepare_read_models(database, [AuditReadModel])
        walk_ins(services, 2)
        # A realistic gap: a repeated idempotent command inserts its rows again, loses on the
        # command record's key and rolls back (answering with the first result), but the
        # sequence values it drew stay used.
        identity = CommandIdentity(scope="user:clerk-1", key="k-1", fingerprint="f")
        walk_in = RegisterWalkIn(patient_ref="P-9", visit_class="EMER", service_unit="ED")
        first = services.execute(walk_in, CLERK, identity=identity)
        assert services.execute(walk_in, CLERK, identity=identity).replayed
        walk_ins(services, 2)
        catch_up(database)
        log = positions_in_log(postgres_settings)
        gaps = sorted(set(range(1, log[-1])) - set(log))
        assert gaps and gaps[0] > first.position
        assert verify(database).ok

        with raw_events(postgres_settings) as (conn, events, _):
            [(topic, state)] = sql(
                conn, f"SELECT topic, state FROM {events} WHERE notification_id = ?",
                (first.position,),
            )  # fmt: skip
            sql(
                conn,
                f"INSERT INTO {events} (originator_id, originator_version, topic, state,"
                " notification_id) VALUES (?, 1, ?, ?, ?)",
                (uuid.uuid4(), topic, state, gaps[0]),
            )
        result = verify(database)

        assert (result.ok, result.first_bad_position, result.problem) == (
            False, gaps[0], "inserted",
        )  # fmt: skip
    finally:
        database.close()
        services.close()


def test_on_sqlite_a_row_forged_among_chained_ones_is_named_where_it_went(
    settings: Settings,
) -> None:
    """SQLite has no honest gaps (a rolled-back insert leaves max(rowid) unchanged), so a row
    can only be put among chained ones by moving the later rows up: verify names the
    position the forged row took (as altered, since the chain has a row there)."""
    services = PatientServices(env=eventsourcing_env(settings))
    database = open_read_database(settings)
    try:
        prepare_read_models(database, [AuditReadModel])
        positions = walk_ins(services, 3)
        catch_up(database)
        slot = positions[2]
        with raw_events(settings) as (conn, events, key):
            for position in reversed(positions[2:]):
                sql(
                    conn, f"UPDATE {events} SET rowid = ? WHERE rowid = ?", (position + 1, position)
                )
            [(topic, state)] = sql(
                conn, f"SELECT topic, state FROM {events} WHERE rowid = ?", (positions[0],)
            )
            sql(
                conn,
                f"INSERT INTO {events} (rowid, originator_id, originator_version, topic, state)"
                " VALUES (?, ?, 1, ?, ?)",
                (slot, uuid.uuid4().hex, topic, state),
            )
        result = verify(database)

        assert (result.ok, result.first_bad_position, result.problem) == (False, slot, "altered")
    finally:
        database.close()
        services.close()


def test_a_rewritten_chain_entry_is_named(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)

    with database.worker_connection() as conn, conn.transaction() as tx:
        tx.execute(
            f"UPDATE {PREFIX}entries SET hash = ? WHERE position = ?", ("0" * 64, positions[1])
        )
    result = verify(database)

    assert (result.first_bad_position, result.problem) == (positions[1], "altered")


def test_a_chain_cut_short_leaves_the_unchained_rows_named_as_inserted(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database)

    with database.worker_connection() as conn, conn.transaction() as tx:
        tx.execute(f"DELETE FROM {PREFIX}entries WHERE position >= ?", (positions[4],))
    result = verify(database)

    assert (result.first_bad_position, result.problem) == (positions[4], "inserted")


def test_rows_stored_after_the_chain_head_are_not_yet_checked(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 2)
    catch_up(database)
    walk_ins(services, 1)

    result = verify(database)

    assert (result.ok, result.checked, result.head_position) == (True, 4, positions[-1])


# ---- redelivery -----------------------------------------------------------------------------
def test_a_redelivered_batch_changes_nothing_and_the_tracking_fence_refuses_it(
    services: PatientServices, database: ReadDatabase
) -> None:
    walk_ins(services, 3)
    catch_up(database)
    before = (table(database, f"{PREFIX}entries"), table(database, f"{PREFIX}patients"))
    model = AuditReadModel()

    with database.worker_connection() as conn:
        with conn.transaction() as tx:
            records = conn.records_after(tx, 0, 100)
            model.apply(tx, PREFIX, records, conn)  # the model skips what it has chained
        with pytest.raises(tr.TrackingConflictError), conn.transaction() as tx:
            model.apply(tx, PREFIX, records, conn)
            tr.advance(tx, "audit", 1, 0, records[-1].position, caught_up=True)

    assert (table(database, f"{PREFIX}entries"), table(database, f"{PREFIX}patients")) == before
    assert verify(database).ok


# ---- rebuild equals incremental -------------------------------------------------------------
@contextmanager
def fresh_store(backend: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    secret = "test-secret-" + "x" * 40
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as var_dir:
            yield Settings(jwt_secret=secret, var_dir=Path(var_dir))
        return
    server = request.getfixturevalue("postgres_server")
    dbname = request.getfixturevalue("postgres_database")  # this run's fresh database
    with schema_settings(server, dbname, secret) as settings:
        yield settings


STEP = st.one_of(
    st.tuples(st.just("walk-in"), st.sampled_from(["P-1", "P-2", "P-3"])),
    st.tuples(st.just("arrive"), st.integers(0, 5)),  # refused: a walk-in has arrived
    st.tuples(st.just("triage"), st.integers(0, 5)),
    st.tuples(st.just("close"), st.integers(0, 5)),  # denied: clerks may not close
    st.tuples(st.just("keyed"), st.sampled_from(["k-1", "k-2"])),  # a repeat replays
    st.tuples(st.just("project"), st.integers(1, 6)),  # the live worker, this batch size
    st.tuples(st.just("restart"), st.integers(1, 6)),  # a new worker: no cached patients
)


def run(services: PatientServices, database: ReadDatabase, steps: list[tuple[str, Any]]) -> None:
    visits: list[Any] = []
    worker = ProjectionWorker(database, AuditReadModel)
    for kind, arg in steps:
        try:
            if kind in ("walk-in", "keyed"):
                ref = arg if kind == "walk-in" else "P-K"
                walk_in = RegisterWalkIn(patient_ref=ref, visit_class="EMER", service_unit="ED")
                identity = None if kind == "walk-in" else CommandIdentity("user:c", arg, "f")
                visits.append(services.execute(walk_in, CLERK, identity=identity).id)
            elif kind == "arrive" and visits:
                services.execute(RegisterArrival(), CLERK, target=visits[arg % len(visits)])
            elif kind == "triage" and visits:
                triage = RecordTriage(acuity_scale="ESI", acuity_level=2)
                services.execute(triage, NURSE, target=visits[arg % len(visits)])
            elif kind == "close" and visits:
                services.execute(CloseVisit(), CLERK, target=visits[arg % len(visits)])
        except (DomainError, NotAuthorisedError):
            pass
        if kind in ("project", "restart"):
            if kind == "restart":
                worker = ProjectionWorker(database, AuditReadModel)
            worker.batch_size = arg
            with database.worker_connection() as conn:
                assert conn.try_lead(worker.lock_name)
                worker.catch_up(conn)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=25), last_batch=st.integers(1, 6))
def test_a_rebuild_from_zero_equals_the_view_built_incrementally(
    backend: str, request: pytest.FixtureRequest, steps: list[tuple[str, Any]], last_batch: int
) -> None:
    with fresh_store(backend, request) as store:
        services = PatientServices(env=eventsourcing_env(store))
        database = open_read_database(store)
        try:
            prepare_read_models(database, [AuditReadModel])
            run(services, database, steps)
            catch_up(database, batch_size=last_batch)
            catch_up(database, batch_size=2000, generation=2)

            for name in ("entries", "patients"):
                assert table(database, f"audit_g1_{name}") == table(database, f"audit_g2_{name}")
            assert len(table(database, "audit_g1_entries")) == len(positions_in_log(store))
            # Every visit's entries, and every attempt aimed at a visit, name its patient.
            entries = trail(database, include_bookkeeping=True)
            assert all(e.patient_ref for e in entries if e.aggregate_type == "PatientVisit")
            assert all(e.patient_ref for e in entries if e.target_type == "PatientVisit")
            assert verify(database).ok
        finally:
            database.close()
            services.close()


# ---- the CLI --------------------------------------------------------------------------------
def test_audit_verify_exits_0_when_intact_1_when_tampered_and_3_when_it_cannot_verify(
    store_settings: Settings,
    services: PatientServices,
    database: ReadDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    positions = walk_ins(services, 2)
    catch_up(database)
    monkeypatch.setenv("VAR_DIR", str(store_settings.var_dir))
    monkeypatch.setenv("JWT_SECRET", store_settings.jwt_secret)
    monkeypatch.setenv("DATABASE_URL", store_settings.database_url or "")

    assert main(["audit", "verify"]) == 0
    intact = capsys.readouterr().out
    with raw_events(store_settings) as (conn, events, key):
        sql(conn, f"DELETE FROM {events} WHERE {key} = ?", (positions[1],))
    assert main(["audit", "verify"]) == 1
    tampered = capsys.readouterr().out
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["audit", "verify"]) == 3  # not 2, argparse's usage error

    assert '"ok":true' in intact and '"checked":4' in intact
    assert '"ok":false' in tampered and f'"firstBadPosition":{positions[1]}' in tampered
    assert '"problem":"removed"' in tampered


def test_audit_verify_without_a_store_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert main(["audit", "verify"]) == 3
    assert "no event store" in capsys.readouterr().err
