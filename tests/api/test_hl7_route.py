"""``POST /api/v1/hl7``: one HL7 v2 message over HTTP, answered 200 with its ACK(s) as
``application/hl7-v2``; another media type is a 415 and a role other than integration a
403, both problems, recording nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings
from application.service import PatientServices
from tests.support.api import Headers
from tests.support.hl7 import HL7_MEDIA_TYPE, adt, err, last_position, msa, visit_of


def _post(
    client: TestClient[Any], headers: Headers, body: bytes, media_type: str = HL7_MEDIA_TYPE
) -> Any:
    return client.post("/api/v1/hl7", content=body, headers={**headers, "Content-Type": media_type})


def test_a_message_is_recorded_and_answered_with_its_ack(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    reply = _post(client, auth("integration"), adt("A04", "HTTP-1"))

    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(HL7_MEDIA_TYPE)
    assert reply.content.startswith(b"MSH|")
    assert msa(reply.content)[1:3] == ["AA", "HTTP-1"]
    visit = memory_services.get_visit(visit_of("V-1"))
    assert visit.status == "arrived"
    # The feed's envelope: the sending application as actor, the message as source.
    events = memory_services.visit_events(visit.id)
    assert events[0].actor_id == "hl7:EPIC"
    assert (events[0].source_system, events[0].source_message_id) == ("EPIC/UCLH", "HTTP-1")


def test_enhanced_mode_answers_the_accept_then_the_application_ack(
    client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    reply = _post(client, auth("integration"), adt("A04", "HTTP-2", ack_modes=("AL", "AL")))

    assert reply.status_code == 200
    segments = reply.content.split(b"\r")
    acks = [i for i, segment in enumerate(segments) if segment.startswith(b"MSH|")]
    assert acks == [0, 2]  # two ACKs, each beginning with its MSH
    assert msa(b"\r".join(segments[:2]))[1] == "CA"
    assert msa(b"\r".join(segments[2:]))[1] == "AA"


def test_a_resend_records_nothing_new_and_a_refusal_is_an_ae_in_a_200(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    integration = auth("integration")
    first = _post(client, integration, adt("A04", "HTTP-3"))
    recorded = last_position(memory_services)
    again = _post(client, integration, adt("A04", "HTTP-3"))
    refused = _post(client, integration, adt("A02", "HTTP-4", visit="V-404"))

    assert first.content.split(b"|")[9] == again.content.split(b"|")[9]
    assert msa(again.content)[1] == "AA"
    assert refused.status_code == 200
    assert msa(refused.content)[1] == "AE" and err(refused.content)[7] == "NOT_FOUND"
    assert last_position(memory_services) == recorded


def test_another_media_type_is_a_415_problem_and_records_nothing(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    integration = auth("integration")
    for media_type in ("text/plain", "application/json", "application/hl7-v2+xml"):
        reply = _post(client, integration, adt("A04", "HTTP-5"), media_type)

        assert reply.status_code == 415, media_type
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert HL7_MEDIA_TYPE in reply.json()["detail"]
    assert last_position(memory_services) == 0
    # A charset parameter is fine: the message's own MSH-18 says how it is encoded.
    charset = _post(client, integration, adt("A04", "HTTP-5"), HL7_MEDIA_TYPE + "; charset=utf-8")
    assert charset.status_code == 200


def test_roles_other_than_integration_get_a_403_problem(
    client: TestClient[Any], auth: Callable[..., Headers], memory_services: PatientServices
) -> None:
    for roles in (("clerk",), ("nurse", "clinician", "manager"), ("auditor",)):
        reply = _post(client, auth(*roles), adt("A04", "HTTP-6"))

        assert reply.status_code == 403, roles
        assert reply.json()["code"] == "NOT_AUTHORISED"
    assert client.post("/api/v1/hl7", content=b"MSH|").status_code == 401
    # Only the denials are recorded (audit trail), never the message: no visit exists.
    assert memory_services.visit_events(visit_of("V-1")) == []


def test_without_the_patient_ref_key_on_postgresql_the_route_is_a_503_problem(
    settings: Settings, memory_services: PatientServices, auth: Callable[..., Headers]
) -> None:
    on_postgres = replace(settings, database_url="postgresql://app@db.example/patients")
    with TestClient(create_app(on_postgres, memory_services)) as client:
        reply = _post(client, auth("integration"), adt("A04", "HTTP-7"))

    assert reply.status_code == 503
    assert reply.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "PATIENT_REF_SECRET" in reply.json()["detail"]
    assert last_position(memory_services) == 0
