"""A read-your-writes request does not wait out a worker's batch interval: asking for a read
model (``ReadDatabase.want``, sent by ``wait_for_position``) ends its linger at once, on
both stores; without the request the linger holds the next batch back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.status import active_position, wait_for_position
from adapters.readmodels.worker import ProjectionWorker
from application.service import PatientServices
from tests.support.counting_model import CountingReadModel
from tests.support.visits import record_visits

#: Long enough that a batch started at once and one held back are far apart.
INTERVAL = 3.0


@pytest.fixture
def lingering_worker(database: ReadDatabase) -> Iterator[ProjectionWorker]:
    prepare_read_models(database, [CountingReadModel])
    worker = ProjectionWorker(database, CountingReadModel, batch_interval=INTERVAL)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def _position(database: ReadDatabase) -> int:
    with database.read() as tx:
        return active_position(tx, "counting").position


def _write_soon_after_a_batch(services: PatientServices, database: ReadDatabase) -> int:
    """A first write read at once (the worker was idle), then a second within the interval
    of that batch's start: the one a lingering worker holds back."""
    [*_, first] = record_visits(services, 1)
    deadline = time.monotonic() + 10
    while _position(database) < first:  # polling only: no request for the read model
        assert time.monotonic() < deadline, "the idle worker read the first write"
        time.sleep(0.01)
    [*_, second] = record_visits(services, 1)
    return second


def test_a_reader_waiting_for_a_position_ends_the_linger(
    services: PatientServices, database: ReadDatabase, lingering_worker: ProjectionWorker
) -> None:
    second = _write_soon_after_a_batch(services, database)
    began = time.monotonic()
    assert wait_for_position(database, "counting", second, timeout=INTERVAL * 2) == second
    assert time.monotonic() - began < INTERVAL / 2


def test_without_a_reader_the_next_batch_waits_for_the_interval(
    services: PatientServices, database: ReadDatabase, lingering_worker: ProjectionWorker
) -> None:
    """The control: the linger is real, so the test above shows the request ending it."""
    second = _write_soon_after_a_batch(services, database)
    time.sleep(INTERVAL / 2)
    assert _position(database) < second
    deadline = time.monotonic() + INTERVAL * 2
    while _position(database) < second:
        assert time.monotonic() < deadline, "the batch after the interval read it"
        time.sleep(0.01)
