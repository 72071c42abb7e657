"""Which IntegrityError is a lost race (application.service.is_lost_race): only the
(originator_id, originator_version) key taken by another writer, as each store reports it."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
from eventsourcing.persistence import IntegrityError

from application.service import is_lost_race


def from_sqlite(statement: str) -> IntegrityError:
    """The library's IntegrityError for a real SQLite failure of ``statement``."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER,"
        " topic TEXT NOT NULL CHECK (topic <> 'bad'),"
        " PRIMARY KEY (originator_id, originator_version))"
    )
    db.execute("INSERT INTO stored_events VALUES ('a', 1, 'ok')")
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON stored_events WHEN NEW.topic = 'refused'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    try:
        db.execute(statement)
    except sqlite3.IntegrityError as e:
        try:
            raise IntegrityError(e) from e
        except IntegrityError as wrapped:
            return wrapped
    raise AssertionError("the statement did not fail")


def test_the_version_key_taken_on_sqlite_is_a_lost_race() -> None:
    assert is_lost_race(from_sqlite("INSERT INTO stored_events VALUES ('a', 1, 'ok')"))


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO stored_events VALUES ('b', 1, 'refused')",  # a trigger's RAISE(ABORT)
        "INSERT INTO stored_events VALUES ('b', 1, 'bad')",  # a CHECK constraint
        "INSERT INTO stored_events VALUES ('b', 1, NULL)",  # NOT NULL
    ],
)
def test_any_other_sqlite_integrity_failure_is_not(statement: str) -> None:
    assert not is_lost_race(from_sqlite(statement))


def wrapped(cause: Exception) -> IntegrityError:
    try:
        raise IntegrityError(str(cause)) from cause
    except IntegrityError as error:
        return error


def test_on_postgresql_only_a_unique_violation_of_the_version_key_is_a_lost_race() -> None:
    taken = psycopg.errors.UniqueViolation(
        'duplicate key value violates unique constraint "events_pkey"\n'
        "DETAIL:  Key (originator_id, originator_version)=(x, 1) already exists."
    )
    assert is_lost_race(wrapped(taken))
    assert not is_lost_race(wrapped(psycopg.errors.CheckViolation("injected")))


def test_the_in_memory_stores_error_has_no_driver_cause_and_is_a_lost_race() -> None:
    assert is_lost_race(IntegrityError("Stored event already recorded"))
