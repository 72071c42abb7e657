"""The complaints read model on real PostgreSQL and SQLite: a redelivered record changes
nothing, a rebuild from zero equals the view built incrementally (random command sequences
through ``PatientServices.execute``, small batches that split cases), the view agrees with
the domain, and the worklist, SLA, themes and breach-candidate queries answer from it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.readmodels import tracking as tr
from adapters.readmodels.complaints.store import (
    ComplaintsReadModel,
    breach_candidates,
    sla_by_month,
    themes,
    worklist,
)
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.worker import ProjectionWorker
from application.complaints import commands as cc
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from domain.complaints.case import ComplaintCase
from domain.shared.errors import DomainError
from projections.complaints.worklist import CASE_COLUMNS
from projections.shared.records import to_micros
from tests.support.projections import lead

NAME = "complaints"
PREFIX = tr.table_prefix(NAME, 1)
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
CHECKLIST = cc.ResponseChecklist(
    how_considered="reviewed", conclusions="partly upheld", remedial_action="training",
    confirmation=True, ombudsman_rights=True, signed_by="chief executive",
)  # fmt: skip


pytestmark = pytest.mark.read_models([ComplaintsReadModel])


# ---- helpers --------------------------------------------------------------------------------
def run(services: PatientServices, command: Command, target: UUID | None = None) -> UUID:
    """Run a command as a role allowed to (an executive approves, so approver ≠ drafter)."""
    role = "executive" if isinstance(command, cc.ApproveResponse) else sorted(command.roles)[0]
    role = "manager" if role == "clerk" else role
    context = RequestContext(actor_id=f"{role}-1", actor_role=role, correlation_id="t")
    return services.execute(command, context, target=target).id


def catch_up(database: ReadDatabase, batch_size: int = 3, generation: int | None = None) -> None:
    worker = ProjectionWorker(
        database, ComplaintsReadModel, batch_size=batch_size, generation=generation
    )
    with database.worker_connection() as conn:
        lead(conn, worker.lock_name)
        worker.catch_up(conn)


def dump(database: ReadDatabase, generation: int = 1) -> list[tuple[Any, ...]]:
    prefix = tr.table_prefix(NAME, generation)
    with database.read() as tx:
        return [tuple(r) for r in tx.execute(f"SELECT * FROM {prefix}cases ORDER BY id")]


def all_records(database: ReadDatabase) -> list[Any]:
    with database.worker_connection() as conn, conn.transaction() as tx:
        return conn.records_after(tx, 0, 1_000_000)


def register(services: PatientServices, received_at: datetime, **changes: Any) -> UUID:
    fields: dict[str, Any] = {
        "channel": "email", "received_at": received_at, "complainant_ref": "cmp-1",
        "categories": ["communication"], "summary": "SECRET narrative",
        "policy": "nhs-england-2009", "service_unit": "ED", **changes,
    }  # fmt: skip
    return run(services, cc.RegisterComplaint(**fields))


def answered_case(
    services: PatientServices, received_at: datetime, checklist: cc.ResponseChecklist = CHECKLIST
) -> UUID:
    """Received, acknowledged, investigated, answered in time and closed."""
    case = register(services, received_at)
    at = received_at
    for command in (
        cc.GradeRisk(consequence=2, likelihood=3), cc.AcknowledgeComplaint(method="letter"),
        cc.AssignInvestigator(investigator_ref="inv-1"), cc.StartInvestigation(),
        cc.RecordFindings(steps_taken="SECRET steps", conclusions="c", upheld="partly"),
        cc.DraftResponse(document_ref="doc-1"), cc.ApproveResponse(),
        cc.SendFinalResponse(channel="letter", checklist=checklist),
        cc.CloseCase(resolution="SECRET resolution"),
    ):  # fmt: skip
        at += timedelta(hours=1)
        run(services, command.__class__(**{**_fields(command), "occurred_at": at}), case)
    return case


def _fields(command: Command) -> dict[str, Any]:
    return {name: getattr(command, name) for name in command.__struct_fields__}


# ---- redelivery and rebuild -------------------------------------------------------------------
def test_a_redelivered_batch_changes_nothing(
    services: PatientServices, database: ReadDatabase
) -> None:
    now = datetime.now(UTC)
    answered_case(services, now - timedelta(days=3))
    register(services, now - timedelta(days=1))
    catch_up(database)
    view = dump(database)
    records = [r for r in all_records(database) if ComplaintsReadModel().wants(r.topic)]

    with database.worker_connection() as conn, conn.transaction() as tx:
        ComplaintsReadModel().apply(tx, PREFIX, records, conn)
        ComplaintsReadModel().apply(tx, PREFIX, records[len(records) // 2 :], conn)

    assert dump(database) == view
    assert len(view) == 2
    assert "SECRET" not in repr(view)


#: What a case in each state may plausibly be told next (the domain still refuses some).
NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("register",),
    "received": ("acknowledge", "entered_late", "grade", "classify", "withdraw", "flag"),
    "acknowledged": ("start", "assign", "interim", "extend", "flag"),
    "under_investigation": ("findings", "request", "draft", "refer"),
    "awaiting_information": ("receive", "extend"),
    "response_drafted": ("approve", "send", "grade"),
    "response_sent": ("close", "refer"),
    "closed": ("reopen", "register", "outcome"),
    "withdrawn": ("register",),
}


def command_for(action: str, at: datetime, n: int, case: ComplaintCase | None) -> Command:
    def flag() -> Command:
        breached = case.breached_deadlines(at) if case is not None else []
        due = breached[0] if breached else {"deadline": "response", "due_at": at}
        return cc.FlagSlaBreach(deadline=due["deadline"], due_at=due["due_at"], occurred_at=at)

    commands: dict[str, Any] = {
        "register": lambda: cc.RegisterComplaint(
            channel="portal", received_at=at, complainant_ref=f"cmp-{n}",
            categories=["waiting", "communication"][: 1 + n % 2], summary="SECRET",
            policy=("us-cms", "nhs-england-2009")[n % 2], service_unit=("ED", "OPD")[n % 2],
        ),
        "acknowledge": lambda: cc.AcknowledgeComplaint(method="letter", occurred_at=at),
        # Sent two days ago, entered now: may disprove a breach flagged meanwhile.
        "entered_late": lambda: cc.AcknowledgeComplaint(
            method="phone", occurred_at=at - timedelta(hours=48)
        ),
        "grade": lambda: cc.GradeRisk(consequence=1 + n % 5, likelihood=3, occurred_at=at),
        "classify": lambda: cc.ClassifyComplaint(kind="complaint", primary_category="billing",
                                                 occurred_at=at),
        "withdraw": lambda: cc.WithdrawComplaint(reason="settled", occurred_at=at),
        "flag": flag,
        "start": lambda: cc.StartInvestigation(occurred_at=at),
        "assign": lambda: cc.AssignInvestigator(investigator_ref=f"inv-{n % 2}", occurred_at=at),
        "interim": lambda: cc.SendInterimResponse(promised_by=at + timedelta(days=9),
                                                  occurred_at=at),
        "extend": lambda: cc.ExtendResponseDeadline(
            new_due_at=at + timedelta(days=200), complainant_agreed_at=at, occurred_at=at
        ),
        "findings": lambda: cc.RecordFindings(steps_taken="SECRET", conclusions="c",
                                              upheld=("yes", "no")[n % 2], occurred_at=at),
        "request": lambda: cc.RequestInformation(occurred_at=at),
        "receive": lambda: cc.ReceiveInformation(occurred_at=at),
        "draft": lambda: cc.DraftResponse(document_ref="d", occurred_at=at),
        "approve": lambda: cc.ApproveResponse(occurred_at=at),
        "send": lambda: cc.SendFinalResponse(channel="letter", checklist=CHECKLIST,
                                             occurred_at=at),
        "close": lambda: cc.CloseCase(resolution="SECRET", occurred_at=at),
        "reopen": lambda: cc.ReopenCase(reason="new evidence", occurred_at=at),
        "refer": lambda: cc.ReferExternally(body="PHSO", reference=f"P-{n}", occurred_at=at),
        "outcome": lambda: cc.RecordExternalOutcome(outcome="not upheld", occurred_at=at),
    }  # fmt: skip
    return commands[action]()


_generations = itertools.count(2)


@settings(
    # Bounded: every example runs up to 20 commands against a real database.
    max_examples=min(settings.default.max_examples, 20),
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
    # Received in the past (at most a few days' steps ahead of now), so deadlines pass.
    clock = datetime.now(UTC) - timedelta(days=40)
    cases: list[UUID | None] = [None, None]
    worker = ProjectionWorker(database, ComplaintsReadModel, batch_size=2)
    with database.worker_connection() as conn:
        lead(conn, worker.lock_name)
        for n in range(steps):
            slot = data.draw(st.integers(0, 1), label="case")
            case = services.get_aggregate(cases[slot], ComplaintCase) if cases[slot] else None
            action = data.draw(st.sampled_from(NEXT[case.status if case else None]), label="do")
            clock += timedelta(hours=data.draw(st.integers(1, 48), label="hours"))
            command = command_for(action, clock, n, case)
            try:
                cases[slot] = run(services, command, None if command.creates else cases[slot])
            except DomainError:
                pass  # refused in this state: recorded as an attempt, not a case event
            for _ in range(data.draw(st.integers(0, 2), label="batches")):
                worker.step(conn)
        worker.catch_up(conn)

    generation = next(_generations)
    catch_up(database, batch_size=rebuild_batch, generation=generation)
    try:
        assert dump(database, generation) == dump(database, 1)
    finally:
        with database.worker_connection() as conn, conn.transaction() as tx:
            ComplaintsReadModel().drop_tables(tx, tr.table_prefix(NAME, generation))
            tr.forget_generation(tx, NAME, generation)
    rows = {row[0]: dict(zip(CASE_COLUMNS, row, strict=False)) for row in dump(database)}
    for case_id in filter(None, cases):
        case = services.get_aggregate(case_id, ComplaintCase)
        row = rows[str(case_id)]
        assert (row["version"], row["status"], row["breaches"]) == (
            case.version, case.status, len(case.breaches),
        )  # fmt: skip
        assert row["response_due_at"] == to_micros(case.response_due_at)
    # The watcher's candidates are exactly the cases with a breach left to flag.
    for later in (clock, clock + timedelta(days=3), clock + timedelta(days=400)):
        with database.read() as tx:
            candidates = breach_candidates(tx, PREFIX, later)
        for case_id in filter(None, cases):
            case = services.get_aggregate(case_id, ComplaintCase)
            assert (str(case_id) in candidates) == bool(case.breached_deadlines(later))
    assert "SECRET" not in repr(rows)


# ---- the queries ------------------------------------------------------------------------------
def test_the_worklist_filters_and_pages_open_cases_soonest_due_first(
    services: PatientServices, database: ReadDatabase
) -> None:
    now = datetime.now(UTC)
    overdue = register(services, now - timedelta(days=20))  # acknowledgement long overdue
    recent = register(services, now - timedelta(hours=1))
    assigned = register(services, now - timedelta(hours=2))
    run(services, cc.AcknowledgeComplaint(method="letter"), assigned)
    run(services, cc.AssignInvestigator(investigator_ref="inv-7"), assigned)
    answered_case(services, now - timedelta(days=2))  # closed: not on the worklist
    catch_up(database)

    with database.read() as tx:
        everything = worklist(tx, PREFIX, now=now, zone=LONDON)
        late = worklist(tx, PREFIX, now=now, overdue=True)
        in_time = worklist(tx, PREFIX, now=now, overdue=False)
        mine = worklist(tx, PREFIX, now=now, assignee="inv-7")
        received = worklist(tx, PREFIX, now=now, status="received")
        first = worklist(tx, PREFIX, now=now, limit=2)
        assert first.next_cursor is not None
        rest = worklist(tx, PREFIX, now=now, limit=2, cursor=first.next_cursor)

    ids = [item.id for item in everything.items]
    assert ids == [str(overdue), str(recent), str(assigned)]  # ack due, ack due, 6 months
    assert [i.id for i in late.items] == [str(overdue)]
    assert late.items[0].rag == "red" and late.items[0].days_to_due < 0
    assert [i.id for i in in_time.items] == [str(recent), str(assigned)]
    assert [i.id for i in mine.items] == [str(assigned)]
    assert mine.items[0].next_deadline == "response"
    assert [i.id for i in received.items] == [str(overdue), str(recent)]
    assert [i.id for i in first.items + rest.items] == ids and rest.next_cursor is None


def test_sla_themes_and_breach_candidates_answer_from_the_view(
    services: PatientServices, database: ReadDatabase
) -> None:
    march = datetime(2026, 3, 2, 10, tzinfo=UTC)
    answered_case(services, march)
    unanswered = register(services, march + timedelta(days=1), categories=["waiting"])
    catch_up(database)
    now = datetime(2026, 4, 15, tzinfo=UTC)
    start, end = datetime(2026, 3, 1, tzinfo=LONDON), datetime(2026, 4, 1, tzinfo=LONDON)

    with database.read() as tx:
        (month,) = sla_by_month(tx, PREFIX, start, end, now=now, zone=LONDON)
        by_theme = {(t.category, t.month): t for t in themes(tx, PREFIX, start, end)}
        candidates = breach_candidates(tx, PREFIX, now)

    assert (month.month, month.received) == ("2026-03", 2)
    assert (month.acknowledged.on_time, month.acknowledged.late) == (1, 1)
    assert month.acknowledged.percent_on_time == 50.0
    assert (month.responded.on_time, month.responded.pending) == (1, 1)
    assert by_theme[("communication", "2026-03")].upheld["partly"] == 1
    assert by_theme[("waiting", "2026-03")].grades["ungraded"] == 1
    assert candidates == [str(unanswered)]

    case = services.get_aggregate(unanswered, ComplaintCase)
    (breach,) = case.breached_deadlines(now)
    flag = cc.FlagSlaBreach(deadline=breach["deadline"], due_at=breach["due_at"])
    services.execute(flag, RequestContext("watcher", "system", "t"), target=unanswered)
    catch_up(database)
    with database.read() as tx:
        assert breach_candidates(tx, PREFIX, now) == []
