"""/health, /ready, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings
from application.service import PatientServices
from application.visits.commands import VISIT_ACTIONS
from tests.support.api import API, Headers


def test_health_answers_without_a_token(client: TestClient[Any]) -> None:
    reply = client.get("/health")

    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}
    assert reply.headers["X-Correlation-Id"]


def test_ready_gives_the_newest_log_position(
    client: TestClient[Any], clerk: Headers, schedule: Any, memory_services: PatientServices
) -> None:
    assert client.get("/ready").json() == {"status": "ready", "position": 0}
    schedule()

    reply = client.get("/ready")

    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ready",
        "position": memory_services.recorder.max_notification_id(),
    }


class DownRecorder:
    def max_notification_id(self) -> int:
        raise ConnectionError("connection refused")


class DownServices:
    recorder = DownRecorder()


def test_ready_is_a_503_problem_when_the_store_does_not_answer(settings: Settings) -> None:
    with TestClient(create_app(settings, DownServices())) as client:  # type: ignore[arg-type]
        reply = client.get("/ready")

    assert reply.status_code == 503
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "refused" not in reply.text


def test_the_app_builds_its_own_services_and_closes_them(settings: Settings) -> None:
    app = create_app(settings)

    with TestClient(app) as client:
        assert client.get("/ready").json()["status"] == "ready"
        services = app.state["services"]
        assert isinstance(services, PatientServices)
    assert app.state["services"] is None


@pytest.fixture
def openapi(client: TestClient[Any]) -> dict[str, Any]:
    reply = client.get("/schema/openapi.json")
    assert reply.status_code == 200
    return dict(reply.json())


def test_the_openapi_document_lists_every_visit_route_with_its_body(
    openapi: dict[str, Any],
) -> None:
    paths = openapi["paths"]
    assert openapi["info"]["title"] == "Patient Services API"
    assert set(paths[API]) == {"post", "get"}  # booking, and the visit search
    assert set(paths[f"{API}/walk-ins"]) == {"post"}
    assert "get" in paths[f"{API}/{{id}}"]
    for action, command in VISIT_ACTIONS.items():
        operation = paths[f"{API}/{{id}}/{action}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{command.__name__}"}, action
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ScheduleVisit"]["required"]) == {
        "patientRef",
        "visitClass",
        "serviceUnit",
        "scheduledStart",
    }


def test_the_openapi_document_declares_bearer_auth_and_problem_responses(
    openapi: dict[str, Any],
) -> None:
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "HS256 JWT with claims sub, roles, exp",
    }  # fmt: skip
    arrive = openapi["paths"][f"{API}/{{id}}/arrive"]["post"]
    assert arrive["security"] == [{"bearerAuth": []}]
    for status in ("400", "401", "403", "404", "409", "412", "413", "415", "422", "500"):
        content = arrive["responses"][status]["content"]
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/ProblemDetails"
        }
    assert {"ETag", "Idempotent-Replayed"} <= set(arrive["responses"]["200"]["headers"])
    header_names = {p["name"] for p in arrive["parameters"] if p["in"] == "header"}
    assert {"If-Match", "Idempotency-Key"} <= header_names
    assert "security" not in openapi["paths"]["/health"]["get"]


def test_the_interactive_page_is_served_without_a_token(client: TestClient[Any]) -> None:
    reply = client.get("/schema")

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")


def test_the_openapi_document_says_what_an_idempotency_key_and_a_non_json_body_do(
    openapi: dict[str, Any],
) -> None:
    schedule = openapi["paths"][API]["post"]
    assert "415" in schedule["responses"]
    key = next(p for p in schedule["parameters"] if p["name"] == "Idempotency-Key")
    assert "accepted command" in key["description"]
    assert "Idempotent-Replayed: true" in key["description"]
    assert "422" in key["description"]
    assert "UNSUPPORTED_MEDIA_TYPE" in openapi["info"]["description"]
    as_of_version = next(
        p for p in openapi["paths"][f"{API}/{{id}}"]["get"]["parameters"]
        if p["name"] == "asOfVersion"
    )  # fmt: skip
    assert as_of_version["schema"]["maximum"] == 2**63 - 1
