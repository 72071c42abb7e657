"""Read models heal themselves after an upgrade: a generation records the fingerprint of the
code that built it; one built by other code is not written by the live worker, is rebuilt
automatically (blue/green), is shown as rebuilding in /ready, and a query its old tables
cannot answer is 503 PROJECTION_REBUILDING, never a 500."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.base import LogReader
from adapters.readmodels.database import ReadDatabase, Transaction
from adapters.readmodels.fingerprint import fingerprint
from adapters.readmodels.healing import ReadModelHealer, is_outdated
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.visits.store import FlowReadModel
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits.commands import RegisterWalkIn
from projections.shared.records import StoredRecord
from tests.support.counting_model import CountingReadModel

CLERK = RequestContext(actor_id="c1", actor_role="clerk", correlation_id="t")


class OldCounting(CountingReadModel):
    """The same read model as an older release built it: another table shape."""

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        tx.execute(f"CREATE TABLE IF NOT EXISTS {prefix}applied (position BIGINT PRIMARY KEY)")

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        tx.executemany(
            f"INSERT INTO {prefix}applied (position) VALUES (?)", [(r.position,) for r in records]
        )


class RefoldedCounting(CountingReadModel):
    fold_version = 2  # same tables, different rows from the same events


def walk_ins(services: PatientServices, count: int) -> list[int]:
    command = RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit="ED")
    return [services.execute(command, CLERK).position for _ in range(count)]


def catch_up(database: ReadDatabase, factory) -> ProjectionWorker:  # noqa: ANN001
    worker = ProjectionWorker(database, factory)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        worker.catch_up(conn)
    return worker


def applied(database: ReadDatabase, generation: int) -> list[int]:
    with database.read() as tx:
        rows = tx.execute(f"SELECT position FROM counting_g{generation}_applied ORDER BY 1")
    return [row[0] for row in rows]


def test_the_fingerprint_follows_the_table_definitions_and_the_fold_version() -> None:
    assert fingerprint(CountingReadModel()) == fingerprint(CountingReadModel())
    assert fingerprint(OldCounting()) != fingerprint(CountingReadModel())
    assert fingerprint(RefoldedCounting()) != fingerprint(CountingReadModel())


def test_a_generation_built_by_an_older_release_is_rebuilt_and_not_written_meanwhile(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 5)
    catch_up(database, OldCounting)  # the old release's worker built generation 1
    later = walk_ins(services, 2)

    # The new release starts: its live worker leaves the old tables alone.
    worker = ProjectionWorker(database, CountingReadModel)
    with database.worker_connection() as conn:
        assert conn.try_lead(worker.lock_name)
        outcome = worker.step(conn)
    assert outcome.outdated and outcome.read == 0
    assert applied(database, 1) == positions  # nothing written by the new code
    assert is_outdated(database, "counting") is False  # not a registered read model

    assert ReadModelHealer(database, [CountingReadModel]).run_once() == 1
    with database.read() as tx:
        assert tr.generations(tx, "counting").active == 2
        assert tr.fingerprint_of(tx, "counting", 2) == fingerprint(CountingReadModel())
    assert applied(database, 2) == positions + later
    # Healed: nothing more to do, and the live worker follows the new generation.
    assert ReadModelHealer(database, [CountingReadModel]).run_once() == 0
    newest = walk_ins(services, 1)
    catch_up(database, CountingReadModel)
    assert applied(database, 2) == positions + later + newest


def test_a_generation_from_before_fingerprints_counts_as_built_by_other_code(
    services: PatientServices, database: ReadDatabase
) -> None:
    positions = walk_ins(services, 3)
    catch_up(database, CountingReadModel)
    with database.worker_connection() as conn, conn.transaction() as tx:
        tx.execute("DELETE FROM read_model_fingerprints")  # as a store made before them
    assert ReadModelHealer(database, [CountingReadModel]).run_once() == 1
    assert applied(database, 2) == positions


def test_a_fresh_store_is_not_rebuilt(services: PatientServices, database: ReadDatabase) -> None:
    walk_ins(services, 2)
    assert ReadModelHealer(database, [CountingReadModel]).run_once() == 0
    catch_up(database, CountingReadModel)
    assert ReadModelHealer(database, [CountingReadModel]).run_once() == 0


def test_ready_shows_rebuilding_and_a_query_the_old_tables_cannot_answer_is_a_503(
    store_settings: Settings, services: PatientServices, database: ReadDatabase, auth_headers
) -> None:
    walk_ins(services, 2)
    prepare_read_models(database, [FlowReadModel])
    catch_up(database, FlowReadModel)
    with database.worker_connection() as conn, conn.transaction() as tx:
        # An older release's generation: another fingerprint, and a table this code reads
        # that it did not have.
        tx.execute("UPDATE read_model_fingerprints SET fingerprint = 'old' WHERE name = 'flow'")
        tx.execute("ALTER TABLE flow_g1_locations RENAME TO flow_g1_old_locations")
    assert is_outdated(database, "flow")
    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        ready = client.get("/ready").json()
        census = client.get("/api/v1/flow/census?unit=ED", headers=auth_headers("nurse"))
    [flow] = [m for m in ready["readModels"] if m["name"] == "flow"]
    assert flow["state"] == "rebuilding"
    assert census.status_code == 503, census.text
    assert census.json()["code"] == "PROJECTION_REBUILDING"
    assert census.headers["Retry-After"]


@pytest.fixture
def auth_headers(store_settings: Settings):  # noqa: ANN201
    from adapters.auth_tokens import mint_token

    def headers(*roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(store_settings, 'alice', roles)}"}

    return headers
