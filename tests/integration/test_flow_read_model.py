"""The flow read model on real PostgreSQL and SQLite: a redelivered record changes nothing, a
rebuild from zero equals the view built incrementally (random command sequences through
``PatientServices.execute``, batches of 3 so batches split visits, workers restarted on the
way), the view agrees with the domain, and the census answers at instants across transfers."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import (
    ReadDatabase,
    Transaction,
)
from adapters.readmodels.visits.store import FlowReadModel, census, timeline
from adapters.readmodels.worker import ProjectionWorker
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.visits import commands as vc
from domain.shared.errors import DomainError
from projections.shared.records import to_micros
from projections.visits.flow import VISIT_COLUMNS
from tests.support.projections import lead

PREFIX = tr.table_prefix("flow", 1)
TABLES = {"visits": "id", "locations": "visit_id, seq", "timeline": "visit_id, version"}


pytestmark = pytest.mark.read_models([FlowReadModel])


# ---- helpers --------------------------------------------------------------------------------
def run(
    services: PatientServices, command: Command, target: UUID | None = None
) -> tuple[UUID, int]:
    """Run a command as the first non-feed role allowed to; (visit id, position)."""
    role = sorted(command.roles - {"integration"})[0]
    context = RequestContext(actor_id=f"{role}-1", actor_role=role, correlation_id="t")
    result = services.execute(command, context, target=target)
    return result.id, result.position


class Worker:
    """A flow worker that keeps its connection (and its model's cache) between steps."""

    def __init__(self, database: ReadDatabase, batch_size: int, generation: int | None = None):
        self.database, self.batch_size, self.generation = database, batch_size, generation
        self.conn = database.worker_connection()
        self.restart()
        lead(self.conn, self.worker.lock_name)

    def restart(self) -> None:
        """A new worker on the same connection: a model with a cold cache."""
        self.worker = ProjectionWorker(
            self.database, FlowReadModel, batch_size=self.batch_size, generation=self.generation
        )

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            self.worker.step(self.conn)

    def catch_up(self) -> None:
        self.worker.catch_up(self.conn)

    def close(self) -> None:
        self.conn.close()


def catch_up(database: ReadDatabase, batch_size: int = 3, generation: int | None = None) -> None:
    worker = Worker(database, batch_size, generation)
    try:
        worker.catch_up()
    finally:
        worker.close()


def dump(database: ReadDatabase, generation: int = 1) -> dict[str, list[tuple[Any, ...]]]:
    prefix = tr.table_prefix("flow", generation)
    with database.read() as tx:
        return {
            table: [tuple(r) for r in tx.execute(f"SELECT * FROM {prefix}{table} ORDER BY {key}")]
            for table, key in TABLES.items()
        }


def drop_generation(database: ReadDatabase, generation: int) -> None:
    with database.worker_connection() as conn, conn.transaction() as tx:
        FlowReadModel().drop_tables(tx, tr.table_prefix("flow", generation))
        tr.forget_generation(tx, "flow", generation)


def all_records(database: ReadDatabase) -> list[Any]:
    with database.worker_connection() as conn, conn.transaction() as tx:
        return conn.records_after(tx, 0, 1_000_000)


def flow_story(services: PatientServices, start: datetime) -> UUID:
    """A walk-in admitted, transferred, the transfer cancelled, discharge cancelled: every
    kind of row and a correction mark."""

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    visit, _ = run(services, vc.RegisterWalkIn(
        patient_ref="pt-1", visit_class="EMER", service_unit="ED", arrival_at=at(0)))  # fmt: skip
    for command in (
        vc.RecordTriage(acuity_scale="ESI", acuity_level=2, occurred_at=at(5)),
        vc.StartClinicianContact(clinician_ref="dr-1", occurred_at=at(10)),
        vc.RecordDecisionToAdmit(target_unit="W1", occurred_at=at(20)),
        vc.AdmitPatient(unit="W1", bed="B1", occurred_at=at(60)),
        vc.TransferPatient(to_unit="W2", to_bed="B5", occurred_at=at(120)),
        vc.CancelTransfer(reason="wrong ward", occurred_at=at(125)),
        vc.TransferPatient(to_unit="W3", to_bed="B9", occurred_at=at(180)),
        vc.DischargePatient(disposition="home", occurred_at=at(300)),
        vc.CancelDischarge(reason="not yet", occurred_at=at(301)),
    ):
        run(services, command, visit)
    return visit


# ---- redelivery -----------------------------------------------------------------------------
def test_a_redelivered_batch_changes_nothing_whatever_the_cache(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    flow_story(services, start)
    flow_story(services, start + timedelta(minutes=3))
    catch_up(database)
    view = dump(database)
    records = [r for r in all_records(database) if FlowReadModel().wants(r.topic)]

    warm = FlowReadModel()
    for model in (warm, warm, FlowReadModel(cache_size=1)):  # cached, twice, and cold
        with database.worker_connection() as conn, conn.transaction() as tx:
            model.apply(tx, PREFIX, records, conn)
            model.apply(tx, PREFIX, records[len(records) // 2 :], conn)

    assert dump(database) == view
    assert len(view["timeline"]) == len(records)


def test_the_tracking_fence_refuses_a_batch_applied_from_a_stale_position(
    services: PatientServices, database: ReadDatabase
) -> None:
    visit, _ = run(services, vc.RegisterWalkIn(patient_ref="pt-1", visit_class="EMER",
                                               service_unit="ED"))  # fmt: skip
    catch_up(database)
    view = dump(database)
    records = all_records(database)
    run(services, vc.RecordTriage(acuity_scale="ESI", acuity_level=1), visit)
    redelivered = all_records(database)  # the walk-in again, and the triage

    with pytest.raises(tr.TrackingConflictError):
        with database.worker_connection() as conn, conn.transaction() as tx:
            FlowReadModel().apply(tx, PREFIX, redelivered, conn)
            tr.advance(tx, "flow", 1, 0, records[-1].position, caught_up=True)  # stale: 0

    assert dump(database) == view  # rolled back, the triage with it


# ---- rebuild equals incremental -----------------------------------------------------------
UNITS = ("ED", "OPD")
WARDS = ("W1", "W2", "W3")
#: What a visit in each state may plausibly be told next (the domain still refuses some:
#: out-of-order times, nothing to cancel), so most random steps record an event.
NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("schedule", "walk_in"),
    "scheduled": ("reschedule", "cancel", "no_show", "arrive", "correct", "entered_in_error"),
    "arrived": ("triage", "contact", "admit", "transfer", "lwbs", "discharge", "correct"),
    "triaged": ("contact", "admit", "transfer", "lwbs", "discharge", "entered_in_error"),
    "with_clinician": ("decide", "admit", "transfer", "discharge", "correct"),
    "admitted": (
        "transfer", "leave_start", "discharge", "cancel_admission", "cancel_transfer",
        "correct", "entered_in_error",
    ),
    "on_leave": ("leave_end", "correct"),
    "discharged": ("close", "cancel_discharge", "correct", "entered_in_error"),
    "left_without_being_seen": ("close", "cancel_lwbs", "entered_in_error"),
    "no_show": ("revert_no_show", "entered_in_error"),
    "closed": ("entered_in_error", "schedule", "walk_in"),
    "cancelled": ("entered_in_error", "schedule", "walk_in"),
    "entered_in_error": ("schedule", "walk_in"),
}  # fmt: skip


def command_for(action: str, at: datetime, n: int) -> Command:
    """The command of one random step; most are refused in most states, as in real life."""
    commands: dict[str, Any] = {
        "schedule": lambda: vc.ScheduleVisit(
            patient_ref=f"pt-{n}", visit_class="AMB", service_unit=UNITS[n % 2],
            scheduled_start=at - timedelta(minutes=20), occurred_at=at - timedelta(hours=1),
        ),
        "walk_in": lambda: vc.RegisterWalkIn(
            patient_ref=f"pt-{n}", visit_class="EMER", service_unit=UNITS[n % 2], arrival_at=at
        ),
        "reschedule": lambda: vc.RescheduleVisit(scheduled_start=at + timedelta(minutes=n)),
        "cancel": lambda: vc.CancelVisit(reason="asked", occurred_at=at),
        "no_show": lambda: vc.MarkNoShow(occurred_at=at),
        "revert_no_show": lambda: vc.RevertNoShow(occurred_at=at),
        "arrive": lambda: vc.RegisterArrival(occurred_at=at),
        "triage": lambda: vc.RecordTriage(acuity_scale="ESI", acuity_level=1 + n % 5,
                                          occurred_at=at),
        "contact": lambda: vc.StartClinicianContact(clinician_ref="dr-1", occurred_at=at),
        "decide": lambda: vc.RecordDecisionToAdmit(target_unit=WARDS[n % 3], occurred_at=at),
        "admit": lambda: vc.AdmitPatient(unit=WARDS[n % 3], bed=f"B{n}", occurred_at=at),
        "transfer": lambda: vc.TransferPatient(to_unit=WARDS[(n + 1) % 3], to_bed=f"B{n}",
                                               occurred_at=at),
        "leave_start": lambda: vc.StartLeaveOfAbsence(occurred_at=at),
        "leave_end": lambda: vc.EndLeaveOfAbsence(occurred_at=at),
        "lwbs": lambda: vc.RecordLeftWithoutBeingSeen(occurred_at=at),
        "discharge": lambda: vc.DischargePatient(disposition="home", occurred_at=at),
        "close": lambda: vc.CloseVisit(occurred_at=at),
        "entered_in_error": lambda: vc.MarkEnteredInError(reason="wrong", occurred_at=at),
        "correct": lambda: vc.CorrectVisitDetails(
            changes=vc.VisitDetailChanges(reason_code=f"R{n}"), occurred_at=at
        ),
        "cancel_admission": lambda: vc.CancelAdmission(reason="no", occurred_at=at),
        "cancel_transfer": lambda: vc.CancelTransfer(reason="no", occurred_at=at),
        "cancel_discharge": lambda: vc.CancelDischarge(reason="no", occurred_at=at),
        "cancel_lwbs": lambda: vc.CancelLeftWithoutBeingSeen(reason="no", occurred_at=at),
    }  # fmt: skip
    return commands[action]()


_generations = itertools.count(2)


@settings(
    # Bounded: every example runs up to 20 commands against a real database.
    max_examples=min(settings.default.max_examples, 25),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), steps=st.integers(1, 20), rebuild_batch=st.integers(1, 9))
def test_a_rebuild_from_zero_equals_the_view_built_incrementally(
    services: PatientServices,
    database: ReadDatabase,
    data: st.DataObject,
    steps: int,
    rebuild_batch: int,
) -> None:
    clock = datetime.now(timezone.utc) - timedelta(days=1)
    visits: list[UUID | None] = [None, None, None]
    incremental = Worker(database, batch_size=3)
    try:
        for n in range(steps):
            slot = data.draw(st.integers(0, 2), label="visit")
            status = services.get_visit(visits[slot]).status if visits[slot] else None
            action = data.draw(st.sampled_from(NEXT[status]), label="action")
            clock += timedelta(minutes=data.draw(st.integers(1, 40), label="minutes"))
            command = command_for(action, clock, n)
            try:
                visit, _ = run(services, command, None if command.creates else visits[slot])
            except DomainError:
                pass  # refused in this state: recorded as an attempt, not a visit event
            else:
                visits[slot] = visit
            if data.draw(st.booleans(), label="restart the incremental worker (cold cache)"):
                incremental.restart()
            incremental.step(data.draw(st.integers(0, 2), label="batches"))
        incremental.catch_up()
    finally:
        incremental.close()

    generation = next(_generations)
    catch_up(database, batch_size=rebuild_batch, generation=generation)
    try:
        assert dump(database, generation) == dump(database, 1)
    finally:
        drop_generation(database, generation)
    assert_view_matches_the_domain(services, database, [v for v in visits if v])


def assert_view_matches_the_domain(
    services: PatientServices, database: ReadDatabase, visit_ids: list[UUID]
) -> None:
    view = dump(database)
    rows = {row[0]: row for row in view["visits"]}
    for visit_id in visit_ids:
        visit = services.get_visit(visit_id)
        row = dict(zip(VISIT_COLUMNS, rows[str(visit_id)], strict=True))
        assert (row["version"], row["status"]) == (visit.version, visit.status)
        location = visit.current_location or {"unit": None, "bed": None}
        assert (row["current_unit"], row["current_bed"]) == (location["unit"], location["bed"])
        assert row["arrival_at"] == to_micros(visit.arrival_at)
        periods = [
            (p["unit"], p["bed"], to_micros(p["start"]), to_micros(p["end"]))
            for p in visit.location_periods
        ] if visit.status != "entered_in_error" else []  # fmt: skip
        stored = [r[2:] for r in view["locations"] if r[0] == str(visit_id)]
        assert stored == periods
        events = services.visit_events(visit_id)
        assert [r[3] for r in view["timeline"] if r[0] == str(visit_id)] == [
            str(e.event_id) for e in events
        ]


def test_a_tiny_cache_gives_the_same_view(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    for minutes in range(0, 12, 3):
        flow_story(services, start + timedelta(minutes=minutes))
    catch_up(database, batch_size=5)

    worker = ProjectionWorker(
        database, lambda: FlowReadModel(cache_size=1), generation=9, batch_size=4
    )
    with database.worker_connection() as conn:
        lead(conn, worker.lock_name)
        worker.catch_up(conn)
    try:
        assert dump(database, 9) == dump(database, 1)
    finally:
        drop_generation(database, 9)


# ---- census and timeline ------------------------------------------------------------------
def census_units(tx: Transaction, unit: str | None, at: datetime) -> list[tuple[str, Any]]:
    return [(e.unit, e.bed) for e in census(tx, PREFIX, unit, at).items]


def test_the_census_answers_at_instants_across_transfers(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    visit = flow_story(services, start)
    catch_up(database)

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    with database.read() as tx:
        assert census_units(tx, "ED", at(0)) == [("ED", None)]  # from the arrival, inclusive
        assert census_units(tx, "ED", at(59)) == [("ED", None)]
        assert census_units(tx, "ED", at(60)) == []  # until the admission, exclusive
        assert census_units(tx, "W1", at(60)) == [("W1", "B1")]
        assert census_units(tx, "W1", at(150)) == [("W1", "B1")]  # the transfer was cancelled
        assert census_units(tx, "W2", at(150)) == []
        assert census_units(tx, "W1", at(180)) == []
        assert census_units(tx, "W3", at(180)) == [("W3", "B9")]
        assert census_units(tx, "W3", at(10_000)) == [("W3", "B9")]  # discharge cancelled
        assert census_units(tx, None, at(200)) == [("W3", "B9")]
        assert census_units(tx, None, at(-1)) == []
        entry = census(tx, PREFIX, "W3", at(200)).items[0]
        assert (entry.visit_id, entry.status, entry.until) == (str(visit), "admitted", None)


def test_an_entered_in_error_visit_leaves_the_census_at_every_instant(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    visit = flow_story(services, start)
    catch_up(database)
    run(services, vc.MarkEnteredInError(reason="wrong patient"), visit)
    catch_up(database)

    with database.read() as tx:
        assert census_units(tx, None, start + timedelta(minutes=90)) == []
        assert census_units(tx, None, start + timedelta(minutes=10_000)) == []


def test_the_timeline_marks_cancelled_facts_and_pages(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    visit = flow_story(services, start)
    catch_up(database)

    with database.read() as tx:
        whole = timeline(tx, PREFIX, visit)
        first = timeline(tx, PREFIX, visit, limit=4)
        rest = timeline(tx, PREFIX, visit, after_version=4, limit=100)
        unknown = timeline(tx, PREFIX, UUID(int=1))

    assert whole is not None and first is not None and rest is not None
    kinds = [(e.event_type, e.effective) for e in whole.items]
    assert kinds == [
        ("WalkInRegistered", True), ("PatientTriaged", True),
        ("ClinicianContactStarted", True), ("AdmissionDecided", True),
        ("PatientAdmitted", True), ("PatientTransferred", False), ("TransferCancelled", True),
        ("PatientTransferred", True), ("PatientDischarged", False),
        ("DischargeCancelled", True),
    ]  # fmt: skip
    transfer, cancel = whole.items[5], whole.items[6]
    assert transfer.corrected_by == cancel.event_id and cancel.corrects == transfer.event_id
    assert whole.items[8].corrected_by == whole.items[9].event_id
    assert (whole.status, whole.version) == ("admitted", 10)
    assert first.next_cursor == "4" and rest.next_cursor is None
    assert first.items + rest.items == whole.items
    assert unknown is None
