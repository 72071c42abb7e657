"""A live worker's per-batch line is DEBUG: at INFO it was a third of all log lines in a short
run, and says nothing an operator acts on (/ready and /metrics carry the positions)."""

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from adapters.readmodels.registry import prepare_read_models
from adapters.readmodels.status import wait_for_position
from adapters.readmodels.worker import ProjectionWorker
from application.shared.context import RequestContext
from application.visits.commands import RegisterWalkIn
from tests.support.counting_model import CountingReadModel


# The log records are the same on both stores: one is enough.
@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_a_live_worker_logs_each_batch_at_debug(services, database) -> None:
    prepare_read_models(database, [CountingReadModel])
    worker = ProjectionWorker(database, CountingReadModel)
    clerk = RequestContext(actor_id="c1", actor_role="clerk", correlation_id="t")
    walk_in = RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit="ED")
    stop = threading.Event()
    with capture_logs() as logs:
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            position = services.execute(walk_in, clerk).position
            assert wait_for_position(database, "counting", position, timeout=5) == position
        finally:
            stop.set()
            thread.join(10)

    batches = [e for e in logs if e["event"] == "projection.batch"]
    assert batches, "the worker applied a batch, so it logged one"
    assert {e["log_level"] for e in batches} == {"debug"}
