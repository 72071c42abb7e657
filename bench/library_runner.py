"""The library's way, for comparison: ``eventsourcing.projection.ProjectionRunner``.

A library :class:`Projection` whose view is a :class:`PostgresTrackingRecorder` with one more
table: every event becomes an audit entry (who, what, when, which record, a hash chained to
the previous entry's), written with one INSERT beside the tracking insert, in one
transaction per event: the library's exactly-once recipe (``_insert_tracking`` and the view
change inside one ``datastore.transaction``). The runner builds its own ``PatientServices``
from ``env``, subscribes (LISTEN/NOTIFY) and decodes every event with the application's mapper.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL, Identifier

from application.service import PatientServices

PROJECTION_NAME = "bench_library_audit"


class LibraryAuditView(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = Identifier(f"{PROJECTION_NAME}_entries")
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                " position bigint PRIMARY KEY, aggregate_id uuid NOT NULL,"
                " aggregate_version integer NOT NULL, action text NOT NULL, actor_id text,"
                " actor_role text, occurred_at timestamptz, recorded_at timestamptz NOT NULL,"
                " command_id uuid, correlation_id text, reason text, hash bytea NOT NULL)"
            ).format(schema, table)
        )
        self.insert_entry = SQL(
            "INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(schema, table)

    def record(self, tracking: Tracking, entry: tuple[Any, ...]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self.insert_entry, entry, prepare=True)


_encode = msgspec.json.encode


class LibraryAuditProjection(Projection[LibraryAuditView]):
    name = PROJECTION_NAME

    def __init__(self, view: LibraryAuditView) -> None:
        super().__init__(view)
        self.processed = 0
        self._previous = b"\0" * 32

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        e = domain_event
        action = type(e).__qualname__
        recorded_at = e.timestamp
        occurred_at = getattr(e, "occurred_at", None)
        actor_id = getattr(e, "actor_id", None)
        digest = hashlib.sha256(self._previous)
        digest.update(
            _encode((tracking.notification_id, str(e.originator_id), e.originator_version,
                     action, actor_id, str(occurred_at), str(recorded_at)))
        )  # fmt: skip
        hashed = digest.digest()
        self.view.record(
            tracking,
            (
                tracking.notification_id, e.originator_id, e.originator_version, action,
                actor_id, getattr(e, "actor_role", None), occurred_at, recorded_at,
                getattr(e, "command_id", None), getattr(e, "correlation_id", None),
                getattr(e, "reason", None), hashed,
            ),
        )  # fmt: skip
        self._previous = hashed
        self.processed += 1


@dataclass
class LibraryFigures:
    events: int
    seconds: float
    per_second: float
    position: int  # the view's tracked position when stopped


def measure_library_runner(
    env: dict[str, str], seconds: float, warm_up: float = 2.0
) -> LibraryFigures:
    """Run the library's runner for ``warm_up`` + ``seconds`` and count the events it
    processed in the measured part; it resumes where an earlier call stopped."""
    runner: ProjectionRunner[PatientServices, LibraryAuditView] = ProjectionRunner(
        application_class=PatientServices,
        projection_class=LibraryAuditProjection,
        view_class=LibraryAuditView,
        env=env,
    )
    with runner:
        projection = runner.projection
        assert isinstance(projection, LibraryAuditProjection)
        # Building the app, the view and the subscription is not what is measured.
        deadline = time.perf_counter() + 30
        while projection.processed == 0 and time.perf_counter() < deadline:
            if runner.is_interrupted.is_set():
                break  # it failed: leaving the block re-raises its error
            time.sleep(0.01)
        threading.Event().wait(warm_up)
        before, started = projection.processed, time.perf_counter()
        runner.is_interrupted.wait(seconds)
        after, elapsed = projection.processed, time.perf_counter() - started
    position = runner.view.max_tracking_id(runner.app_name) or 0
    runner.view.datastore.close()  # the runner closes its application, not the view
    count = after - before
    return LibraryFigures(count, elapsed, count / elapsed if elapsed else 0.0, position)
