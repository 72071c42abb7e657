"""msgspec's and Litestar's validation messages as field errors: each names the offending input
as the client wrote it (a camelCase JSON path, a header or query parameter's name) and says
what is wrong in plain words, without ever echoing the client's input back.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar.exceptions import ValidationException

from adapters.http.kit.errors import FieldError, InvalidRequestError
from application.shared.commands import FREE_TEXT_PATTERN

_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `(?P<name>.*)`$", re.DOTALL)
#: An unknown key is the client's text, not one of our names, and may be personal data (a
#: patient's name or number sent as a key). It is named only if it has the shape of the
#: API's own field names (lower camelCase ASCII, short): then it is almost surely a
#: misspelt field (``patientref``), and naming it is what helps. Any other key (spaces,
#: capitals first, digits first, punctuation, long) is left out: the error names the object
#: holding it (a JSON path made of our field names only), or null for the body itself.
_SAFE_UNKNOWN_KEY = re.compile(r"[a-z][a-zA-Z0-9]{0,31}")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `.*`$", re.DOTALL)
UNKNOWN_FIELD_MESSAGE = "unknown field (the OpenAPI document lists the fields)"
#: msgspec quotes the offending value of an enum/Literal; input is never echoed back.
_ENUM_VALUE = re.compile(r"^Invalid enum value .*$", re.DOTALL)
#: Litestar's message for an absent required parameter (it goes on to quote the whole URL,
#: query string included, so only the parameter's declared name is taken from it).
_MISSING_PARAMETER = re.compile(r"^Missing required (?P<kind>\w+) parameter '(?P<name>[^']+)'")


def field_error_of(exc: msgspec.ValidationError) -> FieldError:
    """``Expected `int`, got `str` - at `$.changes.acuityLevel```
    → field ``changes.acuityLevel``."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any string
    message, path = match["message"], (match["path"] or "").lstrip(".")
    named = _NAMED_FIELD.search(message)
    if named and (
        message.startswith("Object missing") or _SAFE_UNKNOWN_KEY.fullmatch(named["name"])
    ):
        path = f"{path}.{named['name']}" if path else named["name"]
    return FieldError(path or None, _readable(message))


def _readable(message: str) -> str:
    """A msgspec message as shown to the client: plainer where it is cryptic, and never
    quoting the client's input (an enum value, an unknown key)."""
    if "timezone component" in message:
        return "must be an RFC 3339 time with an offset, e.g. 2026-11-27T08:15:00Z"
    if _UNKNOWN_FIELD.match(message):
        return UNKNOWN_FIELD_MESSAGE
    if message.startswith("Expected `str` matching regex") and repr(FREE_TEXT_PATTERN) in message:
        return "must not contain control characters (tab, line feed and carriage return allowed)"
    return _ENUM_VALUE.sub("Invalid value: not one of the allowed codes", message)


def body_error_of(exc: msgspec.DecodeError) -> InvalidRequestError:
    """The 400 for a request body msgspec refused (a ValidationError is a DecodeError)."""
    if isinstance(exc, msgspec.ValidationError):
        return InvalidRequestError([field_error_of(exc)])
    # msgspec's message names a byte position, never the input itself.
    return InvalidRequestError.of(None, f"the body is not valid JSON ({exc})")


def litestar_field_errors(exc: ValidationException, handler: Any) -> list[FieldError]:
    """Litestar's parameter errors, naming each parameter as the client sends it (``from``,
    ``If-Match``), not by the handler's argument."""
    missing = _MISSING_PARAMETER.match(exc.detail or "")
    if missing:
        return [FieldError(missing["name"], f"the {missing['kind']} parameter is required")]
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        FieldError(
            _wire_name(handler, str(item["key"])) if item.get("key") else None,
            _readable(str(item.get("message", ""))),
        )
        for item in extra
        if isinstance(item, dict)
    ]
    return errors or [FieldError(None, "invalid request")]


def _wire_name(handler: Any, key: str) -> str:
    parameters = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", {})
    declared = getattr(parameters.get(key), "kwarg_definition", None)
    return getattr(declared, "name", None) or _camel(key)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
