"""Which failed save is a lost race: another writer took the version this command meant to
write. Only such a failure is worth retrying on fresh state (``PatientServices.execute``);
any other refusal of the store would fail the same way again.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError

#: What the stores raise when the unique (originator_id, originator_version) key is taken:
#: SQLite's extended result codes (the key is the table's primary key) and PostgreSQL's
#: unique_violation. Any other integrity failure (a CHECK, NOT NULL or foreign key, a
#: trigger's RAISE(ABORT)) is not a lost race.
_SQLITE_KEY_TAKEN = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})
_POSTGRES_UNIQUE_VIOLATION = "23505"
_VERSION_KEY_COLUMN = "originator_version"


def is_lost_race(failure: IntegrityError) -> bool:
    """Whether an IntegrityError from a save says that an event's (originator_id,
    originator_version) was taken by another writer: a lost race, worth retrying on fresh
    state. The library wraps the driver's error; its cause says which constraint failed. An
    error with no driver cause is the in-memory store's, raised only for a taken version."""
    cause = failure.__cause__
    sqlite_code = getattr(cause, "sqlite_errorname", None)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlite_code is None and sqlstate is None:
        return True
    key_taken = sqlite_code in _SQLITE_KEY_TAKEN or sqlstate == _POSTGRES_UNIQUE_VIOLATION
    return key_taken and _VERSION_KEY_COLUMN in str(cause)


class StaleRead(IntegrityError):
    """Two records a command read disagree, because another writer committed between the
    reads (an offer's held place gone from its slot while the waitlist still shows the
    offer): the command lost a race before it could save, and is decided again on fresh
    state like any lost race (it has no driver cause, so :func:`is_lost_race` holds)."""
