"""Jobs that run every few seconds beside the projection workers (the deadline watcher).

A job's ``run_once`` must be safe to run in several processes at once and to stop at any
instant: the supervisor runs one thread per job in every ``serve``/``project`` process, and
a failed run is logged and tried again at the next tick, so a job never dies silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("jobs")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    #: Seconds from the start of one run to the start of the next.
    interval: float
    #: Returns how much it did (logged when non-zero).
    run_once: Callable[[], int]


def run_periodically(job: PeriodicJob, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            done = job.run_once()
        except Exception:
            # A bug or a database that went away: logged, and the next tick tries again.
            log.exception("job.failed", job=job.name)
        else:
            if done:
                log.info("job.ran", job=job.name, done=done,
                         ms=round((time.monotonic() - started) * 1000, 1))  # fmt: skip
        stop.wait(max(0.0, job.interval - (time.monotonic() - started)))
