"""``patient-services seed`` on SQLite: a hospital day through the command path, with visits
in every lifecycle state, complaints at every stage (one overdue, one nearly due) and budget
lines with spend; a second run records nothing and says so."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.cli.help import EXIT_FAILED, EXIT_OK
from adapters.cli.seed_plan import SEED_ACTOR, SEED_APPROVER, Step, seed_day
from adapters.cli.seeding import identity_of
from adapters.composition import open_services
from adapters.settings import Settings
from application.budget.commands import CreateBudgetLine
from application.service import PatientServices
from application.shared.commands import Creation
from application.shared.context import RequestContext
from application.shared.policies import Policies
from domain.budget.line import BudgetLine
from domain.complaints import vocabulary as complaint_words
from domain.complaints.case import ComplaintCase
from domain.visits import vocabulary as visit_words
from domain.visits.identity import visit_id_for
from domain.visits.visit import PatientVisit

ACTIVE = ("arrived", "triaged", "with_clinician", "admitted")


@pytest.fixture(autouse=True)
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adapters.logging.configure_logging", lambda settings: None)
    for name in ("DATABASE_URL", "JWT_SECRET", "PRIVACY_KEK", "POSTGRES_SCHEMA", "TZ"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))


@contextmanager
def opened() -> Iterator[PatientServices]:
    services = open_services(Settings.from_env(os.environ))
    try:
        yield services
    finally:
        services.close()


def last_position(services: PatientServices) -> int:
    return services.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


def creations() -> list[Step]:
    """The plan's creating steps (its subjects); their ids do not depend on the time."""
    plan = seed_day(datetime.now(timezone.utc), Policies())
    return [step for step in plan.steps if isinstance(step.command, Creation)]


def seeded(services: PatientServices, kind: str) -> dict[str, Any]:
    """The seeded aggregates of ``kind``, by subject: found through the id each creation's
    idempotency record answers with (as a second run finds them)."""
    found = {}
    for step in creations():
        if step.subject.startswith(f"{kind}:"):
            record: Any = services.repository.get(identity_of(step, None).command_id)
            found[step.subject] = services.repository.get(record.aggregate_id)
    return found


def test_seed_records_a_live_day_and_a_second_run_records_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["seed"]) == EXIT_OK
    finished = datetime.now(timezone.utc)
    first = capsys.readouterr()
    total = len(seed_day(finished, Policies()).steps)
    assert "seed: recorded 29 visits, 14 complaints and 5 budget lines" in first.out
    assert f"seed: {total}/{total} commands" in first.err  # the progress, as plain lines

    with opened() as services:
        recorded = last_position(services)
        visits: dict[str, PatientVisit] = seeded(services, "visit")
        cases: dict[str, ComplaintCase] = seeded(services, "complaint")
        lines: dict[str, BudgetLine] = seeded(services, "budget")
        events = {
            subject: list(services.events.get(aggregate.id))
            for subject, aggregate in {**visits, **cases, **lines}.items()
        }

    # A seeded visit's id is the one its visit number (under authority SEED) gives.
    assert visits["visit:ED-05"].id == visit_id_for("ED-05", "SEED")
    # Every state of both lifecycles.
    assert {visit.status for visit in visits.values()} == set(visit_words.STATES)
    assert {case.status for case in cases.values()} == set(complaint_words.STATES)
    # Several units on the board: where each active visit is now.
    units = {v.current_location["unit"] for v in visits.values() if v.current_location}
    assert {"ED", "AMU", "SURG-7", "OPD"} <= units

    # The board's every colour: waits past 4 and 12 hours, boarders past both.
    def waited(visit: PatientVisit) -> timedelta:
        assert visit.arrival_at is not None
        return finished - visit.arrival_at

    active = [v for v in visits.values() if v.status in ACTIVE]
    assert any(timedelta(hours=4) < waited(v) < timedelta(hours=12) for v in active)
    assert any(waited(v) > timedelta(hours=12) for v in active)
    boarding = [
        finished - v.decision_to_admit_at
        for v in active
        if v.decision_to_admit_at is not None and v.admitted_at is None
    ]
    assert any(b < timedelta(hours=4) for b in boarding)
    assert any(b > timedelta(hours=12) for b in boarding)
    assert len({v.acuity_level for v in visits.values() if v.acuity_level}) == 5

    # An overdue complaint, and one due within two days.
    due = [d["due_at"] for case in cases.values() for d in case.running_deadlines]
    assert any(at < finished for at in due)
    assert any(finished < at <= finished + timedelta(days=2) for at in due)

    # Budget vs actual has content: every line spent, orders, requisitions, an overspend.
    assert all(line.status == "active" and line.actual_minor > 0 for line in lines.values())
    assert any(line.committed_minor > 0 for line in lines.values())
    assert any(line.pre_encumbered_minor > 0 for line in lines.values())
    assert any(line.available_minor < 0 for line in lines.values())

    # Each record's facts happened in order, in the past, and say the seed recorded them.
    for subject, stored in events.items():
        times = [e.occurred_at for e in stored]
        assert times == sorted(times), subject
        assert times[-1] <= finished, subject
        assert {e.actor_id for e in stored} <= {SEED_ACTOR, SEED_APPROVER}, subject

    assert main(["seed"]) == EXIT_OK
    second = capsys.readouterr()
    assert f"seed: already seeded: {total} commands skipped, nothing recorded" in second.out
    with opened() as services:
        assert recorded > 0 and last_position(services) == recorded


def test_a_step_the_store_refuses_stops_the_seed_with_its_name_and_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    finance = RequestContext(actor_id="someone", actor_role="finance", correlation_id="c-1")
    line = next(step for step in creations() if step.subject == "budget:CC-ED/staffing")
    with opened() as services:
        # The same line created by hand before: its id is derived from its natural key.
        assert isinstance(line.command, CreateBudgetLine)
        services.execute(line.command, finance)

    assert main(["seed"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "seed: step budget:CC-ED/staffing/CreateBudgetLine was refused: ALREADY_EXISTS" in err
