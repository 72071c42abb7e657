"""Budget transfers on real SQLite and PostgreSQL: both lines in one transaction.

A trigger on the events table aborts the insert of the ``BudgetTransferredIn`` event, after
the source's ``BudgetTransferredOut`` row has been inserted in the same transaction: the
transfer fails and neither line has changed. Then transfers racing out of one line never take
it below zero.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import DatabaseError
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings
from adapters.storage import APPLICATION_NAME, eventsourcing_env
from application.budget import commands as bc
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import StoreRefusedWriteError, VersionConflictError
from domain.budget.line import BudgetLine
from domain.shared.errors import InsufficientFundsError

FINANCE = RequestContext(actor_id="finance-1", actor_role="finance", correlation_id="t")
TRANSFERRED_IN = f"{BudgetLine.BudgetTransferredIn.__module__}:BudgetLine.BudgetTransferredIn"


def money(amount: str) -> bc.MoneyAmount:
    return bc.MoneyAmount(amount=amount, currency="GBP")


def new_line(app: PatientServices, cost_centre: str, budget: str) -> UUID:
    create = bc.CreateBudgetLine(
        fiscal_year=2026, cost_centre=cost_centre, category="staffing", currency="GBP"
    )
    line_id = app.execute(create, FINANCE).id
    app.execute(bc.ApproveBudget(amount=money(budget), approval_ref="FIN-1"), FINANCE,
                target=line_id)  # fmt: skip
    return line_id


def transfer(source: UUID, target: UUID, amount: str) -> bc.TransferBudget:
    return bc.TransferBudget(
        from_line_id=source, to_line_id=target, amount=money(amount), reason="re-plan"
    )


def stored(settings: Settings, line_id: UUID) -> tuple[int, Decimal]:
    """The line's version and budget as stored, read by a fresh application (no cache)."""
    app = PatientServices(env=eventsourcing_env(settings))
    try:
        line = app.get_aggregate(line_id, BudgetLine)
        return line.version, line.current_budget
    finally:
        app.close()


@contextmanager
def failing_transfers_in(settings: Settings) -> Iterator[type[Exception]]:
    """While open, inserting a BudgetTransferredIn event aborts its transaction. Yields the
    error the command then fails with: on SQLite the library reports a trigger's abort as an
    IntegrityError, which is not a lost race (see test_store_refusals.py), so the application
    raises StoreRefusedWriteError at once; on PostgreSQL, the database error itself."""
    postgres = settings.postgres
    if postgres is None:
        with sqlite3.connect(settings.var_dir / f"{APPLICATION_NAME}.db") as db:
            db.execute(
                "CREATE TRIGGER refuse_transfer_in BEFORE INSERT ON stored_events"
                f" WHEN NEW.topic = '{TRANSFERRED_IN}'"
                " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
        yield StoreRefusedWriteError
        with sqlite3.connect(settings.var_dir / f"{APPLICATION_NAME}.db") as db:
            db.execute("DROP TRIGGER refuse_transfer_in")
        return
    table = Identifier(postgres.schema or "public", f"{APPLICATION_NAME}_events")
    function = Identifier(postgres.schema or "public", "refuse_transfer_in")
    connect = dict(host=postgres.host, port=postgres.port, dbname=postgres.dbname,
                   user=postgres.user, password=postgres.password)  # fmt: skip
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL(
            "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.topic = {} THEN RAISE EXCEPTION 'injected failure'; END IF;"
            " RETURN NEW; END $$"
        ).format(function, TRANSFERRED_IN))  # fmt: skip
        db.execute(SQL(
            "CREATE TRIGGER refuse_transfer_in BEFORE INSERT ON {} FOR EACH ROW"
            " EXECUTE FUNCTION {}()"
        ).format(table, function))  # fmt: skip
    yield DatabaseError
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL("DROP TRIGGER refuse_transfer_in ON {}").format(table))


def test_a_transfer_failing_between_its_two_halves_records_neither(
    services: PatientServices, store_settings: Settings
) -> None:
    source, target = new_line(services, "CC-1", "1000"), new_line(services, "CC-2", "100")
    head = services.recorder.max_notification_id()
    with failing_transfers_in(store_settings) as error, pytest.raises(error):
        services.execute(transfer(source, target, "400"), FINANCE)
    # Nothing of the transfer was stored: not the source's half, which was inserted first.
    assert services.recorder.max_notification_id() == head
    assert stored(store_settings, source) == (2, Decimal("1000.00"))
    assert stored(store_settings, target) == (2, Decimal("100.00"))
    # Without the trigger the same transfer goes through: it was the only obstacle.
    services.execute(transfer(source, target, "400"), FINANCE)
    assert stored(store_settings, source) == (3, Decimal("600.00"))
    assert stored(store_settings, target) == (3, Decimal("500.00"))


def test_concurrent_transfers_out_of_one_line_never_take_it_below_zero(
    services: PatientServices, store_settings: Settings
) -> None:
    threads_count, amount = 6, Decimal("300")
    source = new_line(services, "CC-SRC", "1000")
    targets = [new_line(services, f"CC-{n}", "0") for n in range(threads_count)]
    barrier = threading.Barrier(threads_count, timeout=30)
    outcomes: list[object] = [None] * threads_count

    def run(n: int) -> None:
        barrier.wait()
        try:
            outcomes[n] = services.execute(transfer(source, targets[n], str(amount)), FINANCE)
        except (InsufficientFundsError, VersionConflictError) as refused:
            outcomes[n] = refused

    threads = [threading.Thread(target=run, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    accepted = [n for n, o in enumerate(outcomes) if not isinstance(o, Exception)]
    assert all(o is not None for o in outcomes)
    assert 1 <= len(accepted) <= 3  # 3 × 300 fit in 1,000; a fourth never does
    line = PatientServices(env=eventsourcing_env(store_settings))
    try:
        after = line.get_aggregate(source, BudgetLine)
        received = [line.get_aggregate(t, BudgetLine).current_budget for t in targets]
    finally:
        line.close()
    assert after.available >= 0
    assert after.current_budget == Decimal("1000") - amount * len(accepted)
    assert received == [amount if n in accepted else 0 for n in range(threads_count)]
    if not any(isinstance(o, VersionConflictError) for o in outcomes):
        assert len(accepted) == 3  # every refusal was for want of funds
