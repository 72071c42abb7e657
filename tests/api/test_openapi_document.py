"""The OpenAPI document states the constraints the service enforces (the contract test in
tests/integration/test_openapi_contract.py checks the service against all of it; these are
the fast, named checks of what Litestar's generation left out)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from domain.shared.money import CURRENCY_EXPONENTS
from tests.support.api import Headers


@pytest.fixture
def document(client: TestClient[Any]) -> dict[str, Any]:
    reply = client.get("/schema/openapi.json")
    assert reply.status_code == 200
    return dict(reply.json())


def _parameters(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        parameter
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == name
    ]


def test_min_position_is_documented_as_at_least_zero(document: dict[str, Any]) -> None:
    declared = _parameters(document, "minPosition")
    # Every read-model route: the visit search, the audit entry and the disclosures among them.
    assert len(declared) == 21
    assert all(parameter["schema"]["minimum"] == 0 for parameter in declared)


@pytest.mark.parametrize(
    ("header", "valid", "invalid"),
    [
        ("If-Match", ['"3"', 'W/"3"', "3", "*"], ["null", '"0"', "three", ""]),
        ("Idempotency-Key", ["k-1", "A" * 200], ["", "has space", "A" * 201, "null\u00e9"]),
        ("X-On-Behalf-Of", ["alice", "u@x.org"], ["", "-lead", "has space", "a" * 101]),
        ("X-Source-System", ["hl7-feed"], ["", "a/b c"]),
        ("X-Source-Message-Id", ["MSH.10:42"], ["", "x" * 101]),
    ],
)
def test_header_parameters_are_plain_strings_with_the_pattern_and_length_enforced(
    document: dict[str, Any], header: str, valid: list[str], invalid: list[str]
) -> None:
    declared = _parameters(document, header)
    assert declared
    for parameter in declared:
        schema = parameter["schema"]
        # Not oneOf [string, null]: a header is text or absent, and "null" is refused.
        assert schema["type"] == "string" and "oneOf" not in schema
        assert "maxLength" in schema
        for value in valid:
            assert _allows(schema, value), value
        for value in invalid:
            assert not _allows(schema, value), value


def _allows(schema: dict[str, Any], value: str) -> bool:
    return (
        schema.get("minLength", 0) <= len(value) <= schema["maxLength"]
        and re.search(schema["pattern"], value) is not None
    )


def test_the_headers_the_document_allows_are_accepted(
    client: TestClient[Any], auth: Any, schedule: Any
) -> None:
    visit = schedule()
    headers: Headers = {
        **auth("clerk", "integration"),
        "If-Match": '"1"',
        "Idempotency-Key": "A" * 200,
        "X-On-Behalf-Of": "u@x.org",
        "X-Source-System": "hl7-feed",
        "X-Source-Message-Id": "MSH.10:42",
    }
    reply = client.post(f"/api/v1/visits/{visit}/cancel", json={"reason": "moved"}, headers=headers)
    assert reply.status_code == 200, reply.text


def test_currencies_are_an_enum_of_the_supported_codes(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    supported = sorted(CURRENCY_EXPONENTS)
    assert schemas["MoneyAmount"]["properties"]["currency"]["enum"] == supported
    assert schemas["CreateBudgetLine"]["properties"]["currency"]["enum"] == supported
    amount = schemas["MoneyAmount"]["properties"]["amount"]["pattern"]
    assert re.search(amount, "999999999999999.999")
    assert not re.search(amount, "1000000000000000") and not re.search(amount, "1.2345")


def test_list_items_carry_their_length_and_pattern(document: dict[str, Any]) -> None:
    categories = document["components"]["schemas"]["RegisterComplaint"]["properties"]["categories"]
    assert categories["items"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/ -]*$",
    }


def test_command_bodies_refuse_unknown_fields_in_the_document_too(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ScheduleVisit", "RegisterComplaint", "MoneyAmount", "ResponseChecklist"):
        assert schemas[name]["additionalProperties"] is False, name


def test_the_export_documents_the_media_types_it_sends(document: dict[str, Any]) -> None:
    ok = document["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"text/csv", "application/fhir+ndjson"}


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    assert document["openapi"].startswith("3.1")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in
              OpenAPIV31SpecValidator(document).iter_errors()]  # fmt: skip
    assert errors == []


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_every_request_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    import jsonschema

    bodies = [
        (f"{method} {path}", media)
        for path, method, operation in _operations(document)
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    assert len(bodies) >= 60
    for where, media in bodies:
        assert "example" in media, where
        schema = {**media["schema"], "components": document["components"]}
        jsonschema.validate(media["example"], schema, format_checker=jsonschema.FormatChecker())


def test_the_booking_example_is_a_visit_the_service_books(
    document: dict[str, Any], client: TestClient[Any], clerk: Headers
) -> None:
    example = document["paths"]["/api/v1/visits"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    reply = client.post("/api/v1/visits", json=example, headers=clerk)
    assert reply.status_code == 201, reply.text


def test_challenges_and_retry_after_are_documented(document: dict[str, Any]) -> None:
    responses = [operation["responses"] for _, _, operation in _operations(document)]
    unauthorised = [r["401"] for r in responses if "401" in r]
    unavailable = [r["503"] for r in responses if "503" in r]
    assert len(unauthorised) > 60 and len(unavailable) > 60
    assert all(r["headers"]["WWW-Authenticate"]["schema"]["type"] == "string" for r in unauthorised)
    assert all(r["headers"]["Retry-After"]["schema"]["type"] == "integer" for r in unavailable)


def test_every_response_header_has_a_schema(document: dict[str, Any]) -> None:
    headers = [
        (f"{method} {path} {status} {name}", header)
        for path, method, operation in _operations(document)
        for status, response in operation["responses"].items()
        for name, header in response.get("headers", {}).items()
    ]
    assert len(headers) > 200
    assert [where for where, header in headers if "schema" not in header] == []


def _properties(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (schema_name, name, prop)
        for schema_name, schema in document["components"]["schemas"].items()
        for name, prop in schema.get("properties", {}).items()
    ]


def test_properties_carry_the_descriptions_their_fields_are_documented_with(
    document: dict[str, Any],
) -> None:
    properties = _properties(document)
    described = [entry for entry in properties if entry[2].get("description")]
    missing = sorted(
        f"{schema}.{name}" for schema, name, prop in properties if not prop.get("description")
    )
    print(f"{len(described)} of {len(properties)} properties described; missing: {missing}")
    # Every property has a `#:` comment on its field or a glossary entry (a new field without
    # one fails here, naming itself).
    assert missing == []


def test_a_description_is_the_fields_own_comment_joined_or_else_the_glossarys(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    # A two-line `#:` comment in adapters/http/visits.py, joined into one sentence.
    assert schemas["VisitState"]["properties"]["status"]["description"] == (
        "The visit's state: scheduled, arrived, triaged, with_clinician, admitted, on_leave, "
        "discharged, closed, cancelled, no_show, left_without_being_seen or entered_in_error."
    )
    # A field without a comment of its own: the glossary's meaning of its wire name.
    from adapters.http.openapi_descriptions import GLOSSARY

    described = [
        prop["description"]
        for schema in schemas.values()
        for name, prop in schema.get("properties", {}).items()
        if name == "patientRef"
    ]
    assert GLOSSARY["patientRef"] in described
