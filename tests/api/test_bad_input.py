"""Bad input at the door: query parameters, headers and tokens that once made a 500 (or were
quietly accepted) are 400/401 problems naming what was wrong, without echoing it back.

The query routes and their parameters are taken from the OpenAPI document, so a route or a
parameter added later is covered without editing this module."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import jwt
import msgspec
import pytest
from litestar.testing import TestClient

from adapters.auth_tokens import ALGORITHM, mint_token
from adapters.http.kit.field_errors import field_error_of
from adapters.http.kit.parameters import TIME_MESSAGE
from adapters.settings import Settings
from application.service import PatientServices
from application.shared.commands import FREE_TEXT_PATTERN
from tests.support.api import API, Headers, position, visit_body

#: Every role that reads something, so one token reaches every query route.
READER_ROLES = ("clerk", "nurse", "clinician", "manager", "auditor", "executive", "finance")
#: Valid values for the required query parameters, so only the one under test is bad.
REQUIRED_VALUES = {"fiscalYear": "2026", "format": "csv", "patientRef": "P-1", "date": "2027-01-04"}
#: The visit search needs one of its keys, a rule across parameters the document cannot mark
#: as `required` (other routes take the value as a filter, or ignore it).
ONE_KEY_OF = {"patientRef": "P-1"}
CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\x7f", "\x85"]


@pytest.fixture
def readers(auth: Callable[..., Headers]) -> Headers:
    return auth(*READER_ROLES)


@pytest.fixture
def query_client(idle_read_client: TestClient[Any]) -> TestClient[Any]:
    return idle_read_client


def _query_routes(client: TestClient[Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for path, item in client.get("/schema/openapi.json").json()["paths"].items():
        operation = item.get("get")
        if operation and path.startswith("/api/"):
            query = [p for p in operation.get("parameters", ()) if p["in"] == "query"]
            yield path.replace("{id}", str(uuid4())).replace("{position}", "1"), query


def _types(schema: dict[str, Any]) -> set[str]:
    alternatives = schema.get("oneOf", [schema])
    kinds = {kind for s in alternatives for kind in _as_list(s.get("type"))}
    return kinds - {"null"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _formats(schema: dict[str, Any]) -> set[str]:
    return {s.get("format") for s in schema.get("oneOf", [schema])} - {None}


def _parameters_where(
    client: TestClient[Any], keep: Callable[[dict[str, Any]], bool]
) -> list[tuple[str, str, dict[str, str]]]:
    """(path, parameter name, the other required parameters) for each matching parameter."""
    found = []
    for path, parameters in _query_routes(client):
        required = {p["name"]: REQUIRED_VALUES[p["name"]] for p in parameters if p.get("required")}
        for parameter in parameters:
            if keep(parameter["schema"]):
                others = {k: v for k, v in required.items() if k != parameter["name"]}
                found.append((path, parameter["name"], others))
    return found


def _is_text(schema: dict[str, Any]) -> bool:
    return (
        _types(schema) == {"string"}
        and "enum" not in schema
        and not {"date-time", "date"} & _formats(schema)  # parsed strictly, never text
    )


def _is_time(schema: dict[str, Any]) -> bool:
    return "date-time" in _formats(schema)


def assert_400_naming(reply: Any, field: str, message_part: str) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["code"] == "VALIDATION"
    [error] = problem["errors"]
    assert error["field"] == field, problem
    assert message_part in error["message"], problem
    return problem


# ---- control characters in text query parameters -------------------------------------------
def test_the_document_lists_text_query_parameters_of_every_read_model(
    query_client: TestClient[Any],
) -> None:
    names = {name for _, name, _ in _parameters_where(query_client, _is_text)}
    assert {"unit", "actor", "patientRef", "action", "assignee", "costCentre", "cursor"} <= names


def test_every_text_query_parameter_declares_that_it_refuses_control_characters(
    query_client: TestClient[Any],
) -> None:
    for path, parameters in _query_routes(query_client):
        for parameter in parameters:
            if _is_text(parameter["schema"]):
                assert parameter["schema"].get("pattern") == FREE_TEXT_PATTERN, (path, parameter)


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_a_control_character_in_any_text_query_parameter_is_a_400_naming_it(
    query_client: TestClient[Any], readers: Headers, character: str
) -> None:
    for path, name, others in _parameters_where(query_client, _is_text):
        reply = query_client.get(path, params={**others, name: f"a{character}b"}, headers=readers)
        assert_400_naming(reply, name, "control characters")
        assert f"a{character}b" not in reply.text
        assert "\\u00" not in reply.text, reply.text  # not echoed in JSON escapes either


def test_a_control_character_in_a_filter_records_no_export(
    query_client: TestClient[Any], readers: Headers, stored_services: PatientServices
) -> None:
    before = position(stored_services)
    reply = query_client.get(
        "/api/v1/audit/export", params={"format": "csv", "actor": "a\x00b"}, headers=readers
    )
    assert_400_naming(reply, "actor", "control characters")
    assert position(stored_services) == before


def test_an_enum_value_that_is_not_allowed_is_not_echoed(
    query_client: TestClient[Any], readers: Headers
) -> None:
    reply = query_client.get("/api/v1/audit/events?outcome=JaneDoe1970", headers=readers)
    assert_400_naming(reply, "outcome", "not one of the allowed")
    assert "JaneDoe1970" not in reply.text


# ---- times ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["0.5", "1700000000", "-1", "2026-11-27T08:15:00", "2026-11-27T08:15:00 01:00"]
)
def test_a_query_time_must_be_rfc_3339_with_an_offset(
    query_client: TestClient[Any], readers: Headers, value: str
) -> None:
    times = _parameters_where(query_client, _is_time)
    assert {name for _, name, _ in times} >= {"at", "from", "to", "asOf"}
    for path, name, others in times:
        reply = query_client.get(path, params={**others, name: value}, headers=readers)
        assert_400_naming(reply, name, "RFC 3339")
        if value not in TIME_MESSAGE:  # the example in the message is no echo
            assert value not in reply.text


@pytest.mark.parametrize("value", ["2026-11-27T08:15:00Z", "2026-11-27T09:15:00.5+01:00"])
def test_a_query_time_with_an_offset_is_taken(
    read_client: TestClient[Any], readers: Headers, value: str
) -> None:
    for path, name, others in _parameters_where(read_client, _is_time):
        reply = read_client.get(path, params={**others, name: value}, headers=readers)
        assert reply.status_code in (200, 404), (path, name, reply.text)


# ---- minPosition ----------------------------------------------------------------------------
def test_a_min_position_beyond_the_head_of_the_log_is_a_400_at_once(
    query_client: TestClient[Any], readers: Headers, stored_services: PatientServices
) -> None:
    head = position(stored_services)
    with_min_position = [
        path
        for path, parameters in _query_routes(query_client)
        if any(p["name"] == "minPosition" for p in parameters)
    ]
    assert len(with_min_position) >= 6
    for path in with_min_position:
        started = time.monotonic()
        params = {"minPosition": str(head + 1), "waitMs": "3000", **REQUIRED_VALUES, **ONE_KEY_OF}
        reply = query_client.get(path, params=params, headers=readers)
        assert time.monotonic() - started < 2, path
        problem = assert_400_naming(reply, "minPosition", f"head of the log is position {head}")
        assert str(head) in problem["detail"]


def test_a_min_position_at_the_head_is_answered(
    read_client: TestClient[Any], auth: Callable[..., Headers]
) -> None:
    created = read_client.post(API, json=visit_body(), headers=auth("clerk"))
    assert created.status_code == 201, created.text
    head = created.json()["position"]
    reply = read_client.get(
        "/api/v1/flow/board", params={"minPosition": head}, headers=auth("clerk")
    )
    assert reply.status_code == 200, reply.text
    assert int(reply.headers["X-Projection-Position"]) >= head


# ---- required parameters and unknown fields -------------------------------------------------
@pytest.mark.parametrize(
    ("path", "name"), [("/api/v1/budget/summary", "fiscalYear"), ("/api/v1/audit/export", "format")]
)
def test_a_missing_required_query_parameter_is_named(
    query_client: TestClient[Any], readers: Headers, path: str, name: str
) -> None:
    reply = query_client.get(path, params={"costCentre": "JaneDoe"}, headers=readers)
    problem = assert_400_naming(reply, name, "required")
    assert name in problem["detail"]
    assert "JaneDoe" not in reply.text  # Litestar's own message quotes the whole URL


def test_an_unknown_field_in_a_body_is_refused_without_echoing_its_name(
    client: TestClient[Any], clerk: Headers, memory_services: PatientServices
) -> None:
    reply = client.post(API, json=visit_body(JaneDoe1970=1), headers=clerk)
    assert_400_naming(reply, None, "unknown field")  # type: ignore[arg-type]
    assert "JaneDoe1970" not in reply.text
    assert position(memory_services) == 0


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    known: int = 0


class Outer(msgspec.Struct):
    changes: Inner


def test_an_unknown_field_shaped_like_our_field_names_is_named(
    client: TestClient[Any], clerk: Headers
) -> None:
    reply = client.post(API, json=visit_body(patientref="P-1"), headers=clerk)
    assert_400_naming(reply, "patientref", "unknown field")


def test_an_unknown_field_in_a_nested_object_names_the_object_only() -> None:
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.json.decode(b'{"changes": {"Jane Doe": 1}}', type=Outer)
    error = field_error_of(raised.value)
    assert error.field == "changes"
    assert "unknown field" in error.message and "Jane" not in error.message


# ---- headers --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    ["X-On-Behalf-Of", "X-Source-System", "X-Source-Message-Id", "Idempotency-Key", "If-Match"],
)
@pytest.mark.parametrize("character", ["\x00", "\x85"], ids=repr)
def test_a_control_character_in_a_command_header_is_a_400_naming_it(
    client: TestClient[Any],
    auth: Callable[..., Headers],
    memory_services: PatientServices,
    header: str,
    character: str,
) -> None:
    headers = {**auth("clerk", "integration"), header: f"a{character}b"}
    if header.startswith("X-Source"):  # they go together
        headers = {"X-Source-System": "pas", "X-Source-Message-Id": "m-1", **headers}
    visit = str(uuid4())
    path = f"{API}/{visit}/cancel" if header == "If-Match" else API
    body = {"reason": "x"} if header == "If-Match" else visit_body()
    reply = client.post(path, json=body, headers=_latin1(headers))
    assert_400_naming(reply, header, "")
    assert position(memory_services) == 0


@pytest.mark.parametrize("header", ["X-Correlation-Id", "If-None-Match"])
@pytest.mark.parametrize("character", ["\x00", "\x85"], ids=repr)
def test_a_control_character_in_a_read_header_is_a_400_naming_it(
    client: TestClient[Any], readers: Headers, header: str, character: str
) -> None:
    headers = {**readers, header: f'"1"{character}'}
    reply = client.get(f"{API}/{uuid4()}", headers=_latin1(headers))
    assert_400_naming(reply, header, "control characters")
    # The refused correlation id is not taken over: the answer carries a new one.
    assert reply.json()["correlationId"] == reply.headers["X-Correlation-Id"]
    assert character not in reply.headers["X-Correlation-Id"]


def test_a_plain_correlation_id_that_is_not_sane_is_still_replaced(
    client: TestClient[Any], readers: Headers
) -> None:
    reply = client.get(f"{API}/{uuid4()}", headers={**readers, "X-Correlation-Id": "a b"})
    assert reply.status_code == 404
    assert reply.headers["X-Correlation-Id"] != "a b"


def _latin1(headers: Headers) -> dict[str, bytes]:
    # httpx refuses str values holding control characters; the bytes go on the wire as given.
    return {name: value.encode("latin-1") for name, value in headers.items()}


# ---- tokens ---------------------------------------------------------------------------------
def _signed(settings: Settings, **claims: Any) -> Headers:
    payload = {"sub": "alice", "roles": ["clerk"], "exp": int(time.time()) + 600, **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, settings.jwt_secret, ALGORITHM)}"}


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**12},
        {"exp": 10**30},
        {"exp": float("inf")},
        {"exp": 2**62},
        {"iat": -(10**12)},
        {"iat": float("-inf")},
        {"iat": 1.5e300},
        {"nbf": 10**30},
        {"nbf": float("-inf")},
        {"sub": "ali\x00ce"},
        {"sub": "ali\nce"},
        {"sub": "ali\x85ce"},
        {"sub": "a" * 257},
        {"sub": "   "},
        {"roles": ["cl\x00erk"]},
        {"roles": ["clerk", "\x1b[31m"]},
    ],
    ids=repr,
)
def test_a_signed_token_with_claims_out_of_range_is_401(
    client: TestClient[Any], settings: Settings, claims: dict[str, Any]
) -> None:
    reply = client.get(f"{API}/{uuid4()}", headers=_signed(settings, **claims))
    assert reply.status_code == 401, reply.text
    problem = reply.json()
    assert problem["code"] == "UNAUTHENTICATED"
    assert "\\u00" not in reply.text and "\x00" not in reply.headers["WWW-Authenticate"]


def test_a_long_but_bounded_subject_is_taken(client: TestClient[Any], settings: Settings) -> None:
    reply = client.get(f"{API}/{uuid4()}", headers=_signed(settings, sub="a" * 256))
    assert reply.status_code == 404, reply.text


@pytest.mark.parametrize(
    ("sub", "roles", "ttl"),
    [
        ("ali\x00ce", ["clerk"], None),
        ("a" * 257, ["clerk"], None),
        ("alice", ["cl\nerk"], None),
        ("alice", ["clerk"], timedelta(days=365 * 300)),
    ],
    ids=["nul-in-sub", "long-sub", "newline-in-role", "expires-after-2200"],
)
def test_a_token_the_service_would_refuse_is_not_minted(
    settings: Settings, sub: str, roles: list[str], ttl: timedelta | None
) -> None:
    with pytest.raises(ValueError):
        mint_token(settings, sub, roles, ttl)


def test_every_route_runs_the_parameter_checks(client: TestClient[Any]) -> None:
    # Litestar runs only the innermost before_request hook: one set on a router or a handler
    # would silently replace the app's parameter checks for its routes.
    app = client.app
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            hooks = [layer.before_request for layer in handler.ownership_layers]
            assert [hook for hook in hooks if hook] == [app.before_request], handler
