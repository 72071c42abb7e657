"""A live worker under load starts a batch at most every ``batch_interval`` seconds (the
commits of that time share it), and adds no wait when writes are rarer than that."""

from __future__ import annotations

import threading
import time
from typing import Any

from adapters.readmodels.connection import WorkerConnection
from adapters.readmodels.visits.store import FlowReadModel
from adapters.readmodels.worker import BatchOutcome, ProjectionWorker


class _Stop(threading.Event):
    """A stop flag that notes each pause the worker asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.pauses.append(timeout)
        return super().wait(timeout)


class _Connection:
    """Leads at once; ``wait_for_records`` returns after ``write_gap`` seconds, as when a
    write commits that long after the last batch."""

    def __init__(self, write_gap: float) -> None:
        self.write_gap = write_gap

    def try_lead(self, lock_name: str) -> bool:
        return True

    def wait_for_records(self, poll: float, stop: threading.Event) -> None:
        time.sleep(self.write_gap)

    # Nobody asks for the read model here: the linger is the base class's plain wait.
    wanted_mark = WorkerConnection.wanted_mark
    linger = WorkerConnection.linger


class _CountingWorker(ProjectionWorker):
    """Each batch reads one record and finds the log's end."""

    def __init__(self, batch_interval: float) -> None:
        super().__init__(None, FlowReadModel, batch_interval=batch_interval)  # type: ignore[arg-type]
        self.batch_starts: list[float] = []

    def step(self, conn: Any, then: Any = None) -> BatchOutcome:
        self.batch_starts.append(time.perf_counter())
        self._caught_up = True
        return BatchOutcome(1, 1, len(self.batch_starts), 1)


def _lead_for(worker: _CountingWorker, conn: _Connection, seconds: float) -> _Stop:
    stop = _Stop()
    thread = threading.Thread(target=worker._lead, args=(conn, stop))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    return stop


def test_commits_closer_together_than_the_interval_share_a_batch() -> None:
    worker = _CountingWorker(batch_interval=0.1)
    stop = _lead_for(worker, _Connection(write_gap=0.0), seconds=0.6)
    gaps = [b - a for a, b in zip(worker.batch_starts, worker.batch_starts[1:], strict=False)]
    assert gaps, "the worker ran batches"
    # Every batch waited out the interval from the last one's start (a scheduler may only
    # make it later); without the interval this loop runs thousands of batches.
    assert min(gaps) >= 0.1 * 0.95
    assert len(worker.batch_starts) <= 7
    assert stop.pauses and all(0 < pause <= 0.1 for pause in stop.pauses)


def test_a_write_after_a_quiet_spell_is_read_without_waiting() -> None:
    worker = _CountingWorker(batch_interval=0.1)
    stop = _lead_for(worker, _Connection(write_gap=0.15), seconds=0.5)
    assert len(worker.batch_starts) >= 2
    # The write came later than the interval: the batch starts at once, no pause.
    assert stop.pauses == []


def test_no_interval_batches_every_commit() -> None:
    worker = _CountingWorker(batch_interval=0.0)
    stop = _lead_for(worker, _Connection(write_gap=0.001), seconds=0.3)
    assert stop.pauses == []
    assert len(worker.batch_starts) > 20
