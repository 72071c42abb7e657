"""Helpers shared by the API tests (their fixtures are in tests/api/conftest.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from litestar.testing import TestClient

from application.service import PatientServices

API = "/api/v1/visits"
Headers = dict[str, str]


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(timezone.utc)


#: Each default booking an hour after the one before: the same patient may not hold two
#: overlapping bookings (409 DOUBLE_BOOKING), and most tests book P-1001 by default.
_BOOKINGS = itertools.count()


def visit_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "patientRef": "P-1001",
        "visitClass": "AMB",
        "serviceUnit": "OPD-1",
        "scheduledStart": iso(now() + timedelta(days=2, hours=next(_BOOKINGS))),
    }
    body.update(overrides)
    return body


@dataclass
class LogRecorder:
    """Stands in for a module's structlog logger to see what it logged."""

    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _record(self, level: str) -> Callable[..., None]:
        def log(event: str, **values: Any) -> None:
            self.lines.append((level, event, values))

        return log

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level.startswith("_"):
            raise AttributeError(level)
        return self._record(level)


def scheduler(client: TestClient[Any], clerk: Headers) -> Callable[..., str]:
    """``schedule(**overrides)``: schedule a visit through ``client`` (as ``clerk``), its id."""

    def run(**overrides: Any) -> str:
        reply = client.post(API, json=visit_body(**overrides), headers=clerk)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    return run


def position(services: PatientServices) -> int:
    """The newest position in the global log: unchanged means nothing was recorded."""
    return services.recorder.max_notification_id() or 0


def events_of(services: PatientServices, visit_id: str) -> list[Any]:
    return list(services.visit_events(UUID(visit_id)))


def recorded_since(services: PatientServices, after: int) -> list[Any]:
    """All the events stored after position ``after``, as domain events (read in pages:
    one bounded select once hid every event past its limit from a test)."""
    events: list[Any] = []
    while page := services.recorder.select_notifications(after + 1, 1000):
        events += [services.mapper.to_domain_event(n) for n in page]
        after = page[-1].id
    return events


def only_attempt_since(services: PatientServices, after: int) -> Any:
    """The one event stored after ``after``, which must be a refused or denied attempt."""
    from application.shared.attempts import CommandAttempt

    [attempt] = recorded_since(services, after)
    assert isinstance(attempt, CommandAttempt.Refused), attempt
    return attempt
