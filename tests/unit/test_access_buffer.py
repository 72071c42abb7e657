"""The access buffer (adapters/access_recording.py): saved by size, by time and on shutdown,
many records per save, retried after a failed save without saving twice, bounded (dropping
and counting past the bound, never raising or blocking). The saves here are fakes: what
reaches a real store is in tests/integration/test_access_*.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from uuid import UUID, uuid4

import pytest
from prometheus_client import CollectorRegistry

from adapters.access_recording import FLUSH_AT_PENDING, AccessMetrics, AccessRecorder
from adapters.settings import Settings, SettingsError
from application.access_log import PendingAccess, record_accesses, stored_access
from application.service import PatientServices
from application.shared.access import Access, AccessRecord
from domain.shared.envelope import Envelope, recording

ACCESS = Access(action="read visit", route="/api/v1/visits/{id}", query={},
                purpose_of_use="TREAT", patient_refs=("P-1",), record_ids=("v-1",),
                result_count=1)  # fmt: skip


def pending(n: int = 0) -> PendingAccess:
    return PendingAccess(ACCESS, "alice", ("nurse",), f"corr-{n}", datetime.now(timezone.utc))


class FakeStore:
    """Saves batches (one call = one transaction); fails while ``failing`` is set, or, with
    ``store_then_fail``, stores the batch and then raises (a commit whose answer was lost)."""

    def __init__(self) -> None:
        self.batches: list[list[PendingAccess]] = []
        self.threads: list[threading.Thread] = []
        self.failing = False
        self.store_then_fail = False
        self.saved_event = threading.Event()

    def save(self, batch: Sequence[PendingAccess]) -> None:
        if self.failing:
            raise ConnectionError("database down")
        self.batches.append(list(batch))
        self.threads.append(threading.current_thread())
        self.saved_event.set()
        if self.store_then_fail:
            self.store_then_fail = False
            raise ConnectionError("connection lost at commit")

    def is_saved(self, access: PendingAccess) -> bool:
        return any(a.record_id == access.record_id for batch in self.batches for a in batch)

    @property
    def saved(self) -> list[PendingAccess]:
        return [a for batch in self.batches for a in batch]


def recorder_over(
    store: FakeStore, *, flush_ms: int = 5000, limit: int = 100_000
) -> AccessRecorder:
    recorder = AccessRecorder(
        store.save, store.is_saved, flush_ms=flush_ms, buffer_limit=limit, list_threshold=100,
        default_purpose="TREAT",
    )  # fmt: skip
    recorder.metrics = AccessMetrics(CollectorRegistry())
    return recorder


def counter(recorder: AccessRecorder, name: str, **labels: str) -> float:
    assert recorder.metrics is not None
    metric = getattr(recorder.metrics, name)
    return float((metric.labels(**labels) if labels else metric)._value.get())


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_adding_never_saves_in_the_callers_thread_and_the_interval_saves_it() -> None:
    store = FakeStore()
    recorder = recorder_over(store, flush_ms=100)
    started = time.monotonic()
    recorder.start()
    try:
        assert recorder.add(pending())
        assert store.saved_event.wait(2.0)
        assert time.monotonic() - started >= 0.09  # at the interval, not at once
        assert len(store.saved) == 1
        assert store.threads[0] is not threading.current_thread()  # the request never waits
    finally:
        recorder.close()


def test_a_full_batch_is_saved_without_waiting_for_the_interval_in_one_save() -> None:
    store = FakeStore()
    recorder = recorder_over(store, flush_ms=5000).start()
    try:
        started = time.monotonic()
        for n in range(FLUSH_AT_PENDING):
            recorder.add(pending(n))
        assert wait_for(lambda: counter(recorder, "saved") == FLUSH_AT_PENDING, 3.0)
        assert time.monotonic() - started < 4.0  # well before the 5 s interval
        assert len(store.saved) == FLUSH_AT_PENDING
        assert len(store.batches) <= 2  # many records per transaction, not one each
    finally:
        recorder.close()


def test_closing_saves_what_is_pending() -> None:
    store = FakeStore()
    recorder = recorder_over(store, flush_ms=5000).start()
    for n in range(3):
        recorder.add(pending(n))
    recorder.close()
    assert [a.correlation_id for a in store.saved] == ["corr-0", "corr-1", "corr-2"]
    assert len(store.batches) == 1
    assert not recorder.add(pending(9))  # closed: refused, counted, not raised
    assert counter(recorder, "dropped", reason="shutdown") == 1


def test_a_failed_save_keeps_its_records_and_retries_them_with_backoff() -> None:
    store = FakeStore()
    store.failing = True
    recorder = recorder_over(store, flush_ms=50).start()
    try:
        for n in range(5):
            recorder.add(pending(n))
        assert wait_for(lambda: counter(recorder, "save_failures") >= 2)
        failures = counter(recorder, "save_failures")
        time.sleep(0.3)
        # Backing off: 50, 100, 200, ... ms between attempts, not a tight loop.
        assert counter(recorder, "save_failures") - failures <= 3
        assert recorder.waiting == 5
        store.failing = False
        assert recorder.flush(5.0)
        assert sorted(a.correlation_id for a in store.saved) == [f"corr-{n}" for n in range(5)]
        assert recorder.waiting == 0
    finally:
        recorder.close()


def test_a_save_that_committed_but_raised_is_not_saved_twice() -> None:
    store = FakeStore()
    store.store_then_fail = True
    recorder = recorder_over(store, flush_ms=50).start()
    try:
        recorder.add(pending(1))
        assert wait_for(lambda: counter(recorder, "save_failures") == 1)
        assert recorder.flush(5.0)
        assert [a.correlation_id for a in store.saved] == ["corr-1"]  # once
        assert isinstance(store.saved[0].record_id, UUID)
    finally:
        recorder.close()


def test_past_the_bound_new_accesses_are_dropped_and_counted_never_blocking() -> None:
    store = FakeStore()
    store.failing = True
    recorder = recorder_over(store, flush_ms=10, limit=3).start()
    try:
        started = time.monotonic()
        taken = [recorder.add(pending(n)) for n in range(10)]
        assert time.monotonic() - started < 0.5
        assert taken.count(True) == 3 and taken[:3] == [True, True, True]
        assert counter(recorder, "dropped", reason="buffer_full") == 7
        store.failing = False
        assert recorder.flush(5.0)
        assert [a.correlation_id for a in store.saved] == ["corr-0", "corr-1", "corr-2"]
    finally:
        recorder.close()


def test_what_cannot_be_saved_at_shutdown_is_counted_as_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("adapters.access_recording.CLOSE_TIMEOUT_SECONDS", 0.2)
    store = FakeStore()
    store.failing = True
    recorder = recorder_over(store, flush_ms=50).start()
    recorder.add(pending(1))
    recorder.add(pending(2))
    recorder.close()
    assert store.saved == []
    assert counter(recorder, "dropped", reason="shutdown") == 2
    assert recorder.waiting == 0


def test_a_recorder_not_started_saves_on_flush_in_the_callers_thread() -> None:
    store = FakeStore()
    recorder = recorder_over(store)
    recorder.add(pending(1))
    assert recorder.flush()
    assert len(store.saved) == 1


def test_the_event_built_directly_is_the_one_the_aggregate_records(
    memory_services: PatientServices,
) -> None:
    envelope = Envelope(actor_id="alice", actor_role="nurse,clerk", command_id=uuid4(),
                        correlation_id="c-1", occurred_at=datetime.now(timezone.utc),
                        on_behalf_of="dr-1")  # fmt: skip
    access = Access(action="search visits", route="/api/v1/visits", query={"patientRef": "P-1"},
                    purpose_of_use="HOPERAT", patient_refs=("P-1",), record_ids=("a", "b"),
                    result_count=2)  # fmt: skip
    record_id = uuid4()
    with recording(envelope):
        [expected] = AccessRecord.accessed(access, record_id=record_id).collect_events()
    built = AccessRecord.accessed_event(access, envelope, record_id=record_id)
    assert {**vars(built), "timestamp": None} == {**vars(expected), "timestamp": None}
    assert type(built) is type(expected)
    # And it is stored and read back as an AccessRecord, one per access.
    pending_access = PendingAccess(access, "alice", ("nurse", "clerk"), "c-1",
                                   envelope.occurred_at, "dr-1").numbered()  # fmt: skip
    record_accesses(memory_services, [pending_access])
    stored = memory_services.repository.get(pending_access.record_id)
    assert isinstance(stored, AccessRecord)
    assert (stored.action, stored.patient_refs, stored.record_ids) == (
        "search visits", ["P-1"], ["a", "b"],
    )  # fmt: skip


@pytest.mark.parametrize("on_behalf_of", [None, "dr-1"])
def test_a_stored_access_reads_back_as_the_event_the_library_would_store(
    memory_services: PatientServices, on_behalf_of: str | None
) -> None:
    # Hostile but storable text in every free field: quotes, backslashes, a NUL, non-ASCII.
    odd = 'a"b\\c\x00d\u00e9\U0001f600'
    access = Access(action="read board", route="/api/v1/flow/board", query={"unit": odd},
                    purpose_of_use="TREAT", patient_refs=(odd, "P-2"), record_ids=("r",),
                    result_count=2)  # fmt: skip
    pending_access = PendingAccess(access, odd, ("nurse", "clerk"), odd,
                                   datetime.now(timezone.utc), on_behalf_of).numbered()  # fmt: skip
    assert pending_access.record_id is not None
    mapper = memory_services.mapper
    library = mapper.to_stored_event(AccessRecord.accessed_event(
        access, pending_access.envelope(), record_id=pending_access.record_id))  # fmt: skip
    ours = stored_access(pending_access)
    assert (ours.originator_id, ours.originator_version, ours.topic) == (
        library.originator_id, library.originator_version, library.topic,
    )  # fmt: skip
    theirs_read, ours_read = mapper.to_domain_event(library), mapper.to_domain_event(ours)
    assert type(ours_read) is type(theirs_read)
    assert {**vars(ours_read), "timestamp": None} == {**vars(theirs_read), "timestamp": None}
    assert ours_read.timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [("ACCESS_FLUSH_MS", "0"), ("ACCESS_FLUSH_MS", "5001"), ("ACCESS_BUFFER_LIMIT", "10"),
     ("ACCESS_LIST_THRESHOLD", "0"), ("ACCESS_DEFAULT_PURPOSE", "treat"),
     ("ACCESS_DEFAULT_PURPOSE", "TREAT NOW")],
)  # fmt: skip
def test_access_settings_out_of_bounds_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"JWT_SECRET": "x" * 40, name: value})


def test_access_settings_defaults() -> None:
    settings = Settings.from_env({"JWT_SECRET": "x" * 40})
    assert (settings.access_flush_ms, settings.access_buffer_limit) == (1000, 100_000)
    assert (settings.access_list_threshold, settings.access_default_purpose) == (100, "TREAT")
