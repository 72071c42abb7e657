"""Every error is an RFC 9457 problem with a stable code; refusals record nothing; a 500 tells
nothing but the correlation id."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError
from litestar.testing import TestClient

import adapters.http.kit.problems as problems
from adapters.http.app import create_app
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.errors import VersionConflictError
from application.shared.idempotency import Fingerprints
from tests.support.api import (
    API,
    Headers,
    LogRecorder,
    iso,
    now,
    only_attempt_since,
    position,
    visit_body,
)

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code", "correlationId"}


def assert_problem(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    problem = reply.json()
    assert PROBLEM_MEMBERS <= set(problem)
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["type"] == "https://patient-services.example/problems/" + code.lower().replace(
        "_", "-"
    )
    assert problem["correlationId"] == reply.headers["X-Correlation-Id"]
    return problem


# ---- 400: input that does not decode ---------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "message_part"),
    [
        (visit_body(patientRef=12), "patientRef", "Expected `str`"),
        (visit_body(unexpected="x"), "unexpected", "unknown field"),
        (
            {"patientRef": "P-1", "visitClass": "AMB", "serviceUnit": "U"},
            "scheduledStart",
            "missing required field",
        ),
        (visit_body(scheduledStart="2030-01-01T10:00:00"), "scheduledStart", "with an offset"),
        (visit_body(scheduledStart="next tuesday"), "scheduledStart", "RFC3339"),
        (visit_body(patientRef="Jane Doe; DOB 1970-01-01"), "patientRef", "regex"),
        ([1, 2], None, "Expected `object`"),
    ],
    ids=[
        "wrong-type",
        "unknown-field",
        "missing-field",
        "no-offset",
        "not-a-time",
        "pattern",
        "not-an-object",
    ],
)
def test_a_body_that_does_not_decode_is_400_naming_the_field(
    client: TestClient[Any],
    clerk: Headers,
    memory_services: PatientServices,
    body: Any,
    field: str | None,
    message_part: str,
) -> None:
    reply = client.post(API, json=body, headers=clerk)

    problem = assert_problem(reply, 400, "VALIDATION")
    [error] = problem["errors"]
    assert error["field"] == field
    assert message_part in error["message"]
    assert position(memory_services) == 0


def test_nested_fields_are_named_by_their_camel_case_path(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()
    body = {"changes": {"scheduledEnd": "2030-01-01T10:00:00"}}

    reply = client.post(f"{API}/{visit_id}/correct-details", json=body, headers=clerk)

    assert assert_problem(reply, 400, "VALIDATION")["errors"][0]["field"] == "changes.scheduledEnd"


def test_malformed_json_is_400_for_the_body_as_a_whole(
    client: TestClient[Any], clerk: Headers
) -> None:
    reply = client.post(
        API, content=b'{"patientRef": ', headers={**clerk, "Content-Type": "application/json"}
    )

    problem = assert_problem(reply, 400, "VALIDATION")
    assert problem["errors"][0]["field"] is None
    assert "not valid JSON" in problem["errors"][0]["message"]


def test_invalid_utf8_in_the_body_is_400_and_records_nothing(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    before = position(memory_services)

    reply = client.post(
        f"{API}/{visit_id}/arrive",
        content=b'{"arrivalMode":"\xff\xfe"}',
        headers={**clerk, "Content-Type": "application/json"},
    )

    problem = assert_problem(reply, 400, "VALIDATION")
    assert problem["errors"] == [{"field": None, "message": "the body is not valid UTF-8"}]
    assert position(memory_services) == before


def test_an_invalid_code_is_refused_without_echoing_the_value(
    client: TestClient[Any], clerk: Headers
) -> None:
    reply = client.post(API, json=visit_body(visitClass="Jane-Doe-1970"), headers=clerk)

    problem = assert_problem(reply, 400, "VALIDATION")
    assert problem["errors"][0]["field"] == "visitClass"
    assert "Jane-Doe-1970" not in reply.text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("If-Match", "version-two"),
        ("If-Match", '"0"'),
        ("If-Match", '"1", "2"'),
        ("Idempotency-Key", "has a space"),
        ("Idempotency-Key", "k" * 201),
        ("X-On-Behalf-Of", "Dr Jane Doe"),
    ],
)
def test_a_malformed_header_is_400_naming_the_header_and_records_nothing(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
    header: str,
    value: str,
) -> None:
    visit_id = schedule()
    before = position(memory_services)

    reply = client.post(f"{API}/{visit_id}/arrive", json={}, headers={**clerk, header: value})

    assert assert_problem(reply, 400, "VALIDATION")["errors"][0]["field"] == header
    assert position(memory_services) == before


def test_an_occurred_at_more_than_five_minutes_ahead_is_400(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    before = position(memory_services)
    body = {"occurredAt": iso(now() + timedelta(minutes=6))}

    reply = client.post(f"{API}/{visit_id}/arrive", json=body, headers=clerk)

    problem = assert_problem(reply, 400, "VALIDATION")
    assert problem["errors"][0]["field"] == "occurredAt"
    assert position(memory_services) == before


def test_a_late_entry_in_the_past_is_accepted(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()
    body = {"occurredAt": iso(now() - timedelta(hours=3))}

    assert client.post(f"{API}/{visit_id}/arrive", json=body, headers=clerk).status_code == 200


def test_a_domain_validation_error_is_400_with_its_field(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    start = now() + timedelta(days=1)
    body = visit_body(scheduledStart=iso(start), scheduledEnd=iso(start - timedelta(hours=1)))

    reply = client.post(API, json=body, headers=clerk)

    problem = assert_problem(reply, 400, "VALIDATION")
    assert problem["errors"][0]["field"] == "scheduledEnd"
    assert position(memory_services) == 0


# ---- 415: a body that is not sent as JSON ----------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8", ""],
)
def test_a_body_sent_as_another_media_type_is_415_and_records_nothing(
    client: TestClient[Any],
    clerk: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
    content_type: str,
) -> None:
    visit_id = schedule()
    before = position(memory_services)
    headers = {**clerk, "Content-Type": content_type}

    action = client.post(f"{API}/{visit_id}/arrive", content=b"{}", headers=headers)
    creation = client.post(API, content=json.dumps(visit_body()).encode(), headers=headers)

    assert_problem(action, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_problem(creation, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert position(memory_services) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", "application/merge-patch+json", None],
)
def test_a_json_body_or_one_without_content_type_is_accepted(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str], content_type: str | None
) -> None:
    visit_id = schedule()
    headers = clerk if content_type is None else {**clerk, "Content-Type": content_type}

    reply = client.post(f"{API}/{visit_id}/arrive", content=b"{}", headers=headers)

    assert reply.status_code == 200, reply.text


def test_an_empty_body_needs_no_json_content_type(
    client: TestClient[Any], clerk: Headers, schedule: Callable[..., str]
) -> None:
    visit_id = schedule()

    reply = client.post(f"{API}/{visit_id}/arrive", headers={**clerk, "Content-Type": "text/plain"})

    assert reply.status_code == 200, reply.text


# ---- 409: business rules -------------------------------------------------------------------
def test_an_invalid_transition_is_409_and_records_only_the_attempt(
    client: TestClient[Any], auth: Callable[..., Headers], schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:  # fmt: skip
    visit_id = schedule()
    before = position(memory_services)

    reply = client.post(
        f"{API}/{visit_id}/triage",
        json={"acuityScale": "ESI", "acuityLevel": 2},
        headers=auth("nurse"),
    )

    problem = assert_problem(reply, 409, "INVALID_TRANSITION")
    assert "scheduled" in problem["detail"]
    # The visit is unchanged; the refused attempt is recorded for the audit trail.
    refusal = only_attempt_since(memory_services, before)
    assert (refusal.outcome, refusal.code, refusal.action) == (
        "refused", "INVALID_TRANSITION", "RecordTriage",
    )  # fmt: skip
    assert refusal.correlation_id == problem["correlationId"]


def test_a_step_timed_before_an_earlier_step_is_409_timestamp_order(
    client: TestClient[Any],
    staff: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    arrival = now() - timedelta(hours=1)
    client.post(f"{API}/{visit_id}/arrive", json={"occurredAt": iso(arrival)}, headers=staff)
    before = position(memory_services)
    body = {
        "acuityScale": "ESI",
        "acuityLevel": 2,
        "occurredAt": iso(arrival - timedelta(minutes=10)),
    }

    reply = client.post(f"{API}/{visit_id}/triage", json=body, headers=staff)

    assert_problem(reply, 409, "TIMESTAMP_ORDER")
    assert only_attempt_since(memory_services, before).code == "TIMESTAMP_ORDER"


# ---- 413, 404/405 for unknown routes ----------------------------------------------------------
def test_a_body_over_the_limit_is_413(
    client: TestClient[Any], clerk: Headers, settings: Settings, memory_services: PatientServices
) -> None:
    padding = "x" * settings.max_body_bytes
    body = visit_body(reason=padding)

    reply = client.post(API, json=body, headers=clerk)

    assert_problem(reply, 413, "PAYLOAD_TOO_LARGE")
    assert position(memory_services) == 0


def test_an_unknown_route_is_a_404_problem(client: TestClient[Any], clerk: Headers) -> None:
    reply = client.get("/api/v1/nothing-here", headers={"X-Correlation-Id": "corr-1"})

    assert_problem(reply, 404, "NOT_FOUND")
    assert reply.headers["X-Correlation-Id"] == "corr-1"


def test_an_unsupported_method_is_a_405_problem_with_allow(
    client: TestClient[Any], clerk: Headers
) -> None:
    reply = client.delete(f"{API}/{uuid4()}", headers=clerk)

    assert_problem(reply, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in reply.headers["Allow"]


# ---- 409/500/503 from the application, through stand-ins -------------------------------------
class FailingServices:
    """Stands in for PatientServices: every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.fingerprints = Fingerprints()  # read before a command runs

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    def get_aggregate(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    @property
    def recorder(self) -> Any:
        raise self.error


@pytest.fixture
def failing_client(settings: Settings) -> Iterator[Callable[[Exception], TestClient[Any]]]:
    clients: list[TestClient[Any]] = []

    def build(error: Exception) -> TestClient[Any]:
        test_client = TestClient(create_app(settings, FailingServices(error)))  # type: ignore[arg-type]
        clients.append(test_client.__enter__())
        return test_client

    yield build
    for test_client in clients:
        test_client.__exit__(None, None, None)


def test_an_unexpected_error_is_a_500_with_only_the_correlation_id(
    failing_client: Callable[[Exception], TestClient[Any]],
    clerk: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = LogRecorder()
    monkeypatch.setattr(problems, "log", log)
    secret = "SELECT * FROM visits WHERE patient_ref = 'P-1001'"
    client = failing_client(RuntimeError(secret))

    reply = client.post(API, json=visit_body(), headers={**clerk, "X-Correlation-Id": "corr-500"})

    problem = assert_problem(reply, 500, "INTERNAL_ERROR")
    assert "corr-500" in problem["detail"]
    for leak in ("SELECT", "P-1001", "RuntimeError", "Traceback", "OPD-1"):
        assert leak not in reply.text
    [(level, event, values)] = log.lines
    assert (level, event) == ("error", "request.failed")
    assert isinstance(values["exc_info"], RuntimeError)


def test_a_store_that_does_not_answer_is_503_with_retry_after(
    failing_client: Callable[[Exception], TestClient[Any]], clerk: Headers
) -> None:
    client = failing_client(OperationalError("could not connect to server at 10.0.0.5"))

    reply = client.get(f"{API}/{uuid4()}", headers=clerk)

    problem = assert_problem(reply, 503, "SERVICE_UNAVAILABLE")
    assert reply.headers["Retry-After"] == "5"
    assert "10.0.0.5" not in problem["detail"]


def test_a_command_that_keeps_losing_races_is_409_version_conflict(
    failing_client: Callable[[Exception], TestClient[Any]], clerk: Headers
) -> None:
    client = failing_client(VersionConflictError("gave up after 5 attempts"))

    reply = client.post(f"{API}/{uuid4()}/arrive", json={}, headers=clerk)

    assert_problem(reply, 409, "VERSION_CONFLICT")


def test_numbers_in_strings_are_not_coerced(
    client: TestClient[Any],
    staff: Headers,
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    visit_id = schedule()
    client.post(f"{API}/{visit_id}/arrive", json={}, headers=staff)
    before = position(memory_services)

    reply = client.post(
        f"{API}/{visit_id}/triage", json={"acuityScale": "ESI", "acuityLevel": "3"}, headers=staff
    )

    assert assert_problem(reply, 400, "VALIDATION")["errors"][0]["field"] == "acuityLevel"
    assert position(memory_services) == before


# ---- business times and feed identities -------------------------------------------------------
def test_a_walk_in_arriving_more_than_five_minutes_ahead_is_400(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    body = {"patientRef": "P-1", "visitClass": "EMER", "serviceUnit": "ED"}
    body["arrivalAt"] = iso(now() + timedelta(days=1))

    reply = client.post(f"{API}/walk-ins", json=body, headers=clerk)

    assert assert_problem(reply, 400, "VALIDATION")["errors"][0]["field"] == "arrivalAt"
    assert position(memory_services) == 0


def test_a_feed_message_id_reused_for_another_visit_is_422(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    schedule: Callable[..., str],
    memory_services: PatientServices,
) -> None:
    first, second = schedule(), schedule()
    feed = {**auth("integration"), "X-Source-System": "PAS", "X-Source-Message-Id": "MSG-9"}
    client.post(f"{API}/{first}/arrive", json={}, headers=feed)

    reply = client.post(f"{API}/{second}/arrive", json={}, headers=feed)

    assert reply.status_code == 422
