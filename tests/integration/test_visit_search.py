"""The visit search on real PostgreSQL and SQLite: the flow read model's visits table holds each
visit's number and authority, and :func:`find_visits` finds visits by number (with or without
the authority) and by patient, filters by status, pages in id order, and finds identifiers too
long for an index entry (clipped the same way on both sides)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.healing import ReadModelHealer, is_outdated
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.visits.store import FlowReadModel, find_visits
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.visits import commands as vc
from domain.visits.identity import visit_id_for
from projections.shared.records import key_text
from projections.visits.visit_search import VisitPage
from tests.support.projections import lead

PREFIX = tr.table_prefix("flow", 1)
START = datetime.now(timezone.utc) - timedelta(hours=2)

pytestmark = pytest.mark.read_models([FlowReadModel])


def run(services: PatientServices, command: Command, target: UUID | None = None) -> UUID:
    role = sorted(command.roles - {"integration"})[0]
    context = RequestContext(actor_id=f"{role}-1", actor_role=role, correlation_id="t")
    return services.execute(command, context, target=target).id


def catch_up(database: ReadDatabase) -> None:
    with database.worker_connection() as conn:
        worker = ProjectionWorker(database, FlowReadModel, batch_size=50)
        lead(conn, worker.lock_name)
        worker.catch_up(conn)


def schedule(patient: str, **numbers: Any) -> vc.ScheduleVisit:
    return vc.ScheduleVisit(
        patient_ref=patient, visit_class="AMB", service_unit="OPD",
        scheduled_start=START + timedelta(hours=4), occurred_at=START, **numbers,
    )  # fmt: skip


def walk_in(patient: str, **numbers: Any) -> vc.RegisterWalkIn:
    return vc.RegisterWalkIn(
        patient_ref=patient, visit_class="EMER", service_unit="ED", arrival_at=START, **numbers
    )


def search(database: ReadDatabase, **criteria: Any) -> VisitPage:
    with database.read() as tx:
        return find_visits(tx, PREFIX, **criteria)


def ids(page: VisitPage) -> list[str]:
    return [item.id for item in page.items]


# ---- the columns ----------------------------------------------------------------------------
def test_the_visits_table_holds_the_visit_number_and_its_authority(
    services: PatientServices, database: ReadDatabase
) -> None:
    numbered = run(services, schedule("pt-1", visit_number="V-1", visit_number_authority="H-A"))
    bare = run(services, walk_in("pt-1", visit_number="V-2"))
    none = run(services, walk_in("pt-2"))
    catch_up(database)

    with database.read() as tx:
        rows = dict(
            (row[0], tuple(row[1:]))
            for row in tx.execute(
                f"SELECT id, visit_number, visit_number_authority, patient_ref FROM {PREFIX}visits"
            )
        )
    assert rows == {
        str(numbered): ("V-1", "H-A", "pt-1"),
        str(bare): ("V-2", None, "pt-1"),
        str(none): (None, None, "pt-2"),
    }
    assert numbered == visit_id_for("V-1", "H-A") and bare == visit_id_for("V-2", None)


def test_the_search_columns_are_indexed(database: ReadDatabase) -> None:
    table = f"{PREFIX}visits"
    with database.read() as tx:
        if tx.dialect == "postgres":
            rows = tx.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = ?",
                (table,),
            )
            definitions = [row[0] for row in rows]
        else:
            rows = tx.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
            definitions = [row[0] for row in rows if row[0]]
    leading = {d.split("(", 1)[1].split(",")[0].split(")")[0].strip() for d in definitions}
    assert {"visit_number", "patient_ref"} <= leading, definitions


# ---- finding visits -------------------------------------------------------------------------
def test_a_visit_is_found_by_its_number_with_or_without_the_authority(
    services: PatientServices, database: ReadDatabase
) -> None:
    a = run(services, schedule("pt-1", visit_number="V-7", visit_number_authority="H-A"))
    b = run(services, walk_in("pt-2", visit_number="V-7", visit_number_authority="H-B"))
    run(services, walk_in("pt-3", visit_number="V-8", visit_number_authority="H-A"))
    catch_up(database)

    [item] = search(database, visit_number="V-7", visit_number_authority="H-A").items
    assert (item.id, item.patient_ref, item.status, item.fhir_status) == (
        str(a), "pt-1", "scheduled", "planned",
    )  # fmt: skip
    assert (item.visit_number, item.visit_number_authority) == ("V-7", "H-A")
    assert (item.visit_class, item.service_unit, item.version) == ("AMB", "OPD", 1)
    assert item.scheduled_start == START + timedelta(hours=4) and item.arrival_at is None
    assert item.current_location is None

    assert set(ids(search(database, visit_number="V-7"))) == {str(a), str(b)}
    assert search(database, visit_number="V-7", visit_number_authority="H-C").items == []
    assert search(database, visit_number="v-7").items == []  # exact, as recorded


def test_a_patients_visits_are_found_and_filtered_by_status(
    services: PatientServices, database: ReadDatabase
) -> None:
    booked = run(services, schedule("pt-9"))
    arrived = run(services, walk_in("pt-9", visit_number="W-1"))
    erroneous = run(services, walk_in("pt-9"))
    run(services, vc.MarkEnteredInError(reason="wrong patient"), erroneous)
    run(services, walk_in("pt-other"))
    catch_up(database)

    page = search(database, patient_ref="pt-9")
    assert ids(page) == sorted([str(booked), str(arrived), str(erroneous)])
    assert page.next_cursor is None
    found = {item.id: item for item in page.items}
    walked = found[str(arrived)]
    assert walked.status == "arrived" and walked.arrival_at is not None
    assert walked.current_location is not None and walked.current_location.unit == "ED"
    assert found[str(erroneous)].status == "entered_in_error"

    assert ids(search(database, patient_ref="pt-9", status="arrived")) == [str(arrived)]
    assert set(ids(search(database, patient_ref="pt-9", status=["scheduled", "arrived"]))) == {
        str(booked), str(arrived),
    }  # fmt: skip
    assert search(database, patient_ref="pt-9", status=[]).items == []
    # Both keys given: both must hold.
    assert ids(search(database, patient_ref="pt-9", visit_number="W-1")) == [str(arrived)]
    assert search(database, patient_ref="pt-other", visit_number="W-1").items == []


def test_pages_follow_the_ids_and_the_cursor_continues_after_the_last(
    services: PatientServices, database: ReadDatabase
) -> None:
    visits = sorted(str(run(services, walk_in("pt-many"))) for _ in range(5))
    catch_up(database)

    seen: list[str] = []
    after: UUID | None = None
    pages = 0
    while True:
        page = search(database, patient_ref="pt-many", after=after, limit=2)
        seen += ids(page)
        pages += 1
        if page.next_cursor is None:
            break
        assert page.next_cursor == page.items[-1].id
        after = UUID(page.next_cursor)
    assert (seen, pages) == (visits, 3)
    # A full last page says no more follow only when there are none.
    assert search(database, patient_ref="pt-many", limit=5).next_cursor is None


def test_identifiers_too_long_for_an_index_entry_are_found_by_their_whole_value(
    services: PatientServices, database: ReadDatabase
) -> None:
    # Long enough to break a btree entry on PostgreSQL (about 2.7 kB) were it not clipped;
    # the application's commands refuse such refs, an older feed or store may hold them.
    patient, number = "p" * 3000, "n" * 3000
    visit = run(services, walk_in(patient, visit_number=number, visit_number_authority="H"))
    catch_up(database)

    [by_patient] = search(database, patient_ref=patient).items
    [by_number] = search(database, visit_number=number).items
    assert by_patient.id == by_number.id == str(visit)
    assert by_patient.patient_ref == key_text(patient) and len(by_patient.patient_ref) == 217
    assert by_number.visit_number == key_text(number)


def test_a_search_needs_a_visit_number_or_a_patient(database: ReadDatabase) -> None:
    with pytest.raises(ValueError, match="visit number or a patient"):
        search(database, visit_number_authority="H-A", status="arrived")


# ---- after the upgrade: a flow generation built before visit numbers ---------------------
def test_a_generation_without_the_new_columns_is_left_alone_then_rebuilt(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    run(services, walk_in("pt-1", visit_number="V-1"))
    catch_up(database)
    visits = f"{PREFIX}visits"
    with database.worker_connection() as conn, conn.transaction() as tx:
        # The table as the release before visit numbers built it, with that release's
        # fingerprint.
        for index in ("number", "patient"):
            tx.execute(f"DROP INDEX {visits}_{index}")
        for column in ("visit_number", "visit_number_authority"):
            tx.execute(f"ALTER TABLE {visits} DROP COLUMN {column}")
        tx.execute("UPDATE read_model_fingerprints SET fingerprint = 'old' WHERE name = 'flow'")
    assert is_outdated(database, "flow")

    # Neither preparing the read models nor a live worker runs this release's statements on
    # the old tables (an index on a column they lack would fail them).
    prepare_read_models(database, [FlowReadModel])
    run(services, walk_in("pt-1", visit_number="V-2"))
    catch_up(database)

    token = mint_token(store_settings, "alice", ["clerk"])
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        board = client.get("/api/v1/flow/board", headers=headers)
        stale = client.get("/api/v1/visits?visitNumber=V-1", headers=headers)
        assert board.status_code == 200, board.text  # the old tables still answer it
        assert (stale.status_code, stale.json()["code"]) == (503, "PROJECTION_REBUILDING")

        assert ReadModelHealer(database, [FlowReadModel]).run_once() == 1
        healed = client.get("/api/v1/visits?patientRef=pt-1", headers=headers)
    assert healed.status_code == 200, healed.text
    numbers = sorted(item["visitNumber"] for item in healed.json()["items"])
    assert numbers == ["V-1", "V-2"]
