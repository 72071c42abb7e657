"""Access records without a database write per request: a buffer saved in the background.

A read of patient data must not wait for a write (the flow board answers thousands of
requests a second from memory), so the HTTP layer only hands each successful read to
:meth:`AccessRecorder.add` (a lock and an append). A thread of the process saves what is
pending every ``ACCESS_FLUSH_MS`` (default 1000), or at once when :data:`FLUSH_AT_PENDING`
are waiting, as many records per transaction as are pending (up to :data:`MAX_PER_SAVE`), and
everything left when the process stops (:meth:`AccessRecorder.close`).

What this costs on a crash: a process killed outright (``kill -9``, power loss) loses the
accesses it had not saved yet, those of the last flush interval plus any save in flight;
while the database is unreachable, every access buffered since (up to the bound). A save
that fails keeps its records and is retried, first after one interval, then each time
twice as long, up to :data:`MAX_BACKOFF_SECONDS`. Past ``ACCESS_BUFFER_LIMIT`` pending
records, new ones are dropped (never blocking a request, never raising), counted in
``access_records_dropped_total`` and logged as errors: an operator must act.

Each process has its own buffer (``WORKERS`` > 1 gives one per worker).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from application.access_log import PendingAccess

log = structlog.get_logger("access")

#: This many pending records are saved without waiting for the interval.
FLUSH_AT_PENDING = 1000
#: At most this many records in one transaction: the events table is locked while it runs,
#: and the thread gives the request threads the interpreter between two saves.
MAX_PER_SAVE = 1000
#: The longest wait between two attempts while saves keep failing.
MAX_BACKOFF_SECONDS = 10.0
#: How long :meth:`AccessRecorder.close` keeps trying to save what is left.
CLOSE_TIMEOUT_SECONDS = 10.0
#: A full buffer is logged at most this often (with the number dropped since).
DROP_LOG_SECONDS = 10.0


class AccessMetrics:
    """The recorder's figures in ``GET /metrics`` (``registry``: the app's own registry, or
    None in prometheus_client's multiprocess mode, where the files are summed)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.saved = Counter(
            "access_records_saved", "Access records saved to the event log.", registry=registry
        )
        self.dropped = Counter(
            "access_records_dropped",
            "Access records lost: the buffer was full (buffer_full) or could not be saved "
            "when the process stopped (shutdown). Any is an incident.",
            ["reason"],
            registry=registry,
        )
        self.save_failures = Counter(
            "access_record_save_failures",
            "Failed saves of a batch of access records (each is retried).",
            registry=registry,
        )
        self.pending = Gauge(
            "access_records_pending",
            "Access records waiting to be saved.",
            registry=registry,
            multiprocess_mode="livesum",
        )


class AccessRecorder:
    """The buffer of one process and the thread that saves it.

    ``save`` stores a batch in one transaction (all or nothing); ``is_saved`` tells whether
    a batch whose save failed was stored after all (its answer lost). Both are blocking and
    called from the recorder's thread only."""

    def __init__(
        self,
        save: Callable[[Sequence[PendingAccess]], object],
        is_saved: Callable[[PendingAccess], bool],
        *,
        flush_ms: int,
        buffer_limit: int,
        list_threshold: int,
        default_purpose: str,
    ) -> None:
        self._save = save
        self._is_saved = is_saved
        self.interval = flush_ms / 1000
        self.buffer_limit = buffer_limit
        #: Above this many patients or records, a read is recorded as its query and count.
        self.list_threshold = list_threshold
        #: The purpose of use recorded when a request names none.
        self.default_purpose = default_purpose
        self.metrics: AccessMetrics | None = None
        self._pending: deque[PendingAccess] = deque()
        #: A batch whose save failed: tried again, as it is, before anything newer.
        self._failed: list[PendingAccess] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._accepted = 0  # accesses taken into the buffer, ever
        self._done = 0  # of those, saved or given up
        self._flush_wanted = False
        self._closing = False
        self._dropped_unlogged = 0
        self._drop_logged_at = -DROP_LOG_SECONDS
        self._thread: threading.Thread | None = None

    # ---- the request side (any thread, never blocks on the database) ---------------------
    def add(self, pending: PendingAccess) -> bool:
        """Take one access; False (counted, logged) if the buffer is full or closed."""
        with self._lock:
            waiting = len(self._pending) + len(self._failed)
            if self._closing or waiting >= self.buffer_limit:
                self._drop(1, "buffer_full" if not self._closing else "shutdown")
                return False
            self._pending.append(pending)
            self._accepted += 1
            if waiting + 1 == FLUSH_AT_PENDING:
                self._wake.notify()
            return True

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._failed)

    # ---- control ----------------------------------------------------------------------------
    def start(self) -> AccessRecorder:
        self._thread = threading.Thread(target=self._run, name="access-recorder", daemon=True)
        self._thread.start()
        return self

    def flush(self, timeout: float = 10.0) -> bool:
        """Save everything added so far, now; True once it is stored (False if the saves
        kept failing for ``timeout`` seconds). For tests and operators; requests never wait."""
        if self._thread is None or not self._thread.is_alive():
            self._drain()  # not started (a test's own recorder): save in this thread
            with self._lock:
                return not self._pending and not self._failed
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            self._flush_wanted = True
            self._wake.notify()
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(left)
            return True

    def close(self) -> None:
        """Save what is pending (trying for up to :data:`CLOSE_TIMEOUT_SECONDS`) and stop
        the thread; what still cannot be saved is counted as dropped and logged."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT_SECONDS + 5)
        else:
            self._finish()

    # ---- the recorder's thread --------------------------------------------------------------
    def _run(self) -> None:
        delay = self.interval
        healthy = True
        while True:
            with self._lock:
                # While saves fail, a full batch waits for the backoff like the rest: the
                # database is not asked again and again.
                full = healthy and len(self._pending) >= FLUSH_AT_PENDING
                if not (self._closing or self._flush_wanted or full):
                    self._wake.wait(delay)
                if self._closing:
                    break
                self._flush_wanted = False
            healthy = self._drain()
            delay = self.interval if healthy else self._next_delay(delay)
        self._finish()

    def _next_delay(self, delay: float) -> float:
        # After a failure: the first retry after one interval, then twice as long each time.
        return min(MAX_BACKOFF_SECONDS, max(self.interval, delay * 2))

    def _finish(self) -> None:
        deadline = time.monotonic() + CLOSE_TIMEOUT_SECONDS
        delay = self.interval
        while not self._drain():
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
            delay = self._next_delay(delay)
        with self._lock:
            lost = len(self._pending) + len(self._failed)
            if lost:
                self._pending.clear()
                self._failed = []
                self._done += lost
                self._settled.notify_all()
        if lost:
            log.error("access.lost_at_shutdown", count=lost)
            if self.metrics is not None:
                self.metrics.dropped.labels("shutdown").inc(lost)

    def _drain(self) -> bool:
        """Save batches until nothing is pending; False at the first failure (its batch kept)."""
        while True:
            with self._lock:
                retry = bool(self._failed)
                if retry:
                    batch = self._failed
                else:
                    count = min(len(self._pending), MAX_PER_SAVE)
                    batch = [self._pending.popleft() for _ in range(count)]
                waiting = len(self._pending)
            if self.metrics is not None:
                self.metrics.pending.set(waiting + len(batch))
            if not batch:
                return True
            batch = [pending.numbered() for pending in batch]
            try:
                # A retried batch may have been stored by the attempt that "failed".
                if not (retry and self._is_saved(batch[0])):
                    self._save(batch)
            except Exception as error:  # noqa: BLE001 - kept and retried, never raised
                with self._lock:
                    self._failed = batch
                    waiting = len(self._pending) + len(batch)
                if self.metrics is not None:
                    self.metrics.save_failures.inc()
                # The error's type only: a driver's message may quote the statement's values.
                log.error("access.save_failed", batch=len(batch), waiting=waiting,
                          error=type(error).__name__)  # fmt: skip
                return False
            with self._lock:
                self._failed = []
                # The figures first: a flush() woken below reads them at once.
                if self.metrics is not None:
                    self.metrics.saved.inc(len(batch))
                    self.metrics.pending.set(len(self._pending))
                self._done += len(batch)
                self._settled.notify_all()
            time.sleep(0)  # let a waiting request thread have the GIL before the next batch

    def _drop(self, count: int, reason: str) -> None:
        """Called with the lock held."""
        if self.metrics is not None:
            self.metrics.dropped.labels(reason).inc(count)
        self._dropped_unlogged += count
        now = time.monotonic()
        if now - self._drop_logged_at >= DROP_LOG_SECONDS:
            log.error("access.dropped", count=self._dropped_unlogged, reason=reason,
                      buffer_limit=self.buffer_limit)  # fmt: skip
            self._dropped_unlogged = 0
            self._drop_logged_at = now
