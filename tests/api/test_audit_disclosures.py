"""The accounting of disclosures over HTTP, on a SQLite store with the audit worker running:
the privacy officer and the auditor read it, page by page or as CSV, and everyone else is
refused (and the refusal is in the trail). Both stores: tests/integration/test_audit_queries.py.

Queries pass ``minPosition`` (the newest log position) so they wait for the worker: no sleeps.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from adapters.readmodels.audit.store import AuditReadModel
from application.service import PatientServices
from application.shared.access import Access, AccessRecord
from domain.shared.envelope import Envelope, recording
from tests.support.api import Headers, position

DISCLOSURES = "/api/v1/audit/disclosures"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.read_models([AuditReadModel])


def record_read(services: PatientServices, *refs: str, minutes: int = 0) -> int:
    """A read of ``refs`` as the access recording saves it; its position."""
    access = Access(
        action="read visit", route="/api/v1/visits/{visit_id}", query={},
        purpose_of_use="PATRQT", patient_refs=refs, record_ids=("v-1",), result_count=1,
    )  # fmt: skip
    envelope = Envelope(
        actor_id="nurse-1", actor_role="nurse", command_id=uuid4(), correlation_id="r-1",
        occurred_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    with recording(envelope):
        return services.save(AccessRecord.accessed(access))[-1].notification.id


@pytest.fixture
def disclosures(
    read_client: TestClient[Any], auth: Callable[..., Headers], stored_services: PatientServices
) -> Callable[..., Any]:
    """``disclosures(role, headers, **params)`` → the reply, once the worker has read it all."""

    def read(role: str = "privacy_officer", headers: Headers | None = None, **params: Any) -> Any:
        params.setdefault("minPosition", position(stored_services))
        params = {k: v for k, v in params.items() if v is not None}
        return read_client.get(
            DISCLOSURES, params=params, headers={**auth(role, sub="pat"), **(headers or {})}
        )

    return read


def test_the_privacy_officer_pages_through_a_patients_disclosures(
    stored_services: PatientServices, disclosures: Callable[..., Any]
) -> None:
    reads = [record_read(stored_services, "P-1", minutes=n) for n in range(3)]
    record_read(stored_services, "P-2")

    first = disclosures(patientRef="P-1", limit=2)
    second = disclosures(patientRef="P-1", limit=2, cursor=first.json()["nextCursor"])

    assert first.status_code == 200, first.text
    assert int(first.headers["X-Projection-Position"]) >= reads[-1]
    items = first.json()["items"] + second.json()["items"]
    assert [d["position"] for d in items] == reads
    assert second.json()["nextCursor"] is None
    assert {(d["purposeOfUse"], d["basis"], d["route"]) for d in items} == {
        ("PATRQT", "named", "/api/v1/visits/{visit_id}")
    }


def test_the_auditor_gets_it_as_csv(
    stored_services: PatientServices, disclosures: Callable[..., Any]
) -> None:
    read = record_read(stored_services, "P-1")

    reply = disclosures("auditor", {"Accept": "text/csv"}, patientRef="P-1")

    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/csv")
    [row] = csv.DictReader(io.StringIO(reply.text))
    assert (int(row["position"]), row["actorId"], row["action"]) == (read, "nurse-1", "read visit")
    assert (row["occurredAt"], row["purposeOfUse"]) == ("2026-03-02T09:00:00Z", "PATRQT")


@pytest.mark.parametrize("role", ["clerk", "nurse", "clinician", "manager", "executive"])
def test_other_roles_are_refused_and_the_refusal_is_recorded(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    stored_services: PatientServices,
    disclosures: Callable[..., Any],
    role: str,
) -> None:
    reply = disclosures(role, patientRef="P-1", minPosition=None)

    assert reply.status_code == 403
    assert reply.json()["code"] == "NOT_AUTHORISED"
    trail = read_client.get(
        "/api/v1/audit/events",
        params={"outcome": "denied", "minPosition": position(stored_services)},
        headers=auth("auditor"),
    ).json()["items"]
    assert [(e["action"], e["actorRole"], e["kind"]) for e in trail] == [
        ("read audit disclosures", role, "access")
    ]


def test_the_patient_ref_is_required(disclosures: Callable[..., Any]) -> None:
    reply = disclosures(minPosition=None)

    assert reply.status_code == 400
    assert reply.json()["code"] == "VALIDATION"
