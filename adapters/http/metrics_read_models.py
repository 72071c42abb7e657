"""The read-model gauges of ``GET /metrics`` (position, lag, generation, parked records, and
the log's head), computed from the read-model database at scrape time rather than kept per
process, so any worker process gives the same answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric

from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.status import read_model_status

log = structlog.get_logger("http")


class ReadModelCollector:
    """Per read model: position, lag and generation, read from the database at scrape time."""

    def __init__(self, database: ReadDatabase, names: Iterable[str]) -> None:
        self._database = database
        self._names = list(names)

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            statuses = read_model_status(self._database, self._names)
            head = statuses[0].head if statuses else self._database.head_position()
        except Exception:  # noqa: BLE001 - the request metrics are still worth a scrape
            log.warning("metrics.read_models_unavailable", exc_info=True)
            return
        families = {
            "position": GaugeMetricFamily(
                "read_model_position",
                "The log position the read model's serving generation has processed.",
                labels=["name"],
            ),
            "lag_events": GaugeMetricFamily(
                "read_model_lag_events",
                "Events in the log past the read model's position (counted up to 1,000,000).",
                labels=["name"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "read_model_lag_seconds",
                "Seconds since the read model last had nothing left to read (0 when caught up).",
                labels=["name"],
            ),
            "generation": GaugeMetricFamily(
                "read_model_generation",
                "The read model's serving generation (a rebuild makes a new one).",
                labels=["name"],
            ),
            "parked": GaugeMetricFamily(
                "read_model_parked_records",
                "Records the serving generation could not apply and set aside (> 0: degraded;"
                " see patient-services parked list).",
                labels=["name"],
            ),
        }
        for status in statuses:
            for field, family in families.items():
                family.add_metric([status.name], float(getattr(status, field)))
        yield from families.values()
        yield GaugeMetricFamily(
            "event_log_head_position", "The newest position in the event log.", value=head
        )
