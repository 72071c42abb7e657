"""The flow read model as the system had it at a past time, on real PostgreSQL and SQLite:
the board ``asOf`` and the census and metrics ``knownAt`` leave out what was recorded later
(late entries, back-dated) and keep what was cancelled later; the census shows each visit's
status and class at its instant (it showed today's); and a property: at every moment of a
random history (every event type: compensations, entered-in-error, leave, transfers,
corrections), the board, census and metrics captured live equal those asked for later as of
that moment.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.readmodels import tracking as tr
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.visits.store import (
    FlowReadModel,
    board,
    board_as_of,
    census,
    metrics,
)
from adapters.readmodels.worker import ProjectionWorker
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.visits import commands as vc
from domain.shared.errors import DomainError
from tests.support.projections import lead

PREFIX = tr.table_prefix("flow", 1)
ZONE = ZoneInfo("Europe/London")

pytestmark = pytest.mark.read_models([FlowReadModel])


# ---- helpers --------------------------------------------------------------------------------
def run(services: PatientServices, command: Command, target: UUID | None = None) -> UUID:
    role = sorted(command.roles - {"integration"})[0]
    context = RequestContext(actor_id=f"{role}-1", actor_role=role, correlation_id="t")
    return services.execute(command, context, target=target).id


class Worker:
    """A flow worker that keeps its connection (and its model's cache) between steps."""

    def __init__(self, database: ReadDatabase, batch_size: int, generation: int | None = None):
        self.database, self.batch_size, self.generation = database, batch_size, generation
        self.conn = database.worker_connection()
        self.restart()
        lead(self.conn, self.worker.lock_name)

    def restart(self) -> None:
        self.worker = ProjectionWorker(
            self.database, FlowReadModel, batch_size=self.batch_size, generation=self.generation
        )

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


def moment() -> datetime:
    """Now, strictly between what was recorded before and what is recorded after."""
    time.sleep(0.002)
    instant = datetime.now(timezone.utc)
    time.sleep(0.002)
    return instant


def visit_ids(board_view: Any) -> list[str]:
    return [v.visit_id for u in board_view.units for v in (*u.arrived, *u.triaged,
            *u.with_clinician, *u.admitted, *u.on_leave)]  # fmt: skip


def walk_in(services: PatientServices, at: datetime, unit: str = "ED", n: int = 1) -> UUID:
    return run(services, vc.RegisterWalkIn(
        patient_ref=f"pt-{n}", visit_class="EMER", service_unit=unit, arrival_at=at))  # fmt: skip


# ---- the census at an instant shows the status and class of that instant ------------------
def test_the_census_at_a_past_instant_shows_the_status_and_class_of_that_instant(
    services: PatientServices, database: ReadDatabase
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=8)

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    visit = walk_in(services, at(0))
    for command in (
        vc.RecordTriage(acuity_scale="ESI", acuity_level=2, occurred_at=at(5)),
        vc.StartClinicianContact(clinician_ref="dr-1", occurred_at=at(10)),
        vc.AdmitPatient(unit="W1", bed="B1", occurred_at=at(60)),
        vc.StartLeaveOfAbsence(occurred_at=at(90)),
        vc.EndLeaveOfAbsence(occurred_at=at(100)),
        vc.DischargePatient(disposition="home", occurred_at=at(200)),
    ):
        run(services, command, visit)
    catch_up(database)

    def shown(unit: str, minutes: float) -> list[tuple[str, str]]:
        with database.read() as tx:
            items = census(tx, PREFIX, unit, at(minutes)).items
        return [(entry.status, entry.visit_class) for entry in items]

    # Today the visit is discharged and inpatient: at each instant it was something else.
    assert shown("ED", 2) == [("arrived", "EMER")]
    assert shown("ED", 7) == [("triaged", "EMER")]
    assert shown("ED", 59) == [("with_clinician", "EMER")]
    assert shown("W1", 60) == [("admitted", "IMP")]
    assert shown("W1", 95) == [("on_leave", "IMP")]  # the bed is kept
    assert shown("W1", 150) == [("admitted", "IMP")]
    assert shown("W1", 200) == []


def test_the_census_at_an_instant_follows_what_a_compensation_left_standing(
    services: PatientServices, database: ReadDatabase
) -> None:
    """A cancelled admission never happened: between it and its cancellation the visit was
    still with the clinician, in the ED, as an emergency."""
    start = datetime.now(timezone.utc) - timedelta(hours=8)
    visit = walk_in(services, start)
    run(
        services,
        vc.StartClinicianContact(clinician_ref="dr-1", occurred_at=start + timedelta(minutes=10)),
        visit,
    )
    run(services, vc.AdmitPatient(unit="W1", bed="B1", occurred_at=start + timedelta(minutes=60)),
        visit)  # fmt: skip
    run(
        services,
        vc.CancelAdmission(reason="wrong patient", occurred_at=start + timedelta(minutes=90)),
        visit,
    )
    catch_up(database)

    with database.read() as tx:
        ed = census(tx, PREFIX, "ED", start + timedelta(minutes=75)).items
        ward = census(tx, PREFIX, "W1", start + timedelta(minutes=75)).items
    assert [(e.status, e.visit_class, e.unit) for e in ed] == [("with_clinician", "EMER", "ED")]
    assert ward == []


# ---- late entries: not known before they were recorded --------------------------------------
def test_a_late_entry_is_left_out_of_the_board_census_and_metrics_known_before_it(
    services: PatientServices, database: ReadDatabase
) -> None:
    now = datetime.now(timezone.utc)
    early = walk_in(services, now - timedelta(hours=3), n=1)
    catch_up(database)
    known = moment()
    # Recorded after `known`, dated two hours before it: the system did not know it then.
    late = walk_in(services, now - timedelta(hours=2), n=2)
    catch_up(database)
    at = now - timedelta(minutes=30)
    period = (now - timedelta(hours=6), now)

    with database.read() as tx:
        then_board = board_as_of(tx, PREFIX, "ED", known)
        now_board = board(tx, PREFIX, "ED", known)
        then_census = census(tx, PREFIX, "ED", at, known_at=known)
        now_census = census(tx, PREFIX, "ED", at)
        then_metrics = metrics(tx, PREFIX, *period, "ED", ZONE, known_at=known)
        now_metrics = metrics(tx, PREFIX, *period, "ED", ZONE)

    assert visit_ids(then_board) == [str(early)]
    assert visit_ids(now_board) == [str(early), str(late)]
    assert (then_board.at, then_board.as_of) == (known, known)
    # Minutes are counted to asOf.
    waited = then_board.units[0].arrived[0].minutes_since_arrival
    assert waited == round((known - (now - timedelta(hours=3))).total_seconds() / 60, 1)
    assert [e.visit_id for e in then_census.items] == [str(early)]
    assert then_census.known_at == known and now_census.known_at is None
    assert {e.visit_id for e in now_census.items} == {str(early), str(late)}
    assert (then_metrics.arrivals, now_metrics.arrivals) == (1, 2)
    assert then_metrics.known_at == known


def test_what_was_cancelled_later_is_still_shown_as_it_was_known(
    services: PatientServices, database: ReadDatabase
) -> None:
    now = datetime.now(timezone.utc)
    visit = walk_in(services, now - timedelta(hours=5))
    run(services, vc.AdmitPatient(unit="W1", bed="B1", occurred_at=now - timedelta(hours=4)),
        visit)  # fmt: skip
    run(
        services,
        vc.TransferPatient(to_unit="W2", to_bed="B2", occurred_at=now - timedelta(hours=3)),
        visit,
    )
    run(services, vc.DischargePatient(disposition="home", occurred_at=now - timedelta(hours=2)),
        visit)  # fmt: skip
    catch_up(database)
    known = moment()
    run(services, vc.CancelDischarge(reason="still here"), visit)
    run(services, vc.CancelTransfer(reason="wrong ward"), visit)
    catch_up(database)
    at = now - timedelta(minutes=150)
    period = (now - timedelta(hours=6), now)

    with database.read() as tx:
        then_w2 = census(tx, PREFIX, "W2", at, known_at=known)
        now_w2 = census(tx, PREFIX, "W2", at)
        now_w1 = census(tx, PREFIX, "W1", at)
        then_board = board_as_of(tx, PREFIX, None, known)
        now_board = board_as_of(tx, PREFIX, None, datetime.now(timezone.utc))
        then_metrics = metrics(tx, PREFIX, *period, None, ZONE, known_at=known)
        now_metrics = metrics(tx, PREFIX, *period, None, ZONE)

    assert [(e.visit_id, e.status) for e in then_w2.items] == [(str(visit), "admitted")]
    assert now_w2.items == [] and [e.visit_id for e in now_w1.items] == [str(visit)]
    assert visit_ids(then_board) == []  # discharged, as far as anyone knew
    assert visit_ids(now_board) == [str(visit)] and now_board.units[0].unit == "W1"
    assert (then_metrics.departures, now_metrics.departures) == (1, 0)


def test_a_visit_not_yet_recorded_is_not_on_an_earlier_board_or_census(
    services: PatientServices, database: ReadDatabase
) -> None:
    before = moment()
    walk_in(services, datetime.now(timezone.utc) - timedelta(hours=1))
    catch_up(database)

    with database.read() as tx:
        assert board_as_of(tx, PREFIX, "ED", before).units == []
        assert census(tx, PREFIX, "ED", before - timedelta(minutes=5), known_at=before).items == []


def test_a_census_after_the_time_it_is_known_at_counts_whoever_was_there_as_still_there(
    services: PatientServices, database: ReadDatabase
) -> None:
    now = datetime.now(timezone.utc)
    visit = walk_in(services, now - timedelta(hours=2))
    catch_up(database)
    known = moment()
    run(services, vc.DischargePatient(disposition="home", occurred_at=now), visit)
    catch_up(database)
    later = now + timedelta(hours=1)

    with database.read() as tx:
        then = census(tx, PREFIX, "ED", later, known_at=known)
        today = census(tx, PREFIX, "ED", later)
    assert [(e.visit_id, e.status, e.until) for e in then.items] == [(str(visit), "arrived", None)]
    assert today.items == []


# ---- the property: as of any moment equals what was live at that moment ---------------------
UNITS = ("ED", "OPD")
WARDS = ("W1", "W2", "W3")
#: What a visit in each state may plausibly be told next (the domain refuses some).
NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("schedule", "walk_in"),
    "scheduled": ("reschedule", "cancel", "no_show", "arrive", "correct", "entered_in_error"),
    "arrived": ("triage", "contact", "admit", "transfer", "lwbs", "discharge", "correct"),
    "triaged": ("contact", "decide", "admit", "lwbs", "entered_in_error", "correct"),
    "with_clinician": ("decide", "admit", "transfer", "discharge", "correct"),
    "admitted": (
        "transfer", "leave_start", "discharge", "cancel_admission", "cancel_transfer",
        "correct", "entered_in_error",
    ),
    "on_leave": ("leave_end", "correct"),
    "discharged": ("close", "cancel_discharge", "entered_in_error"),
    "left_without_being_seen": ("close", "cancel_lwbs", "entered_in_error"),
    "no_show": ("revert_no_show", "entered_in_error"),
    "closed": ("entered_in_error", "walk_in"),
    "cancelled": ("entered_in_error", "schedule"),
    "entered_in_error": ("schedule", "walk_in"),
}  # fmt: skip


def command_for(action: str, at: datetime, n: int) -> Command:
    changes = (
        vc.VisitDetailChanges(visit_class="OBSENC"), vc.VisitDetailChanges(service_unit="OPD"),
        vc.VisitDetailChanges(reason_code=f"R{n}"),
    )  # fmt: skip
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
        "revert_no_show": lambda: vc.RevertNoShow(reason="came", occurred_at=at),
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
        "correct": lambda: vc.CorrectVisitDetails(changes=changes[n % 3], occurred_at=at),
        "cancel_admission": lambda: vc.CancelAdmission(reason="no", occurred_at=at),
        "cancel_transfer": lambda: vc.CancelTransfer(reason="no", occurred_at=at),
        "cancel_discharge": lambda: vc.CancelDischarge(reason="no", occurred_at=at),
        "cancel_lwbs": lambda: vc.CancelLeftWithoutBeingSeen(reason="no", occurred_at=at),
    }  # fmt: skip
    return commands[action]()


class Captured(msgspec.Struct):
    """What the flow model answered live at ``at`` (recorded time), for the instant
    ``instant`` (the story's clock, before ``at``) and the period before it."""

    at: datetime
    instant: datetime
    boards: dict[str | None, Any]
    census: Any
    #: The census two days after ``instant``: after ``at`` too.
    later_census: Any
    metrics: Any


def capture(database: ReadDatabase, instant: datetime) -> Captured:
    at = moment()
    with database.read() as tx:
        return Captured(
            at=at,
            instant=instant,
            boards={unit: board(tx, PREFIX, unit, at) for unit in (None, *UNITS, *WARDS)},
            census=census(tx, PREFIX, None, instant),
            later_census=census(tx, PREFIX, None, instant + timedelta(days=2)),
            metrics=metrics(tx, PREFIX, instant - timedelta(days=1), instant, None, ZONE),
        )


def history_rows(database: ReadDatabase, generation: int) -> list[Any]:
    prefix = tr.table_prefix("flow", generation)
    with database.read() as tx:
        return sorted(map(tuple, tx.execute(f"SELECT * FROM {prefix}history")))


@settings(
    # Bounded: every example runs up to 16 commands against a real database.
    max_examples=min(settings.default.max_examples, 25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), steps=st.integers(1, 16), batch_size=st.integers(1, 5))
def test_as_of_any_moment_the_flow_model_answers_what_it_answered_live_then(
    services: PatientServices,
    database: ReadDatabase,
    data: st.DataObject,
    steps: int,
    batch_size: int,
) -> None:
    clock = datetime.now(timezone.utc) - timedelta(days=1)
    visits: list[UUID | None] = [None, None, None]
    worker = Worker(database, batch_size=batch_size)
    captured: list[Captured] = []
    try:
        for n in range(steps):
            slot = data.draw(st.integers(0, 2), label="visit")
            status = services.get_visit(visits[slot]).status if visits[slot] else None
            action = data.draw(st.sampled_from(NEXT[status]), label="action")
            clock += timedelta(minutes=data.draw(st.integers(1, 40), label="minutes"))
            command = command_for(action, clock, n)
            try:
                visits[slot] = run(services, command, None if command.creates else visits[slot])
            except DomainError:
                pass  # refused in this state: recorded as an attempt, not a visit event
            if data.draw(st.booleans(), label="restart the worker (cold cache)"):
                worker.restart()
            worker.catch_up()
            captured.append(capture(database, clock - timedelta(minutes=n % 3 * 7)))
    finally:
        worker.close()

    with database.read() as tx:
        for live in captured:
            for unit, shown in live.boards.items():
                then = board_as_of(tx, PREFIX, unit, live.at)
                assert then == msgspec.structs.replace(shown, as_of=live.at), (unit, live.at)
            then_census = census(tx, PREFIX, None, live.instant, known_at=live.at)
            assert then_census == msgspec.structs.replace(live.census, known_at=live.at)
            later = live.instant + timedelta(days=2)
            then_later = census(tx, PREFIX, None, later, known_at=live.at)
            assert then_later == msgspec.structs.replace(live.later_census, known_at=live.at)
            period = (live.instant - timedelta(days=1), live.instant)
            then_metrics = metrics(tx, PREFIX, *period, None, ZONE, known_at=live.at)
            assert then_metrics == msgspec.structs.replace(live.metrics, known_at=live.at)
        now = datetime.now(timezone.utc)
        assert board_as_of(tx, PREFIX, None, now) == msgspec.structs.replace(
            board(tx, PREFIX, None, now), as_of=now
        )
    # The history tables a rebuild from zero makes are those kept incrementally.
    catch_up(database, batch_size=50, generation=7)
    assert history_rows(database, 7) == history_rows(database, 1)
    with database.worker_connection() as conn, conn.transaction() as tx:
        FlowReadModel().drop_tables(tx, tr.table_prefix("flow", 7))
        tr.forget_generation(tx, "flow", 7)
