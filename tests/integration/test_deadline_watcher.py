"""The complaint deadline watcher on real PostgreSQL and SQLite: ``SlaBreached`` exactly once
per breached deadline, whether one watcher runs it again (a restart), two race over the same
cases, or it runs inside ``serve`` beside the projection workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from adapters.composition import background_jobs, breach_candidates
from adapters.readmodels.complaints.store import ComplaintsReadModel
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.supervisor import ProjectionSupervisor
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application.complaints.commands import AcknowledgeComplaint, RegisterComplaint
from application.complaints.deadline_watcher import WATCHER_ID, DeadlineWatcher
from application.service import PatientServices
from application.shared.context import RequestContext
from domain.complaints.case import ComplaintCase

MANAGER = RequestContext(actor_id="manager-1", actor_role="manager", correlation_id="t")
#: Received on a Monday three weeks ago: the NHS acknowledgement (3 working days) has passed,
#: the response (6 months) has not.
RECEIVED = datetime.now(timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0)
RECEIVED -= timedelta(days=21 + RECEIVED.weekday())


def register(services: PatientServices, received: datetime = RECEIVED) -> UUID:
    command = RegisterComplaint(
        channel="written", received_at=received, complainant_ref="C-1",
        categories=["communication"], summary="a narrative", policy="nhs-england-2009",
    )  # fmt: skip
    return services.execute(command, MANAGER).id


def breaches_of(services: PatientServices, case_id: UUID) -> list[Any]:
    return [e for e in services.events.get(case_id) if type(e) is ComplaintCase.SlaBreached]


def all_cases(*case_ids: UUID) -> Any:
    return lambda now: list(case_ids)


def test_a_breached_acknowledgement_is_flagged_once_however_often_the_watcher_runs(
    services: PatientServices,
) -> None:
    late, in_time = register(services), register(services, datetime.now(timezone.utc))
    watcher = DeadlineWatcher(services, all_cases(late, in_time))

    assert watcher.check() == 1
    assert watcher.check() == 0
    # A restarted watcher (a new instance, as after a crash) finds nothing more to flag.
    assert DeadlineWatcher(services, all_cases(late, in_time)).check() == 0

    [breach] = breaches_of(services, late)
    case = services.get_aggregate(late, ComplaintCase)
    assert breach.deadline == "acknowledgement"
    assert breach.due_at == case.acknowledgement_due_at < breach.occurred_at
    assert (breach.actor_id, breach.actor_role) == (WATCHER_ID, "system")
    assert breaches_of(services, in_time) == []
    assert case.status == "received", "a breach is a fact, not a change of status"


def test_a_deadline_met_in_time_is_never_flagged(services: PatientServices) -> None:
    case_id = register(services, datetime.now(timezone.utc) - timedelta(minutes=5))
    services.execute(AcknowledgeComplaint(method="letter"), MANAGER, target=case_id)
    assert DeadlineWatcher(services, all_cases(case_id)).check() == 0
    assert breaches_of(services, case_id) == []


def test_two_watchers_racing_over_the_same_cases_flag_each_breach_exactly_once(
    services: PatientServices,
) -> None:
    cases = [register(services) for _ in range(6)]
    watchers = [DeadlineWatcher(services, all_cases(*cases)) for _ in range(2)]
    start = threading.Barrier(len(watchers))
    counts: list[int] = []

    def run(watcher: DeadlineWatcher) -> None:
        start.wait()
        counts.append(watcher.check())

    threads = [threading.Thread(target=run, args=(w,)) for w in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(counts) == len(cases)
    assert all(len(breaches_of(services, case_id)) == 1 for case_id in cases)


@pytest.fixture
def complaints_database(
    store_settings: Settings, services: PatientServices
) -> Iterator[ReadDatabase]:
    database = open_read_database(store_settings)
    prepare_read_models(database, [ComplaintsReadModel])
    yield database
    database.close()


def test_the_read_model_names_the_candidates_and_forgets_them_once_flagged(
    services: PatientServices, complaints_database: ReadDatabase
) -> None:
    late = register(services)
    register(services, datetime.now(timezone.utc))  # nothing due yet: never a candidate
    worker = ProjectionWorker(complaints_database, ComplaintsReadModel)
    with complaints_database.worker_connection() as conn:
        worker.catch_up(conn)
        now = datetime.now(timezone.utc)
        assert breach_candidates(complaints_database, now) == [late]

        assert (
            DeadlineWatcher(services, lambda t: breach_candidates(complaints_database, t)).check()
            == 1
        )
        worker.catch_up(conn)
        assert breach_candidates(complaints_database, now) == []
    assert len(breaches_of(services, late)) == 1


def test_the_watcher_runs_beside_the_workers_and_flags_within_its_interval(
    store_settings: Settings, services: PatientServices, complaints_database: ReadDatabase
) -> None:
    late = register(services)
    settings = Settings(**{**vars(store_settings), "deadline_check_seconds": 1})
    supervisors = [
        ProjectionSupervisor(
            complaints_database,
            [ComplaintsReadModel],
            background_jobs(settings, services, complaints_database),
        )
        for _ in range(2)  # two service processes' worth: one leads the worker, both watch
    ]
    for supervisor in supervisors:
        supervisor.start()
    try:
        deadline = datetime.now(timezone.utc) + timedelta(seconds=30)
        while not breaches_of(services, late) and datetime.now(timezone.utc) < deadline:
            threading.Event().wait(0.2)
        # Both watchers keep ticking for a few more rounds: still exactly one flag.
        threading.Event().wait(2.5)
    finally:
        for supervisor in supervisors:
            supervisor.stop()
    assert len(breaches_of(services, late)) == 1


def test_a_flag_disproved_by_a_back_dated_entry_never_hides_a_later_real_breach(
    services: PatientServices, complaints_database: ReadDatabase
) -> None:
    """The review's case: the watcher flags the acknowledgement on Friday; the letter had in
    fact gone on Thursday and is entered late. Months later the response deadline passes:
    the case still holds one flag, but for another deadline, so it must be flagged again."""
    clock = [datetime(2025, 1, 10, 12, tzinfo=timezone.utc)]  # Friday, after the ack deadline
    services.clock = lambda: clock[0]
    case_id = register(services, datetime(2025, 1, 6, 10, tzinfo=timezone.utc))  # Monday
    watcher = DeadlineWatcher(services, lambda now: breach_candidates(complaints_database, now))
    worker = ProjectionWorker(complaints_database, ComplaintsReadModel)
    with complaints_database.worker_connection() as conn:
        worker.catch_up(conn)
        assert watcher.check() == 1  # the acknowledgement, as far as anyone knew then
        thursday = datetime(2025, 1, 9, 12, tzinfo=timezone.utc)
        services.execute(
            AcknowledgeComplaint(method="letter", occurred_at=thursday), MANAGER, target=case_id
        )
        worker.catch_up(conn)
        case = services.get_aggregate(case_id, ComplaintCase)
        assert case.breached_deadlines(clock[0]) == []
        assert breach_candidates(complaints_database, clock[0]) == []

        clock[0] = datetime(2025, 7, 10, 12, tzinfo=timezone.utc)  # the 6 months have passed
        assert breach_candidates(complaints_database, clock[0]) == [case_id]
        assert watcher.check() == 1
        worker.catch_up(conn)
        assert breach_candidates(complaints_database, clock[0]) == []
    assert [(b.deadline, b.due_at) for b in breaches_of(services, case_id)] == [
        ("acknowledgement", case.acknowledgement_due_at),
        ("response", case.response_due_at),
    ]
