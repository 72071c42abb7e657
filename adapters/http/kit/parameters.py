"""Checks on query parameters and headers that Litestar's declarations cannot express.

Text query parameters declare :data:`QUERY_TEXT_PATTERN` (Litestar enforces it and the
OpenAPI document shows it). What a declaration cannot say is checked here, once for every
route, by :func:`check_parameters` (the app's ``before_request`` hook: after the role
guards, so a refused request is still refused before its input is looked at, and before
Litestar parses the parameters):

* a query time is RFC 3339 with an offset, as written: Litestar parses the text leniently,
  so ``at=0.5`` or ``from=1700000000`` were read as seconds since 1970;
* a header the route declares, and ``X-Correlation-Id``, holds no control characters (a
  NUL in a header cannot reach a PostgreSQL text column, and a C1 character passes the HTTP
  parser, which sees only bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg

from adapters.http.kit.correlation import CORRELATION_HEADER
from adapters.http.kit.errors import InvalidRequestError
from application.shared.commands import FREE_TEXT_PATTERN

#: Text query parameters (filters, cursors): no control characters, as in free text.
QUERY_TEXT_PATTERN = FREE_TEXT_PATTERN
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: RFC 3339 ``date-time``: a date, ``T`` (or a space, RFC 3339 §5.6 note), a time with
#: optional fraction, and ``Z`` or a numeric offset.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
TIME_MESSAGE = (
    "must be an RFC 3339 time with an offset, e.g. 2026-11-27T08:15:00Z (URL-encode '+' as %2B)"
)
CONTROL_CHARACTERS_MESSAGE = (
    "must not contain control characters (tab, line feed and carriage return allowed)"
)


async def check_parameters(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a malformed query time or a control character in a
    header the service reads, with a 400 naming it. Returns None, so the handler runs."""
    handler = request.route_handler
    declared = _DECLARED.get(handler.fn)
    if declared is None:
        declared = _DECLARED[handler.fn] = _declared(handler)
    times, headers = declared
    for name in times:
        for value in request.query_params.getall(name, ()):
            if not _RFC3339.fullmatch(value):
                raise InvalidRequestError.of(name, TIME_MESSAGE)
    for name in (*headers, CORRELATION_HEADER):
        for value in request.headers.getall(name, ()):
            if _CONTROL_CHARACTER.search(value):
                raise InvalidRequestError.of(name, CONTROL_CHARACTERS_MESSAGE)


#: By route function, not by handler: each app copies its handlers, and a cache holding
#: them kept every app ever built alive, with its stores (a test process grew to gigabytes).
_DECLARED: dict[Callable[..., Any], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _declared(handler: HTTPRouteHandler) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The handler's query parameters that are times, and its header parameters (by the
    names on the wire). Only parameters declared with ``QueryParameter``/``HeaderParameter``
    count: every route of this service declares its parameters so."""
    times: list[str] = []
    headers: list[str] = []
    for field_name, field in handler.parsed_fn_signature.parameters.items():
        declared = field.kwarg_definition
        if not isinstance(declared, ParameterKwarg):
            continue
        wire_name = declared.name or field_name
        if declared.param_type is ParamType.HEADER:
            headers.append(wire_name)
        elif declared.param_type is ParamType.QUERY and (
            field.is_subclass_of(datetime) or field.has_inner_subclass_of(datetime)  # | None
        ):
            times.append(wire_name)
    return tuple(times), tuple(headers)
