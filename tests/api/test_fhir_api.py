"""The FHIR bases over HTTP (``/fhir/r4``, ``/fhir/r5``): reads, vreads and metadata answer
``application/fhir+json`` with resources that validate (R4 against the R4B models), and every
error, whoever raises it (the token middleware, the role guard, parameter validation, the
handler, an unexpected fault), is an OperationOutcome with the right status. Searches, which
read the flow read model, are in test_fhir_search.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.appointment import Appointment as AppointmentR5
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.capabilitystatement import CapabilityStatement as CapabilityR5
from fhir.resources.encounter import Encounter as EncounterR5
from fhir.resources.operationoutcome import OperationOutcome
from fhir.resources.R4B.appointment import Appointment as AppointmentR4B
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as CapabilityR4B
from fhir.resources.R4B.encounter import Encounter as EncounterR4B
from litestar.testing import TestClient

from application.service import PatientServices
from tests.support.api import API, Headers, iso, now, only_attempt_since, position

FHIR_JSON = "application/fhir+json"
MODELS = {
    "r4": {"Encounter": EncounterR4B, "Appointment": AppointmentR4B,
           "CapabilityStatement": CapabilityR4B},
    "r5": {"Encounter": EncounterR5, "Appointment": AppointmentR5,
           "CapabilityStatement": CapabilityR5},
}  # fmt: skip
VERSIONS = list(MODELS)


def fhir_json(reply: Any, status: int = 200) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == FHIR_JSON
    return dict(reply.json())


def outcome(reply: Any, status: int, code: str) -> dict[str, Any]:
    """The reply is an OperationOutcome (it validates) with ``status`` and issue ``code``."""
    body = fhir_json(reply, status)
    OperationOutcome.model_validate(body)
    assert [issue["code"] for issue in body["issue"]] == [code] * len(body["issue"])
    assert {issue["severity"] for issue in body["issue"]} == {"error"}
    return body


def walk_in(client: TestClient[Any], clerk: Headers) -> str:
    body = {"patientRef": "P-2002", "visitClass": "EMER", "serviceUnit": "ED"}
    reply = client.post(f"{API}/walk-ins", json=body, headers=clerk)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


# ---- reads ------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_an_encounter_reads_as_fhir_json_and_validates(
    client: TestClient[Any], schedule: Callable[..., str], clerk: Headers, version: str
) -> None:
    visit_id = schedule(visitNumber="V-7", visitNumberAuthority="HOSP")
    client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk)

    reply = client.get(f"/fhir/{version}/Encounter/{visit_id}", headers=clerk)

    encounter = fhir_json(reply)
    MODELS[version]["Encounter"].model_validate(encounter)
    assert encounter["id"] == visit_id and encounter["meta"]["versionId"] == "2"
    assert encounter["status"] == {"r4": "arrived", "r5": "in-progress"}[version]
    assert encounter["identifier"][0] == {
        "use": "official", "system": "urn:patient-services:visit-number:HOSP", "value": "V-7",
    }  # fmt: skip
    assert reply.headers["etag"] == 'W/"2"'
    assert reply.headers["last-modified"].endswith(" GMT")


def test_if_none_match_with_the_version_held_is_304(
    client: TestClient[Any], schedule: Callable[..., str], clerk: Headers
) -> None:
    visit_id = schedule()
    path = f"/fhir/r4/Encounter/{visit_id}"

    assert client.get(path, headers={**clerk, "If-None-Match": 'W/"1"'}).status_code == 304
    client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk)
    changed = client.get(path, headers={**clerk, "If-None-Match": 'W/"1"'})
    assert fhir_json(changed)["meta"]["versionId"] == "2"


@pytest.mark.parametrize("version", VERSIONS)
def test_vread_shows_the_visit_as_of_a_version(
    client: TestClient[Any], schedule: Callable[..., str], clerk: Headers, version: str
) -> None:
    visit_id = schedule()
    client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk)

    first = fhir_json(client.get(f"/fhir/{version}/Encounter/{visit_id}/_history/1",
                                 headers=clerk))  # fmt: skip
    assert (first["status"], first["meta"]["versionId"]) == ("planned", "1")
    if version == "r4":
        assert [h["status"] for h in first["statusHistory"]] == ["planned"]
    for missing in ("3", "0"):
        reply = client.get(f"/fhir/{version}/Encounter/{visit_id}/_history/{missing}",
                           headers=clerk)  # fmt: skip
        outcome(reply, 404, "not-found")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_booked_visit_has_an_appointment_and_a_walk_in_none(
    client: TestClient[Any], schedule: Callable[..., str], clerk: Headers, version: str
) -> None:
    booked = schedule(patientRef="P-1001")

    appointment = fhir_json(client.get(f"/fhir/{version}/Appointment/{booked}", headers=clerk))
    MODELS[version]["Appointment"].model_validate(appointment)
    assert appointment["status"] == "booked"
    assert appointment["participant"][0]["actor"]["identifier"]["value"] == "P-1001"
    encounter = fhir_json(client.get(f"/fhir/{version}/Encounter/{booked}", headers=clerk))
    assert encounter["appointment"] == [{"reference": f"Appointment/{booked}"}]

    reply = client.get(f"/fhir/{version}/Appointment/{walk_in(client, clerk)}", headers=clerk)
    body = outcome(reply, 404, "not-found")
    assert "walk-in" in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize("version", VERSIONS)
def test_metadata_is_public_and_validates(client: TestClient[Any], version: str) -> None:
    statement = fhir_json(client.get(f"/fhir/{version}/metadata"))

    MODELS[version]["CapabilityStatement"].model_validate(statement)
    assert statement["fhirVersion"] == {"r4": "4.0.1", "r5": "5.0.0"}[version]
    assert statement["implementation"]["url"].endswith(f"/fhir/{version}")


def test_r5_serves_the_status_history_as_encounter_history(
    client: TestClient[Any], schedule: Callable[..., str], clerk: Headers
) -> None:
    visit_id = schedule()
    client.post(f"{API}/{visit_id}/arrive", json={}, headers=clerk)

    for encounter in (visit_id, f"Encounter/{visit_id}"):
        reply = client.get("/fhir/r5/EncounterHistory", params={"encounter": encounter},
                           headers=clerk)  # fmt: skip
        bundle = fhir_json(reply)
        BundleR5.model_validate(bundle)
        assert [e["resource"]["status"] for e in bundle["entry"]] == ["planned", "in-progress"]
    first = bundle["entry"][0]
    assert first["fullUrl"].endswith(f"/fhir/r5/EncounterHistory/{visit_id}-1")
    read = fhir_json(client.get(f"/fhir/r5/EncounterHistory/{visit_id}-1", headers=clerk))
    assert read == first["resource"]
    outcome(client.get(f"/fhir/r5/EncounterHistory/{visit_id}-3", headers=clerk), 404,
            "not-found")  # fmt: skip
    nothing = fhir_json(client.get("/fhir/r5/EncounterHistory", headers=clerk,
                                   params={"encounter": str(uuid4())}))  # fmt: skip
    assert "entry" not in nothing
    # R4 keeps it in Encounter.statusHistory: no such resource there.
    outcome(client.get(f"/fhir/r4/EncounterHistory/{visit_id}-1", headers=clerk), 404,
            "not-found")  # fmt: skip
    statements = {version: fhir_json(client.get(f"/fhir/{version}/metadata"))
                  for version in VERSIONS}  # fmt: skip
    served = {version: {r["type"] for r in statement["rest"][0]["resource"]}
              for version, statement in statements.items()}  # fmt: skip
    both = {"Encounter", "Appointment", "Location", "Schedule", "Slot"}
    assert served == {"r4": both, "r5": both | {"EncounterHistory"}}


# ---- errors: every one an OperationOutcome ------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_ids_are_404(client: TestClient[Any], clerk: Headers, version: str) -> None:
    for raw in (str(uuid4()), "not-a-uuid"):
        for kind in ("Encounter", "Appointment"):
            outcome(client.get(f"/fhir/{version}/{kind}/{raw}", headers=clerk), 404,
                    "not-found")  # fmt: skip


def test_an_id_of_another_kind_of_record_is_404(
    client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    body = {"channel": "written", "receivedAt": iso(now() - timedelta(minutes=5)),
            "complainantRef": "C-1", "categories": ["communication"], "summary": "late",
            "policy": "nhs-england-2009", "serviceUnit": "OPD-1"}  # fmt: skip
    reply = client.post("/api/v1/complaints", json=body, headers=auth("manager"))
    assert reply.status_code == 201, reply.text
    complaint = reply.json()["id"]

    outcome(client.get(f"/fhir/r4/Encounter/{complaint}", headers=auth("clerk")), 404,
            "not-found")  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
def test_no_token_or_a_bad_one_is_401(
    client: TestClient[Any], schedule: Callable[..., str], version: str
) -> None:
    path = f"/fhir/{version}/Encounter/{schedule()}"

    missing = client.get(path)
    outcome(missing, 401, "login")
    assert missing.headers["www-authenticate"] == 'Bearer realm="patient-services"'
    forged = client.get(path, headers={"Authorization": "Bearer not.a.token"})
    outcome(forged, 401, "login")
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    outcome(client.get(f"/fhir/{version}/Encounter?patient=P-1"), 401, "login")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_role_that_may_not_read_visits_is_403_and_recorded(
    client: TestClient[Any],
    schedule: Callable[..., str],
    auth: Callable[..., Headers],
    memory_services: PatientServices,
    version: str,
) -> None:
    visit_id = schedule()
    before = position(memory_services)

    reply = client.get(f"/fhir/{version}/Encounter/{visit_id}", headers=auth("finance"))

    outcome(reply, 403, "forbidden")
    attempt = only_attempt_since(memory_services, before)
    assert (attempt.outcome, attempt.action) == ("denied", "read visits")
    assert (attempt.target_type, attempt.target_id) == ("PatientVisit", visit_id)


def test_every_visit_reader_may_read(
    client: TestClient[Any], schedule: Callable[..., str], auth: Callable[..., Headers]
) -> None:
    visit_id = schedule()
    for role in ("clerk", "nurse", "clinician", "manager", "auditor"):
        reply = client.get(f"/fhir/r5/Encounter/{visit_id}", headers=auth(role))
        assert reply.status_code == 200, role


def test_invalid_search_parameters_are_400(client: TestClient[Any], clerk: Headers) -> None:
    for query in ("patient=P-1&_count=0", "patient=P-1&status=arrived", "identifier=a|b|c",
                  "patient=P-1&_cursor=nope"):  # fmt: skip
        # arrived is an R4 code, not an R5 one.
        body = outcome(client.get(f"/fhir/r5/Encounter?{query}", headers=clerk), 400, "invalid")
        assert body["issue"][0]["diagnostics"].split(":")[0] in {
            "_count", "status", "identifier", "_cursor",
        }  # fmt: skip


def test_a_search_by_status_alone_is_refused(client: TestClient[Any], clerk: Headers) -> None:
    for query in ("", "?status=planned"):
        body = outcome(client.get(f"/fhir/r4/Encounter{query}", headers=clerk), 403,
                       "too-costly")  # fmt: skip
        assert "identifier or patient" in body["issue"][0]["diagnostics"]


def test_a_search_without_the_read_models_is_503(client: TestClient[Any], clerk: Headers) -> None:
    # ``client`` has no read database: the flow read model cannot answer.
    reply = client.get("/fhir/r4/Encounter?patient=P-1", headers=clerk)
    outcome(reply, 503, "transient")
    assert reply.headers["retry-after"]


def test_writes_are_405_and_unknown_paths_404(client: TestClient[Any], clerk: Headers) -> None:
    visit = f"/fhir/r4/Encounter/{uuid4()}"
    for method, path in (("POST", "/fhir/r4/Encounter"), ("PUT", visit), ("DELETE", visit),
                         ("POST", "/fhir/r5/metadata"), ("HEAD", visit),
                         ("PATCH", f"{visit}/_history/1")):  # fmt: skip
        reply = client.request(method, path, headers=clerk, json={"resourceType": "Encounter"})
        assert reply.status_code == 405 and reply.headers["allow"] == "GET"
        if method != "HEAD":  # a HEAD answer has no body
            outcome(reply, 405, "not-supported")
    for path in ("/fhir/r4/Patient/1", "/fhir/r5", "/fhir/r5/Observation?patient=P-1",
                 f"{visit}/x", f"{visit}/_history/1/x", "/fhir/r4/metadata/x"):  # fmt: skip
        outcome(client.get(path, headers=clerk), 404, "not-found")


def test_an_unexpected_error_is_500_naming_only_the_correlation_id(
    client: TestClient[Any],
    schedule: Callable[..., str],
    clerk: Headers,
    memory_services: PatientServices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visit_id = schedule()

    def broken(_visit_id: Any) -> Any:
        raise RuntimeError("SELECT * FROM patients WHERE mrn = 'P-1001'")

    monkeypatch.setattr(memory_services, "visit_events", broken)
    reply = client.get(f"/fhir/r4/Encounter/{visit_id}",
                       headers={**clerk, "X-Correlation-Id": "fhir-boom-1"})  # fmt: skip

    body = outcome(reply, 500, "exception")
    assert "fhir-boom-1" in body["issue"][0]["diagnostics"]
    assert "P-1001" not in reply.text and "SELECT" not in reply.text
