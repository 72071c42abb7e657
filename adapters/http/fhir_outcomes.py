"""Every error of the FHIR routes as a FHIR OperationOutcome (``application/fhir+json``), never
problem+json: the routers' exception handler (:func:`outcome_response`), and the responses'
OpenAPI entries.

The FHIR routers register :func:`outcome_response` for ``Exception``. Litestar looks up the
handler of the route a request was routed to, so it also answers what the bearer-token
middleware (401) and the role guards (403) raise on these routes, and the app's
``before_request`` parameter checks (400). A request that matches no route is answered by
the app's handler instead, so each base has catch-all routes (:mod:`adapters.http.fhir`): a
method the FHIR paths do not serve (405) and any other path under the base (404) reach this
handler too. Only paths outside the bases (``/fhir``, ``/fhir/r6/…``) are problem+json.

The diagnostics are the service's own messages: they name fields and parameters, never the
values sent, and a 500 names only the correlation id (the exception goes to the log).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from adapters.fhir.common import FHIR_JSON
from adapters.fhir.outcome import issue_code_for, operation_outcome
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import (
    AuthenticationError,
    InvalidRequestError,
    ProjectionLaggingError,
    ProjectionRebuildingError,
    ServiceUnavailableError,
)
from adapters.http.kit.field_errors import litestar_field_errors
from adapters.http.kit.problems import (
    LAGGING_RETRY_AFTER_SECONDS,
    RETRY_AFTER_SECONDS,
    error_responses,
)
from application.shared.errors import NotAuthorisedError, NotFoundError
from domain.shared.errors import DomainError, DomainValidationError

log = structlog.get_logger("http")


class SearchRefusedError(Exception):
    """A search the server will not run (FHIR: 403 "refused to perform the search"): one
    that names neither an identifier nor a patient, so no index could answer it."""


def _status_of(exc: Exception) -> int:
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, NotAuthorisedError | SearchRefusedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidRequestError | DomainValidationError):
        return 400
    if isinstance(
        exc,
        OperationalError
        | InterfaceError
        | ServiceUnavailableError
        | ProjectionLaggingError
        | ProjectionRebuildingError,
    ):
        return 503
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, DomainError):
        return 400 if exc.code == "VALIDATION" else 409
    return 500


def _diagnostics(request: Request[Any, Any, Any], exc: Exception, status: int) -> list[str]:
    if isinstance(exc, AuthenticationError):
        return [exc.reason]
    if isinstance(exc, InvalidRequestError):
        return [f"{e.field or 'request'}: {e.message}" for e in exc.errors]
    if isinstance(exc, ValidationException):
        errors = litestar_field_errors(exc, request.scope.get("route_handler"))
        return [f"{e.field or 'request'}: {e.message}" for e in errors]
    if isinstance(exc, DomainError):  # written to be shown (never patient data)
        return [exc.message]
    if isinstance(exc, SearchRefusedError | ProjectionLaggingError | ProjectionRebuildingError):
        return [str(exc)]
    if isinstance(exc, HTTPException) and status < 500:
        return [exc.detail]
    if status == 503:
        log.error("request.unavailable", exc_info=exc)
        return ["A service this request depends on does not answer; try again shortly."]
    # The exception may hold SQL, input values or patient data: to the log only.
    log.error("request.failed", exc_info=exc)
    return [
        "An unexpected error occurred. "
        f"Quote correlation id {correlation_id_of(request.scope)} when reporting it."
    ]


def outcome_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The FHIR routers' exception handler."""
    status = _status_of(exc)
    code = "too-costly" if isinstance(exc, SearchRefusedError) else issue_code_for(status)
    headers: dict[str, str] = {}
    if isinstance(exc, HTTPException):
        headers.update(exc.headers or {})  # Allow on a 405
    if isinstance(exc, AuthenticationError):
        challenge = 'Bearer realm="patient-services"'
        if exc.token_given:  # RFC 6750 §3.1
            challenge += f', error="invalid_token", error_description="{exc.reason}"'
        headers["WWW-Authenticate"] = challenge
    elif isinstance(exc, ProjectionLaggingError):
        headers["Retry-After"] = LAGGING_RETRY_AFTER_SECONDS
    elif status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    outcome = operation_outcome(code, _diagnostics(request, exc, status))
    return Response(outcome, status_code=status, headers=headers, media_type=FHIR_JSON)


def fhir_response(
    resource: dict[str, Any], *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(resource, status_code=status_code, headers=headers, media_type=FHIR_JSON)


# ---- OpenAPI ------------------------------------------------------------------------------
class OutcomeIssue(msgspec.Struct, frozen=True, omit_defaults=True):
    #: How bad the issue is: fatal, error, warning or information.
    severity: Literal["fatal", "error", "warning", "information"]
    #: The FHIR IssueType code (invalid, login, forbidden, not-found, exception, ...).
    code: str
    #: What went wrong, in words (names fields and parameters, never their values).
    diagnostics: str | None = None


class OperationOutcome(msgspec.Struct, frozen=True):
    """A FHIR OperationOutcome (R4 and R5): what went wrong, one issue per problem."""

    #: Always OperationOutcome.
    resourceType: Literal["OperationOutcome"]  # noqa: N815 - FHIR's name for it
    #: One issue per problem found.
    issue: list[OutcomeIssue]


_DESCRIPTIONS = {
    400: "Invalid parameter (OperationOutcome, issue code `invalid`)",
    401: "Missing, expired or invalid bearer token (issue code `login`)",
    403: "None of the token's roles may read visits (issue code `forbidden`), or a search "
    "the server refuses to run (issue code `too-costly`)",
    404: "No such resource (issue code `not-found`)",
    500: "Unexpected error (issue code `exception`); names only the correlation id",
    503: "The store or the read model does not answer (issue code `transient`)",
}


def outcome_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the OperationOutcome responses a FHIR route can give."""
    return error_responses(OperationOutcome, FHIR_JSON, _DESCRIPTIONS, statuses)
