"""The projection workers and background jobs of one process (``serve`` or ``project``),
each on its own thread, started and stopped together."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial

from adapters.periodic import PeriodicJob, run_periodically
from adapters.readmodels.base import ReadModel
from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.worker import MAX_BATCH_SIZE, ProjectionWorker


class ProjectionSupervisor:
    """Runs one live worker thread per read model, and one thread per periodic job (the
    deadline watcher), in ``serve`` and ``project``."""

    def __init__(
        self,
        database: ReadDatabase,
        factories: Sequence[Callable[[], ReadModel]],
        jobs: Sequence[PeriodicJob] = (),
        *,
        batch_interval: float = 0.0,
    ):
        self.workers = [
            ProjectionWorker(
                database, factory, max_batch_size=MAX_BATCH_SIZE, batch_interval=batch_interval
            )
            for factory in factories
        ]
        self.jobs = list(jobs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for worker in self.workers:
            self._start(f"projection-{worker.name}", worker.run)
        for job in self.jobs:
            self._start(f"job-{job.name}", partial(run_periodically, job))

    def _start(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def request_stop(self) -> None:
        """Safe in a signal handler: only sets a flag."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait(self) -> None:
        """Block until stopped (for ``patient-services project``)."""
        while not self._stop.wait(1.0):
            pass
