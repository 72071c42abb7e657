"""The one map from exceptions to RFC 9457 problem details (``application/problem+json``).

Every error response of the service is built here, whatever raised it: the domain and the
application (stable codes of domain-spec §0), input that does not decode, authentication,
Litestar's own routing and body-size errors, and anything unexpected. Handlers never catch
exceptions to shape errors themselves. The HTTP layer's own exceptions are in
:mod:`adapters.http.kit.errors`, the wording of validation messages in
:mod:`adapters.http.kit.field_errors`.

Problem ``type`` URIs are ``https://patient-services.example/problems/<code>``, the stable code
in lower case with dashes (``INVALID_TRANSITION`` → ``…/problems/invalid-transition``); the
``code`` member carries the code itself. Every problem also carries ``correlationId``.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import (
    AuthenticationError,
    FieldError,
    InvalidRequestError,
    ProjectionLaggingError,
    ProjectionRebuildingError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from adapters.http.kit.field_errors import litestar_field_errors
from application.shared.errors import (
    IdempotencyKeyReusedError,
    NotAuthorisedError,
    NotFoundError,
    PreconditionFailedError,
    VersionConflictError,
)
from domain.shared.errors import DomainError, DomainValidationError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://patient-services.example/problems/"
#: What a client may do with a 503 (the store is down or still starting).
RETRY_AFTER_SECONDS = "5"
#: What a client may do when a read model has not yet reached its write (usually milliseconds).
LAGGING_RETRY_AFTER_SECONDS = "1"

log = structlog.get_logger("http")


class ProblemDetails(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """RFC 9457 problem details plus the stable ``code`` and the request's correlation id."""

    #: The problem type's URI: https://patient-services.example/problems/ and the code in lower case
    #: with dashes.
    type: str
    #: A short summary of the problem type.
    title: str
    #: The HTTP status code.
    status: int
    #: What went wrong with this request, in words.
    detail: str
    #: The stable error code (INVALID_TRANSITION, VERSION_CONFLICT, ...).
    code: str
    correlation_id: str
    #: For invalid input, one entry per offending field (omitted otherwise).
    errors: list[FieldError] | None = None


@dataclass(frozen=True)
class _Kind:
    status: int
    code: str


#: Exception class → status and code. Looked up along the exception's MRO, so a subclass
#: not listed (a future domain error) gets its nearest ancestor's status; domain errors keep
#: their own ``code``.
_KINDS: dict[type[BaseException], _Kind] = {
    # Not msgspec.ValidationError itself: only a request body that does not decode is the
    # client's fault (see body_error_of); one raised anywhere else is a bug, so a 500.
    InvalidRequestError: _Kind(400, "VALIDATION"),
    DomainValidationError: _Kind(400, "VALIDATION"),
    AuthenticationError: _Kind(401, "UNAUTHENTICATED"),
    NotAuthorisedError: _Kind(403, "NOT_AUTHORISED"),
    NotFoundError: _Kind(404, "NOT_FOUND"),
    VersionConflictError: _Kind(409, "VERSION_CONFLICT"),
    PreconditionFailedError: _Kind(412, "VERSION_CONFLICT"),
    IdempotencyKeyReusedError: _Kind(422, "IDEMPOTENCY_KEY_REUSED"),
    UnsupportedMediaTypeError: _Kind(415, "UNSUPPORTED_MEDIA_TYPE"),
    # Business rules refused (INVALID_TRANSITION, TIMESTAMP_ORDER, ALREADY_CANCELLED, …);
    # CommandValidationError is a DomainError with code VALIDATION: see _status_and_code.
    DomainError: _Kind(409, "DOMAIN_ERROR"),
    OperationalError: _Kind(503, "SERVICE_UNAVAILABLE"),
    InterfaceError: _Kind(503, "SERVICE_UNAVAILABLE"),
    ServiceUnavailableError: _Kind(503, "SERVICE_UNAVAILABLE"),
    ProjectionLaggingError: _Kind(503, "PROJECTION_LAGGING"),
    ProjectionRebuildingError: _Kind(503, "PROJECTION_REBUILDING"),
}

#: Codes for Litestar's own HTTP errors (routing, body size, parameter validation).
_HTTP_CODES = {
    400: "VALIDATION",
    401: "UNAUTHENTICATED",
    403: "NOT_AUTHORISED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    431: "REQUEST_HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

TITLES = {
    "VALIDATION": "The request is invalid",
    "UNAUTHENTICATED": "Authentication required",
    "NOT_AUTHORISED": "Not allowed for your role",
    "NOT_FOUND": "Not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "PAYLOAD_TOO_LARGE": "The request body is too large",
    "REQUEST_HEADERS_TOO_LARGE": "The request headers are too large",
    "UNSUPPORTED_MEDIA_TYPE": "The request body is not JSON",
    "INVALID_TRANSITION": "Not allowed in the current state",
    "TIMESTAMP_ORDER": "Times out of order",
    "ALREADY_CANCELLED": "Already cancelled",
    "VERSION_CONFLICT": "The record has changed",
    "ALREADY_EXISTS": "It exists already",
    "INSUFFICIENT_FUNDS": "Not enough budget available",
    "APPROVAL_REQUIRED": "Above the amount your role may approve",
    "SEGREGATION_OF_DUTIES": "The same person may not do both steps",
    "EXTENSION_TOO_LATE": "The deadline has already passed",
    "RESPONSE_INCOMPLETE": "The response lacks what its policy requires",
    "IDEMPOTENCY_KEY_REUSED": "Idempotency-Key reused with a different request",
    "SERVICE_UNAVAILABLE": "Service unavailable",
    "PROJECTION_LAGGING": "The read model has not caught up yet",
    "INTERNAL_ERROR": "Internal error",
}

_HTTP_DETAILS = {
    404: "There is no resource at this path.",
    405: "This resource does not accept that method.",
    415: "Send the request body with Content-Type: application/json.",
}


def problem_type(code: str) -> str:
    return PROBLEM_TYPE_BASE + code.lower().replace("_", "-")


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    """The application-wide exception handler (registered for ``Exception``)."""
    correlation_id = correlation_id_of(request.scope)
    status, code = _status_and_code(exc)
    headers: dict[str, str] = {}
    errors: list[FieldError] | None = None
    # Domain and application messages are written to be shown (never patient data);
    # anything else keeps its text to the log.
    detail = exc.message if isinstance(exc, DomainError) else _HTTP_DETAILS.get(status, "")

    if isinstance(exc, HTTPException):
        headers.update(exc.headers or {})  # Allow on a 405
    if isinstance(exc, InvalidRequestError):
        errors = exc.errors
    elif isinstance(exc, ValidationException):
        errors = litestar_field_errors(exc, request.scope.get("route_handler"))
    elif isinstance(exc, DomainError) and status == 400:
        errors = [FieldError(exc.field, exc.message)]
    elif isinstance(exc, AuthenticationError):
        detail = exc.reason
        challenge = 'Bearer realm="patient-services"'
        if exc.token_given:  # RFC 6750 §3.1
            challenge += f', error="invalid_token", error_description="{exc.reason}"'
        headers["WWW-Authenticate"] = challenge

    if status == 400 and not detail:
        detail = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors or ())
    elif status == 413:
        detail = "The request body is larger than this service accepts."
    elif isinstance(exc, ProjectionLaggingError):
        # Not an outage: the write is stored and the view will have it shortly.
        headers["Retry-After"] = LAGGING_RETRY_AFTER_SECONDS
        detail = str(exc)
    elif isinstance(exc, ProjectionRebuildingError):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
        detail = str(exc)
    elif status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
        detail = "A service this request depends on does not answer; try again shortly."
        log.error("request.unavailable", exc_info=exc)
    elif status >= 500:
        # The exception and its traceback go to the log, never to the client: they may hold
        # SQL, input values or patient data.
        log.error("request.failed", exc_info=exc)
        detail = (
            "An unexpected error occurred. "
            f"Quote correlation id {correlation_id} when reporting it."
        )

    title = TITLES.get(code) or HTTPStatus(status).phrase
    problem = ProblemDetails(
        type=problem_type(code),
        title=title,
        status=status,
        detail=detail or title,
        code=code,
        correlation_id=correlation_id,
        errors=errors,
    )
    return Response(problem, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _status_and_code(exc: Exception) -> tuple[int, str]:
    kind = next((_KINDS[cls] for cls in type(exc).__mro__ if cls in _KINDS), None)
    if kind is not None:
        if isinstance(exc, DomainError):
            # Application errors whose code says "invalid input" (CommandValidationError:
            # an occurredAt too far ahead) are 400s, although they share the DomainError base.
            status = 400 if exc.code == "VALIDATION" else kind.status
            return status, exc.code
        return kind.status, kind.code
    if isinstance(exc, HTTPException):
        status = exc.status_code
        return status, _HTTP_CODES.get(status) or HTTPStatus(status).name
    return 500, "INTERNAL_ERROR"


# ---- OpenAPI ------------------------------------------------------------------------------
_RESPONSE_DESCRIPTIONS = {
    400: "Invalid input (code VALIDATION, with `errors`)",
    401: "Missing, expired or invalid bearer token",
    403: "None of the token's roles may do this (code NOT_AUTHORISED)",
    404: "No such record (code NOT_FOUND)",
    409: "A business rule refused the command (INVALID_TRANSITION, TIMESTAMP_ORDER, "
    "ALREADY_CANCELLED, ALREADY_EXISTS, INSUFFICIENT_FUNDS, APPROVAL_REQUIRED, "
    "SEGREGATION_OF_DUTIES, EXTENSION_TOO_LATE, RESPONSE_INCOMPLETE) or it lost concurrent "
    "races (VERSION_CONFLICT)",
    412: "If-Match names a version the record has moved on from (code VERSION_CONFLICT)",
    413: "The body is larger than MAX_BODY_BYTES",
    415: "A body sent with a Content-Type other than application/json or */*+json "
    "(code UNSUPPORTED_MEDIA_TYPE)",
    422: "Idempotency-Key reused with a different request (code IDEMPOTENCY_KEY_REUSED)",
    500: "Unexpected error; carries only the correlation id",
    503: "The event store does not answer (code SERVICE_UNAVAILABLE), or a read model did not "
    "reach `minPosition` within `waitMs` (code PROJECTION_LAGGING, with Retry-After)",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a route can give."""
    return error_responses(ProblemDetails, PROBLEM_MEDIA_TYPE, _RESPONSE_DESCRIPTIONS, statuses)


def error_responses(
    body: type, media_type: str, descriptions: dict[int, str], statuses: tuple[int, ...]
) -> dict[int, ResponseSpec]:
    """OpenAPI entries for error responses of one body type (problem details here, FHIR's
    OperationOutcome on the FHIR routes), each status with its description."""
    return {
        status: ResponseSpec(
            data_container=body,
            media_type=media_type,
            description=descriptions[status],
            generate_examples=False,
        )
        for status in statuses
    }
