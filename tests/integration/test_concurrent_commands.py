"""Two commands racing on one visit, on real PostgreSQL and SQLite.

A barrier holds both commands after they have loaded the visit and decided, and
releases them into ``save()`` together, so the race is real every run, not by luck.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import DomainError, PreconditionFailedError
from application.shared.idempotency import CommandIdentity
from application.visits.commands import (
    CorrectVisitDetails,
    RecordTriage,
    RegisterArrival,
    ScheduleVisit,
    VisitDetailChanges,
)
from domain.shared.errors import InvalidTransitionError

CLERK = RequestContext(actor_id="clerk-1", actor_role="clerk", correlation_id="race")
NURSE = RequestContext(actor_id="nurse-1", actor_role="nurse", correlation_id="race")


class RacingServices(PatientServices):
    """The first save of each of two commands waits at a barrier, so they collide."""

    name = PatientServices.name  # eventsourcing names a subclass after itself: keep the tables
    racing = False
    barrier = threading.Barrier(2, timeout=10)

    def save(self, *objs, **kwargs):  # type: ignore[no-untyped-def]
        if self.racing:
            self.barrier.wait()  # both commands have decided; release them together
            self.racing = False  # the loser's retry then runs alone
        return super().save(*objs, **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def racing_services(request: pytest.FixtureRequest) -> Iterator[RacingServices]:
    env = request.getfixturevalue(f"{request.param}_env")
    app = RacingServices(env=env)
    RacingServices.barrier = threading.Barrier(2, timeout=10)
    try:
        yield app
    finally:
        app.close()


def _scheduled_visit(app: PatientServices) -> UUID:
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    return app.execute(
        ScheduleVisit(
            patient_ref="P-race", visit_class="EMER", service_unit="ED", scheduled_start=start
        ),
        CLERK,
    ).id


def _race(app: RacingServices, *calls) -> list[object]:  # type: ignore[no-untyped-def]
    outcomes: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except DomainError as e:
            outcomes[i] = e

    app.racing = True
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    app.racing = False
    return outcomes


def test_two_arrivals_with_if_match_one_wins_the_other_gets_412(
    racing_services: RacingServices,
) -> None:
    visit_id = _scheduled_visit(racing_services)
    outcomes = _race(
        racing_services,
        lambda: racing_services.execute(
            RegisterArrival(), CLERK, target=visit_id, expected_version=1
        ),
        lambda: racing_services.execute(
            RegisterArrival(), CLERK, target=visit_id, expected_version=1
        ),
    )
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], PreconditionFailedError)
    events = racing_services.visit_events(visit_id)
    assert [type(e).__name__ for e in events] == ["VisitScheduled", "PatientArrived"]


def test_two_arrivals_without_if_match_the_loser_is_retried_and_refused_409(
    racing_services: RacingServices,
) -> None:
    visit_id = _scheduled_visit(racing_services)
    outcomes = _race(
        racing_services,
        lambda: racing_services.execute(RegisterArrival(), CLERK, target=visit_id),
        lambda: racing_services.execute(RegisterArrival(), CLERK, target=visit_id),
    )
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(losers) == 1
    # Retried on the fresh state, the second arrival is no longer allowed: 409, not half-applied.
    assert isinstance(losers[0], InvalidTransitionError) and losers[0].code == "INVALID_TRANSITION"
    assert [type(e).__name__ for e in racing_services.visit_events(visit_id)] == [
        "VisitScheduled",
        "PatientArrived",
    ]


def test_two_compatible_commands_without_if_match_both_land_in_order(
    racing_services: RacingServices,
) -> None:
    visit_id = _scheduled_visit(racing_services)
    racing_services.execute(RegisterArrival(), CLERK, target=visit_id)
    outcomes = _race(
        racing_services,
        lambda: racing_services.execute(
            RecordTriage(acuity_scale="ESI", acuity_level=2), NURSE, target=visit_id
        ),
        lambda: racing_services.execute(
            CorrectVisitDetails(changes=VisitDetailChanges(reason_code="R-2")),
            CLERK,
            target=visit_id,
        ),
    )
    # A triage and a correction commute: the loser's retry succeeds on the fresh state,
    # and neither overwrote the other.
    assert not [o for o in outcomes if isinstance(o, Exception)]
    names = [type(e).__name__ for e in racing_services.visit_events(visit_id)]
    assert names[:2] == ["VisitScheduled", "PatientArrived"]
    assert sorted(names[2:]) == ["PatientTriaged", "VisitDetailsCorrected"]
    visit = racing_services.get_visit(visit_id)
    assert (visit.status, visit.acuity_level, visit.reason_code) == ("triaged", 2, "R-2")
    versions = sorted(o.version for o in outcomes)  # type: ignore[attr-defined]
    assert versions == [3, 4]


def test_the_same_idempotency_key_racing_records_one_command(
    racing_services: RacingServices,
) -> None:
    visit_id = _scheduled_visit(racing_services)
    identity = CommandIdentity(scope="user:clerk-1", key="k-race", fingerprint="f")
    outcomes = _race(
        racing_services,
        lambda: racing_services.execute(
            RegisterArrival(), CLERK, target=visit_id, identity=identity
        ),
        lambda: racing_services.execute(
            RegisterArrival(), CLERK, target=visit_id, identity=identity
        ),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert sorted(o.replayed for o in outcomes) == [False, True]  # type: ignore[attr-defined]
    assert {o.position for o in outcomes} == {outcomes[0].position}  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in racing_services.visit_events(visit_id)] == [
        "VisitScheduled",
        "PatientArrived",
    ]


def test_a_replay_survives_a_restart(
    racing_services: RacingServices, request: pytest.FixtureRequest
) -> None:
    visit_id = _scheduled_visit(racing_services)
    identity = CommandIdentity(scope="user:clerk-1", key="k-restart", fingerprint="f")
    first = racing_services.execute(RegisterArrival(), CLERK, target=visit_id, identity=identity)
    racing_services.close()
    env = request.getfixturevalue(f"{request.node.callspec.params['racing_services']}_env")
    restarted = PatientServices(env=env)
    try:
        again = restarted.execute(RegisterArrival(), CLERK, target=visit_id, identity=identity)
    finally:
        restarted.close()
    assert (again.id, again.version, again.position, again.replayed) == (
        first.id,
        first.version,
        first.position,
        True,
    )
