"""What the OpenAPI document needs beyond what Litestar generates from the routes.

Litestar cannot attach headers to a route's additional (error) responses, nor an example to a
request body it derives from a Struct. So, once, when the document is first built:

* every 401 documents ``WWW-Authenticate`` (the bearer challenge of RFC 6750 §3), and every
  503 (and 429) ``Retry-After``, as the problem map (``kit/problems.py``) sends them;
* every JSON request body without an example gets one built from its own schema: the
  required properties (and a ``reason``), each with a value its constraints accept
  (``tests/api/test_openapi_document.py`` validates each example against its schema);
* every schema and property without a description takes the one its Struct's code gives it
  (``openapi_descriptions.py``).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIHeader, OpenAPIType, Reference, Schema

from adapters.http.openapi_descriptions import describe

_WWW_AUTHENTICATE = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    description='The bearer challenge (RFC 6750): `Bearer realm="patient-services"`, with '
    '`error="invalid_token"` and a description when a token was sent but refused.',
)
_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
    description="Seconds to wait before trying again (RFC 9110 §10.2.3).",
)
_HEADERS_BY_STATUS = {
    "401": {"WWW-Authenticate": _WWW_AUTHENTICATE},
    "429": {"Retry-After": _RETRY_AFTER},
    "503": {"Retry-After": _RETRY_AFTER},
}

#: Values for properties whose meaning a generic value would hide.
_NAMED_VALUES: dict[str, Any] = {
    "patientRef": "P-1001",
    "subjectRef": "P-1001",
    "serviceUnit": "ED",
    "unit": "ED",
    "location": "ED-BAY-3",
    "costCentre": "CC-4410",
    "reason": "Requested by the patient",
    "currency": "GBP",
}
_SAMPLE_TIME = "2026-11-27T08:15:00Z"
#: Tried in order against a string's pattern (an identifier, an amount, a UTC time, a date).
_SAMPLE_STRINGS = ("EX-1", "125.00", _SAMPLE_TIME, "2026-11-27")


class _CompletedOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        openapi = super()._build_openapi()
        complete(openapi)
        return openapi


def complete_openapi_of(app: Litestar) -> None:
    """Make ``app``'s document :func:`complete` when it is first built (lazily, as Litestar
    builds it: most apps, the tests' among them, never serve it)."""
    # Litestar creates its OpenAPI plugin itself; it has no hook after the build, so the
    # instance is given this subclass (same slots), whose build completes the document.
    app.plugins.get(OpenAPIPlugin).__class__ = _CompletedOpenAPIPlugin


def complete(openapi: OpenAPI) -> None:
    schemas = openapi.components.schemas if openapi.components else None
    if schemas:
        describe(schemas)
    for path_item in (openapi.paths or {}).values():
        for operation in (
            path_item.get, path_item.put, path_item.post, path_item.delete, path_item.patch,
            path_item.head, path_item.options,
        ):  # fmt: skip
            if operation is None:
                continue
            for status, response in (operation.responses or {}).items():
                extra = _HEADERS_BY_STATUS.get(str(status))
                if extra and not isinstance(response, Reference):
                    response.headers = {**(response.headers or {}), **extra}
            body = operation.request_body
            if body is None or isinstance(body, Reference):
                continue
            for media in body.content.values():
                if media.example is None and not media.examples and media.schema is not None:
                    media.example = example_of(media.schema, schemas or {})


def example_of(
    schema: Schema | Reference | None, schemas: dict[str, Schema], name: str = ""
) -> Any:
    """A value ``schema`` accepts: required properties only (and ``reason``), the first
    enum value, the minimum of a range, a sample identifier or time for a string."""
    if schema is None:  # an array without ``items``: anything goes
        return None
    if isinstance(schema, Reference):
        return example_of(schemas[schema.ref.rsplit("/", 1)[-1]], schemas, name)
    if schema.one_of:
        not_null = [s for s in schema.one_of if getattr(s, "type", None) != OpenAPIType.NULL]
        return example_of(not_null[0], schemas, name) if not_null else None
    if schema.examples:  # the field's own (msgspec.Meta(examples=...))
        return next(
            iter(schema.examples.values() if isinstance(schema.examples, dict) else schema.examples)
        )
    if schema.enum:
        return schema.enum[0]
    kind = schema.type
    if kind == OpenAPIType.OBJECT or schema.properties:
        required = set(schema.required or ())
        return {
            key: example_of(value, schemas, key)
            for key, value in (schema.properties or {}).items()
            if key in required or key == "reason"
        }
    if kind == OpenAPIType.ARRAY:
        count = schema.min_items or 0
        return [example_of(schema.items, schemas, name) for _ in range(count)] if count else []
    if kind in (OpenAPIType.INTEGER, OpenAPIType.NUMBER):
        low = schema.minimum if schema.minimum is not None else 1
        value = low if schema.exclusive_minimum is None else low + 1
        return int(value) if kind == OpenAPIType.INTEGER else value
    if kind == OpenAPIType.BOOLEAN:
        return False
    if kind == OpenAPIType.NULL:
        return None
    if schema.format == "date-time":
        return _SAMPLE_TIME
    if schema.format == "date":
        return _SAMPLE_STRINGS[3]
    if schema.format == "uuid":
        return "3f2c1a7e-9b0d-4c6e-8a51-2d7f0b9e4c13"
    shortest, longest = schema.min_length or 0, schema.max_length or 10_000
    named = (_NAMED_VALUES[name],) if name in _NAMED_VALUES else ()
    # Last, for a fixed-length code (a hash, a signature): as many digits or letters as it
    # must have, by its length bounds or its pattern's counts (``[0-9a-f]{64}``).
    lengths = {max(shortest, 1), *(int(n) for n in re.findall(r"\{(\d+)\}", schema.pattern or ""))}
    padded = [fill * n for n in sorted(lengths) for fill in "0A"]
    for candidate in (*named, *_SAMPLE_STRINGS, *padded):
        fits = shortest <= len(candidate) <= longest
        if fits and (schema.pattern is None or re.search(schema.pattern, candidate)):
            return candidate
    return _SAMPLE_STRINGS[0]
