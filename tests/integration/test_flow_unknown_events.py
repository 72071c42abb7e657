"""A record of an event class the flow read model does not know never stops its worker, on
PostgreSQL and SQLite: a PatientVisit event class added since (recorded here through the
application, as a newer release would), or a topic that no longer resolves (a record renamed
in the log). The worker folds it timeline-only, parks nothing, and goes past it: the records
after it are folded (from a warm cache, and from the log after a restart), the board is right
and the record is on the visit's timeline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import msgspec
import pytest

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase, WorkerConnection
from adapters.readmodels.visits.store import FlowReadModel, board, timeline
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application.service import PatientServices
from application.visits.commands import RecordTriage, RegisterWalkIn
from domain.shared.envelope import Envelope, recording
from domain.visits.visit import PatientVisit
from tests.support.projections import lead
from tests.support.raw_log import raw_events, sql
from tests.support.visits import CLERK, NURSE

PREFIX = tr.table_prefix("flow", 1)
RETIRED_TOPIC = "domain.visits.visit:PatientVisit.HandoverNotedRetired"

pytestmark = pytest.mark.read_models([FlowReadModel])


class HandoverNoted(PatientVisit.Event):
    """A PatientVisit event class the flow read model was not written for."""

    note: str


def walk_in(services: PatientServices, unit: str = "ED") -> UUID:
    command = RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit=unit)
    return services.execute(command, CLERK).id


def note_handover(services: PatientServices, visit_id: UUID) -> int:
    """Record a HandoverNoted on the visit, through the application; its version."""
    visit = services.get_visit(visit_id)
    now = datetime.now(timezone.utc)
    envelope = Envelope(
        actor_id="n1", actor_role="nurse", command_id=uuid4(), correlation_id="t",
        occurred_at=now, reason="shift change",
    )  # fmt: skip
    with recording(envelope):
        visit.trigger_event(HandoverNoted, note="to the night team")
    services.save(visit)
    return visit.version


def triage(services: PatientServices, visit_id: UUID) -> None:
    services.execute(RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id)


def retire_topic(store_settings: Settings, visit_id: UUID, version: int) -> None:
    """Rename the record's class in the log to one that no longer exists."""
    with raw_events(store_settings) as (conn, table, _):
        key = visit_id.hex if table == "stored_events" else visit_id
        sql(
            conn,
            f"UPDATE {table} SET topic = ? WHERE originator_id = ? AND originator_version = ?",
            (RETIRED_TOPIC, key, version),
        )


class Worker:
    """The flow worker on its own connection; ``restart`` drops its model's cache."""

    def __init__(self, database: ReadDatabase, batch_size: int, generation: int | None = None):
        self.database, self.batch_size, self.generation = database, batch_size, generation
        self.conn: WorkerConnection = database.worker_connection()
        self.restart()
        lead(self.conn, self.worker.lock_name)

    def restart(self) -> None:
        self.worker = ProjectionWorker(
            self.database, FlowReadModel, batch_size=self.batch_size, generation=self.generation
        )

    def step(self) -> int:
        return self.worker.step(self.conn).read

    def catch_up(self) -> None:
        self.worker.catch_up(self.conn)

    def close(self) -> None:
        self.conn.close()


def assert_folded_past_it(
    database: ReadDatabase, noted: UUID, other: UUID, name: str, generation: int = 1
) -> None:
    """Nothing parked, every record read, the board right, the record on the timeline."""
    prefix = tr.table_prefix("flow", generation)
    with database.read() as tx:
        assert tr.parked_records(tx, "flow", generation) == []
        assert tr.tracking(tx, "flow", generation).position == database.head_position()
        now = datetime.now(timezone.utc) + timedelta(minutes=1)
        [unit] = board(tx, prefix, "ED", now).units
        entries = timeline(tx, prefix, noted)
    assert [v.visit_id for v in unit.triaged] == [str(noted)]
    assert [v.visit_id for v in unit.arrived] == [str(other)]
    assert entries is not None and entries.status == "triaged" and entries.version == 3
    types = [item.event_type for item in entries.items]
    assert types == ["WalkInRegistered", name, "PatientTriaged"]
    handover = entries.items[1]
    assert (handover.actor_role, handover.reason, handover.effective) == (
        "nurse", "shift change", True,
    )  # fmt: skip
    assert handover.details == {"note": "to the night team"}


@pytest.mark.parametrize("batch_size", [1, 50])
def test_the_worker_folds_an_unknown_event_class_and_goes_past_it(
    services: PatientServices, database: ReadDatabase, batch_size: int
) -> None:
    worker = Worker(database, batch_size)
    try:
        noted = walk_in(services)
        worker.catch_up()  # the visit is cached: the live worker's case
        note_handover(services, noted)
        worker.catch_up()
        triage(services, noted)
        other = walk_in(services)
        worker.catch_up()
        assert_folded_past_it(database, noted, other, "HandoverNoted")

        # A cold cache: the next record of the visit replays its records, the unknown one too.
        worker.restart()
        services.execute(RecordTriage(acuity_scale="ESI", acuity_level=3), NURSE, target=other)
        worker.catch_up()
    finally:
        worker.close()
    with database.read() as tx:
        [unit] = board(tx, PREFIX, "ED", datetime.now(timezone.utc)).units
    assert sorted(v.visit_id for v in unit.triaged) == sorted([str(noted), str(other)])


def test_the_worker_folds_a_record_whose_topic_no_longer_resolves(
    services: PatientServices, database: ReadDatabase, store_settings: Settings
) -> None:
    noted = walk_in(services)
    version = note_handover(services, noted)
    triage(services, noted)
    other = walk_in(services)
    retire_topic(store_settings, noted, version)

    # Record by record, each with a cold cache: every record after a visit's first is folded
    # on its earlier records replayed from the log (the triage: through the renamed one).
    worker = Worker(database, batch_size=1)
    try:
        while worker.step():
            worker.restart()
    finally:
        worker.close()
    assert_folded_past_it(database, noted, other, "HandoverNotedRetired")

    # A rebuild from zero, in one batch: the same view.
    rebuilt = Worker(database, batch_size=500, generation=2)
    try:
        rebuilt.catch_up()
    finally:
        rebuilt.close()
    assert_folded_past_it(database, noted, other, "HandoverNotedRetired", generation=2)
    with database.read() as tx:
        [row] = tx.execute(
            f"SELECT details FROM {tr.table_prefix('flow', 2)}timeline"
            " WHERE visit_id = ? AND version = ?",
            (str(noted), version),
        )
    assert msgspec.json.decode(row[0]) == {"note": "to the night team"}
