"""The budget-vs-actual read model on real PostgreSQL and SQLite: a hand-computed example to
the cent, a redelivered batch changes nothing, a rebuild from zero equals the view built
incrementally (batches of 3, commands and catch-ups interleaved), and the view agrees with
the lines themselves."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from adapters.readmodels import tracking as tr
from adapters.readmodels.budget.store import BudgetReadModel, lines_of, summary
from adapters.readmodels.database import ReadDatabase, WorkerConnection
from adapters.readmodels.worker import ProjectionWorker
from application.budget import commands as bc
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from domain.budget.line import BudgetLine
from domain.shared.errors import DomainError

FY = 2024  # in the past whatever today is: occurredAt may not be in the future
PREFIX = tr.table_prefix("budget", 1)
FINANCE = RequestContext(actor_id="finance-1", actor_role="finance", correlation_id="t")
MANAGER = RequestContext(actor_id="manager-1", actor_role="manager", correlation_id="t")
D = Decimal


pytestmark = pytest.mark.read_models([BudgetReadModel])


def noon(month: int, day: int) -> datetime:
    """Noon UTC on a day of fiscal year 2024 (April 2024 to March 2025)."""
    return datetime(FY + (month < 4), month, day, 12, 0, tzinfo=timezone.utc)


def gbp(amount: str) -> bc.MoneyAmount:
    return bc.MoneyAmount(amount=amount, currency="GBP")


def run(
    app: PatientServices,
    command: Command,
    target: UUID | None = None,
    ctx: RequestContext = FINANCE,
) -> UUID:
    return app.execute(command, ctx, target=target).id


def new_line(app: PatientServices, cost_centre: str, category: str, budget: str) -> UUID:
    line = run(app, bc.CreateBudgetLine(fiscal_year=FY, cost_centre=cost_centre,
                                        category=category, currency="GBP",
                                        occurred_at=noon(3, 1)))  # fmt: skip
    run(app, bc.ApproveBudget(amount=gbp(budget), approval_ref="FIN-1", occurred_at=noon(4, 1)),
        line)  # fmt: skip
    return line


def lead(conn: WorkerConnection, lock_name: str) -> None:
    deadline = time.monotonic() + 10
    while not conn.try_lead(lock_name):
        assert time.monotonic() < deadline, f"{lock_name} is still led by another worker"
        time.sleep(0.02)


def catch_up(database: ReadDatabase, generation: int | None = None, batch_size: int = 3) -> None:
    worker = ProjectionWorker(database, BudgetReadModel, batch_size=batch_size,
                              generation=generation)  # fmt: skip
    with database.worker_connection() as conn:
        lead(conn, worker.lock_name)
        worker.catch_up(conn)


def dump(database: ReadDatabase, generation: int = 1) -> dict[str, list[tuple[Any, ...]]]:
    prefix = tr.table_prefix("budget", generation)
    with database.read() as tx:
        return {
            "lines": [tuple(r) for r in tx.execute(f"SELECT * FROM {prefix}lines ORDER BY id")],
            "periods": [
                tuple(r)
                for r in tx.execute(f"SELECT * FROM {prefix}periods ORDER BY line_id, period")
            ],
        }


# ---- the hand-computed example -----------------------------------------------------------------
def hand_computed_story(app: PatientServices) -> dict[str, UUID]:
    a = new_line(app, "CC-100", "supplies", "12000.00")  # 1,000.00 a period
    b = new_line(app, "CC-100", "staffing", "60000.00")  # 5,000.00 a period
    c = new_line(app, "CC-200", "training", "1000.00")  # 83.34 × 4, then 83.33 × 8
    for command, line, ctx in (
        (bc.RecordPreEncumbrance(reference="REQ-1", amount=gbp("500"), occurred_at=noon(5, 10)),
         a, MANAGER),  # P2
        (bc.RecordCommitment(reference="PO-1", amount=gbp("2000"), relieves_reference="REQ-1",
                             occurred_at=noon(6, 5)), a, FINANCE),  # P3: relieves all 500
        (bc.RecordActual(reference="INV-1", amount=gbp("1200.50"), relieves_reference="PO-1",
                         occurred_at=noon(7, 20)), a, FINANCE),  # P4: relieves 1,200.50
        (bc.UpdateForecast(estimate_to_complete=gbp("9800"), method="manual",
                           occurred_at=noon(7, 21)), a, MANAGER),
        (bc.RecordActual(reference="PAY-04", amount=gbp("5100"), occurred_at=noon(4, 30)),
         b, FINANCE),  # P1
        (bc.RecordActual(reference="PAY-05", amount=gbp("5100"), occurred_at=noon(5, 31)),
         b, FINANCE),  # P2
        (bc.UpdateForecast(estimate_to_complete=gbp("50400"), method="run_rate",
                           occurred_at=noon(6, 1)), b, MANAGER),
        (bc.AmendBudget(amount=gbp("200"), approval_ref="CHG-1", occurred_at=noon(10, 1)),
         c, MANAGER),  # phased over P7..P12: 33.34 × 2, 33.33 × 4
        (bc.RecordCommitment(reference="PO-7", amount=gbp("1150"), occurred_at=noon(8, 15)),
         c, FINANCE),  # P5, entered after the amendment
    ):  # fmt: skip
        run(app, command, line, ctx)
    return {"a": a, "b": b, "c": c}


def test_the_summary_matches_a_hand_computed_example_to_the_cent(
    services: PatientServices, database: ReadDatabase
) -> None:
    ids = hand_computed_story(services)
    catch_up(database)
    with database.read() as tx:
        view = summary(tx, PREFIX, FY, as_of_period=4)
    assert view.as_of_period == 4 and view.fiscal_year == FY
    lines = {(s.cost_centre, s.category): s for s in view.lines}
    a, b, c = lines["CC-100", "supplies"], lines["CC-100", "staffing"], lines["CC-200", "training"]
    assert a.line_id == str(ids["a"])

    def figures(s: Any) -> tuple[Any, ...]:
        amounts = (s.budget, s.phased_ytd, s.pre_encumbered, s.committed, s.actual, s.available,
                   s.estimate_to_complete, s.forecast, s.variance)  # fmt: skip
        assert {a.currency for a in amounts} == {s.currency} == {"GBP"}
        return (*(a.amount for a in amounts), s.variance_pct, (s.rag, s.underspend_rag))

    # A: committed 2,000 − 1,200.50 = 799.50; available 12,000 − 799.50 − 1,200.50 = 10,000;
    # forecast 1,200.50 + 799.50 + 9,800 = 11,800; variance 200 = 1.67 %: green, green.
    assert figures(a) == (D("12000.00"), D("4000.00"), D("0.00"), D("799.50"), D("1200.50"),
                          D("10000.00"), D("9800.00"), D("11800.00"), D("200.00"), D("1.67"),
                          ("green", "green"))  # fmt: skip
    # B: forecast 10,200 + 50,400 = 60,600 > 60,000: an overspend, red at −1.00 %; no underspend.
    assert figures(b) == (D("60000.00"), D("20000.00"), D("0.00"), D("0.00"), D("10200.00"),
                          D("49800.00"), D("50400.00"), D("60600.00"), D("-600.00"), D("-1.00"),
                          ("red", "green"))  # fmt: skip
    # C: 1,200 budget, 333.36 phased to July; forecast 1,150; variance 50 = 4.17 % under: no
    # overspend risk (green), an amber underspend.
    assert figures(c) == (D("1200.00"), D("333.36"), D("0.00"), D("1150.00"), D("0.00"),
                          D("50.00"), D("0.00"), D("1150.00"), D("50.00"), D("4.17"),
                          ("green", "amber"))  # fmt: skip
    # Per period: A's movements, and C's phasing after the amendment.
    assert [
        (p.period, p.pre_encumbered.amount, p.committed.amount, p.actual.amount)
        for p in a.periods[:4]
    ] == [
        (1, 0, 0, 0), (2, D("500.00"), 0, 0), (3, D("-500.00"), D("2000.00"), 0),
        (4, 0, D("-1200.50"), D("1200.50")),
    ]  # fmt: skip
    assert [p.budget.amount for p in c.periods] == [D("83.34")] * 4 + [D("83.33")] * 2 + [
        D("116.67"), D("116.67"), D("116.66"), D("116.66"), D("116.66"), D("116.66")
    ]  # fmt: skip
    assert c.periods[-1].phased_ytd.amount == D("1200.00")
    assert a.periods[3].actual_ytd.amount == D("1200.50")
    assert (
        str(b.periods[0].starts_on) == "2024-04-01" and str(b.periods[9].starts_on) == "2025-01-01"
    )
    # Rolled up per cost centre: CC-100 forecasts 72,400 against 72,000, so red.
    centres = {s.cost_centre: s for s in view.cost_centres}
    assert figures(centres["CC-100"]) == (
        D("72000.00"), D("24000.00"), D("0.00"), D("799.50"), D("11400.50"), D("59800.00"),
        D("60200.00"), D("72400.00"), D("-400.00"), D("-0.56"), ("red", "green"),
    )  # fmt: skip
    assert (centres["CC-100"].lines, centres["CC-200"].lines) == (2, 1)
    assert figures(centres["CC-200"]) == figures(c)


def test_the_summary_filters_by_cost_centre_and_defaults_to_todays_period(
    services: PatientServices, database: ReadDatabase
) -> None:
    hand_computed_story(services)
    catch_up(database)
    with database.read() as tx:
        one = summary(tx, PREFIX, FY, "CC-200", today=noon(9, 30).date())  # period 6
        before = summary(tx, PREFIX, FY, "CC-200", today=noon(3, 1).date().replace(year=FY))
        other_year = summary(tx, PREFIX, FY + 1, today=noon(9, 30).date())
    assert [s.cost_centre for s in one.lines] == ["CC-200"] and one.as_of_period == 6
    assert one.lines[0].phased_ytd.amount == D("500.02")  # 83.34 × 4 + 83.33 × 2
    assert (before.as_of_period, before.lines[0].phased_ytd.amount) == (0, D("0.00"))
    assert other_year.lines == [] and other_year.cost_centres == []


# ---- redelivery, rebuild, agreement ------------------------------------------------------
def varied_story(app: PatientServices) -> list[UUID]:
    """Transfers, releases, refusals, a freeze and a close among catch-ups."""
    a = new_line(app, "CC-1", "supplies", "5000")
    b = new_line(app, "CC-1", "equipment", "800")
    c = new_line(app, "CC-2", "other", "0")
    steps: list[tuple[Command, UUID | None]] = [
        (bc.RecordPreEncumbrance(reference="R-1", amount=gbp("300"), occurred_at=noon(4, 9)), a),
        (bc.TransferBudget(from_line_id=a, to_line_id=c, amount=gbp("1000.01"),
                           reason="re-plan", occurred_at=noon(6, 2)), None),
        (bc.RecordCommitment(reference="P-1", amount=gbp("900"), relieves_reference="R-1",
                             occurred_at=noon(6, 3)), b),  # refused: R-1 is a's
        (bc.RecordCommitment(reference="P-1", amount=gbp("900"), relieves_reference="R-1",
                             occurred_at=noon(6, 3)), a),
        (bc.RecordActual(reference="I-1", amount=gbp("950"), relieves_reference="P-1",
                         occurred_at=noon(7, 3)), a),
        (bc.RecordActual(reference="I-2", amount=gbp("900"), occurred_at=noon(7, 4)), b),
        (bc.ReleaseCommitment(reference="P-1", occurred_at=noon(8, 1)), a),  # refused: none open
        (bc.RecordCommitment(reference="P-2", amount=gbp("99.99"), occurred_at=noon(9, 1)), c),
        (bc.ReleaseCommitment(reference="P-2", amount=gbp("49.99"), occurred_at=noon(9, 2)), c),
        (bc.ReleaseCommitment(reference="P-2", amount=gbp("20"), release_reference="RL-1",
                              occurred_at=noon(9, 3)), c),
        (bc.ReleaseCommitment(reference="P-2", amount=gbp("20"), release_reference="RL-1",
                              occurred_at=noon(9, 4)), c),  # a repeat: nothing recorded
        (bc.FreezeLine(occurred_at=noon(10, 1)), c),
        (bc.ReversePosting(stage="commitment", reference="P-2", reason="duplicate PO",
                           occurred_at=noon(11, 1)), c),  # the 30 still open, frozen or not
        (bc.ReversePosting(stage="actual", reference="I-1", reason="keyed twice",
                           occurred_at=noon(7, 5)), a),
        (bc.ReversePosting(stage="actual", reference="I-1", reason="again",
                           occurred_at=noon(7, 6)), a),  # refused: already cancelled
        (bc.CloseLine(occurred_at=noon(3, 31)), b),
        (bc.RecordActual(reference="ACCR-1", amount=gbp("12.34"), occurred_at=noon(3, 31)), b),
        (bc.ReversePosting(stage="actual", reference="I-2", reason="wrong line",
                           occurred_at=noon(3, 31)), b),  # a year-end adjustment
    ]  # fmt: skip
    for command, target in steps:
        try:
            run(app, command, target)
        except DomainError:
            pass  # refusals record an attempt, which the view skips
    return [a, b, c]


def test_a_redelivered_batch_changes_nothing(
    services: PatientServices, database: ReadDatabase
) -> None:
    varied_story(services)
    catch_up(database)
    view = dump(database)
    with database.worker_connection() as conn, conn.transaction() as tx:
        model = BudgetReadModel()
        records = [r for r in conn.records_after(tx, 0, 10_000) if model.wants(r.topic)]
        model.apply(tx, PREFIX, records, conn)
        model.apply(tx, PREFIX, records[len(records) // 2 :], conn)
    assert dump(database) == view
    assert len(view["lines"]) == 3 and len(view["periods"]) == 36


def test_a_rebuild_from_zero_equals_the_view_built_incrementally(
    services: PatientServices, database: ReadDatabase
) -> None:
    ids = varied_story(services)
    catch_up(database)  # part way: the rest arrives in later batches
    hand_computed_story(services)
    catch_up(database)
    catch_up(database, generation=2, batch_size=7)
    assert dump(database, 2) == dump(database, 1)
    # The view agrees with the lines themselves.
    with database.read() as tx:
        viewed = {state.id: state for state in lines_of(tx, PREFIX, FY)}
    for line_id in ids:
        line = services.get_aggregate(line_id, BudgetLine)
        state = viewed[str(line_id)]
        assert (state.version, state.status, state.frozen) == (line.version, line.status,
                                                               line.frozen)  # fmt: skip
        assert (state.budget_minor, state.pre_minor, state.committed_minor, state.actual_minor,
                state.etc_minor) == (line.current_budget_minor, line.pre_encumbered_minor,
                                     line.committed_minor, line.actual_minor,
                                     line.estimate_to_complete_minor)  # fmt: skip
        assert [p[0] for p in state.periods] == line.phasing_minor
        assert sum(p[3] for p in state.periods) == line.actual_minor
        assert sum(p[2] for p in state.periods) == line.committed_minor
    a, b, c = (services.get_aggregate(i, BudgetLine) for i in ids)
    # The reversals and the named release counted once each (the repeats recorded nothing).
    assert (a.actual_minor, b.actual_minor, c.committed_minor) == (0, 1234, 0)
