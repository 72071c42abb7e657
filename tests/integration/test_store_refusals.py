"""A write the event store refuses for another reason than a lost race, on SQLite and
PostgreSQL: a trigger or constraint failing during the save is not a concurrent writer.

Only the unique (originator_id, originator_version) key taken by someone else is a lost race,
which the application retries on fresh state (and finally answers 409 VERSION_CONFLICT). Any
other integrity failure is raised at once, after one attempt, as an internal error (500), and
nothing is recorded: retrying could never help, and a 409 would tell the client to try again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings
from adapters.storage import APPLICATION_NAME
from application.budget import commands as bc
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import StoreRefusedWriteError
from domain.budget.line import BudgetLine

FINANCE = RequestContext(actor_id="finance-1", actor_role="finance", correlation_id="t")
APPROVED = f"{BudgetLine.BudgetApproved.__module__}:BudgetLine.BudgetApproved"


@contextmanager
def refusing_approvals(settings: Settings) -> Iterator[None]:
    """While open, the store refuses every BudgetApproved insert with a constraint error:
    SQLite's RAISE(ABORT) (SQLITE_CONSTRAINT_TRIGGER), PostgreSQL's check_violation."""
    postgres = settings.postgres
    if postgres is None:
        path = settings.var_dir / f"{APPLICATION_NAME}.db"
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TRIGGER refuse_approval BEFORE INSERT ON stored_events"
                f" WHEN NEW.topic = '{APPROVED}'"
                " BEGIN SELECT RAISE(ABORT, 'injected constraint failure'); END"
            )
        yield
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse_approval")
        return
    table = Identifier(postgres.schema or "public", f"{APPLICATION_NAME}_events")
    function = Identifier(postgres.schema or "public", "refuse_approval")
    connect = dict(host=postgres.host, port=postgres.port, dbname=postgres.dbname,
                   user=postgres.user, password=postgres.password)  # fmt: skip
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL(
            "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.topic = {} THEN RAISE EXCEPTION 'injected constraint failure'"
            " USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
        ).format(function, APPROVED))  # fmt: skip
        db.execute(SQL(
            "CREATE TRIGGER refuse_approval BEFORE INSERT ON {} FOR EACH ROW"
            " EXECUTE FUNCTION {}()"
        ).format(table, function))  # fmt: skip
    yield
    with psycopg.connect(**connect, autocommit=True) as db:
        db.execute(SQL("DROP TRIGGER refuse_approval ON {}").format(table))


def test_a_constraint_failure_on_save_is_an_internal_error_after_one_attempt(
    services: PatientServices, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    create = bc.CreateBudgetLine(
        fiscal_year=2026, cost_centre="CC-1", category="staffing", currency="GBP"
    )
    line = services.execute(create, FINANCE).id
    head = services.recorder.max_notification_id()
    attempts = []
    attempt = services._attempt
    monkeypatch.setattr(services, "_attempt", lambda *a: attempts.append(1) or attempt(*a))
    approve = bc.ApproveBudget(
        amount=bc.MoneyAmount(amount="100", currency="GBP"), approval_ref="FIN-1"
    )

    with refusing_approvals(store_settings), pytest.raises(StoreRefusedWriteError):
        services.execute(approve, FINANCE, target=line)

    assert len(attempts) == 1, "a refused write is not a lost race: never retried"
    assert services.recorder.max_notification_id() == head  # nothing recorded
    assert services.execute(approve, FINANCE, target=line).version == 2  # the only obstacle
