"""The FHIR Encounter search over HTTP, from the flow read model (its worker running): a
searchset Bundle of full Encounters by visit number, by our id, by patient, by status (one
FHIR status standing for several of ours), in pages; and the audit export's
``Encounter/{id}`` references resolve on the FHIR bases.

The FHIR search has no ``minPosition``: each test first waits for the read model through
``GET /api/v1/visits`` with ``minPosition`` (the newest log position), so it never sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from litestar.testing import TestClient

from adapters.readmodels.audit.store import AuditReadModel
from adapters.readmodels.visits.store import FlowReadModel
from application.service import PatientServices
from tests.support.api import API, Headers, position

FHIR_JSON = "application/fhir+json"
BUNDLES = {"r4": BundleR4B, "r5": BundleR5}

pytestmark = pytest.mark.read_models([FlowReadModel, AuditReadModel])


@pytest.fixture
def search(
    read_client: TestClient[Any], staff: Headers, stored_services: PatientServices
) -> Callable[..., dict[str, Any]]:
    """``search("r4", patient="P-1")`` → the Bundle (validated), once the flow read model has
    read the whole log."""

    def run(version: str, **params: Any) -> dict[str, Any]:
        wait = {"patientRef": "-", "minPosition": position(stored_services)}
        assert read_client.get(API, params=wait, headers=staff).status_code == 200
        reply = read_client.get(f"/fhir/{version}/Encounter", params=params, headers=staff)
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == FHIR_JSON
        assert int(reply.headers["X-Projection-Position"]) >= wait["minPosition"]
        bundle = dict(reply.json())
        BUNDLES[version].model_validate(bundle)
        assert bundle["type"] == "searchset"
        return bundle

    return run


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def do(client: TestClient[Any], headers: Headers, visit_id: str, *steps: str) -> None:
    bodies = {"triage": {"acuityScale": "ESI", "acuityLevel": 3},
              "clinician-contact": {"clinicianRef": "dr-1"},
              "admit": {"unit": "W1", "bed": "B1"}}  # fmt: skip
    for step in steps:
        reply = client.post(f"{API}/{visit_id}/{step}", json=bodies.get(step, {}), headers=headers)
        assert reply.status_code == 200, (step, reply.text)


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_a_visit_number_finds_its_encounter(
    read_schedule: Callable[..., str], search: Callable[..., dict[str, Any]], version: str
) -> None:
    wanted = read_schedule(visitNumber="V-1", visitNumberAuthority="HOSP A")
    read_schedule(visitNumber="V-1", visitNumberAuthority="HOSP B")
    read_schedule(visitNumber="V-1")  # no authority

    system = "urn:patient-services:visit-number:HOSP%20A"
    bundle = search(version, identifier=f"{system}|V-1")

    assert ids(bundle) == [wanted]
    [entry] = bundle["entry"]
    assert entry["fullUrl"].endswith(f"/fhir/{version}/Encounter/{wanted}")
    assert entry["search"] == {"mode": "match"}
    assert entry["resource"]["identifier"][0]["system"] == system
    assert len(ids(search(version, identifier="V-1"))) == 3  # any authority
    [none] = ids(search(version, identifier="urn:patient-services:visit-number|V-1"))
    assert none not in ids(bundle)


def test_our_id_and_unknown_systems(
    read_schedule: Callable[..., str], search: Callable[..., dict[str, Any]]
) -> None:
    visit_id = read_schedule(patientRef="P-9")

    assert ids(search("r4", identifier=f"urn:ietf:rfc:3986|urn:uuid:{visit_id}")) == [visit_id]
    assert ids(search("r4", identifier=f"urn:uuid:{visit_id}", patient="P-9")) == [visit_id]
    assert ids(search("r4", identifier=f"urn:uuid:{visit_id}", patient="P-other")) == []
    assert ids(search("r5", identifier=f"urn:uuid:{uuid4()}")) == []
    assert "entry" not in search("r5", identifier="http://elsewhere.example/ids|V-1")


def test_patient_and_status_combine_and_a_status_stands_for_several_states(
    read_client: TestClient[Any],
    staff: Headers,
    read_schedule: Callable[..., str],
    search: Callable[..., dict[str, Any]],
) -> None:
    booked = read_schedule(patientRef="P-1")
    seen = read_schedule(patientRef="P-1")
    admitted = read_schedule(patientRef="P-1")
    read_schedule(patientRef="P-2")
    do(read_client, staff, seen, "arrive", "clinician-contact")
    do(read_client, staff, admitted, "arrive", "admit")

    assert sorted(ids(search("r4", patient="P-1"))) == sorted([booked, seen, admitted])
    assert sorted(ids(search("r4", patient="P-1", status="in-progress"))) == sorted(
        [seen, admitted]
    )
    assert ids(search("r4", patient="P-1", status="planned")) == [booked]
    assert sorted(ids(search("r5", patient="P-1", status="in-progress,planned"))) == sorted(
        [booked, seen, admitted]
    )
    assert ids(search("r5", patient="P-1", status="completed")) == []
    # Each entry is the whole Encounter of that version.
    [entry] = search("r4", patient="P-1", status="planned")["entry"]
    assert entry["resource"]["statusHistory"] == [
        {"status": "planned", "period": {"start": entry["resource"]["statusHistory"][0]
                                         ["period"]["start"]}},
    ]  # fmt: skip


def test_pages_follow_the_next_link(
    read_client: TestClient[Any],
    staff: Headers,
    read_schedule: Callable[..., str],
    search: Callable[..., dict[str, Any]],
) -> None:
    created = sorted(read_schedule(patientRef="P-PAGES") for _ in range(3))

    seen: list[str] = []
    params: dict[str, Any] = {"patient": "P-PAGES", "_count": 2}
    while True:
        bundle = search("r5", **params)
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "_count=2" in links["self"]
        if "next" not in links:
            break
        query = parse_qs(urlsplit(links["next"]).query)
        assert query["patient"] == ["P-PAGES"] and query["_count"] == ["2"]
        params = {key: values[0] for key, values in query.items()}
    assert seen == created


def test_the_patient_ref_searched_for_is_not_logged(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    search: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    search("r4", patient="P-NEVER-LOGGED")
    path = "/fhir/r4/Encounter?patient=P-NEVER-LOGGED"
    assert read_client.get(path).status_code == 401
    assert read_client.get(path, headers=auth("finance")).status_code == 403

    logged = capsys.readouterr()
    assert "access.denied" in logged.out  # the denial was logged, by route template
    assert "P-NEVER-LOGGED" not in logged.out + logged.err


# ---- the audit export's references ---------------------------------------------------------
def test_the_audit_exports_encounter_references_resolve_here(
    read_client: TestClient[Any],
    auth: Callable[..., Headers],
    read_schedule: Callable[..., str],
    stored_services: PatientServices,
) -> None:
    visit_id = read_schedule(patientRef="P-AUDIT")
    auditor = auth("auditor")
    read_client.get("/api/v1/audit/events", headers=auditor,
                    params={"minPosition": position(stored_services)})  # fmt: skip

    reply = read_client.get("/api/v1/audit/export", params={"format": "fhir-ndjson",
                            "patientRef": "P-AUDIT"}, headers=auditor)  # fmt: skip

    assert reply.status_code == 200, reply.text
    [event] = (json.loads(line) for line in reply.text.splitlines())
    reference = event["encounter"]["reference"]
    assert reference == f"Encounter/{visit_id}"
    # The export is R5 AuditEvent: its relative reference resolves on the R5 base (and R4).
    for base in ("/fhir/r5", "/fhir/r4"):
        resolved = read_client.get(f"{base}/{reference}", headers=auditor)
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["resourceType"] == "Encounter"
        assert resolved.json()["id"] == visit_id
