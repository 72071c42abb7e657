"""The FHIR bases: ``/fhir/r4`` (FHIR 4.0.1, shaped as R4/R4B) and ``/fhir/r5`` (5.0.0).

Each is a Litestar router serving ``application/fhir+json``: ``metadata`` (public), and behind
the same bearer token as ``/api/v1`` (:class:`~adapters.http.kit.auth.BearerAuthMiddleware`,
on each reading route rather than the router so ``metadata`` stays public) and the visit
readers' roles: Encounter read, vread and search, Appointment read and vread, and on R5
EncounterHistory read and search (R5's status history); and the facility's configuration as
Location, Schedule and Slot (:mod:`adapters.http.fhir_capacity`). Every error is an OperationOutcome
(:mod:`adapters.http.fhir_outcomes`), including the middleware's 401s: the router's exception
handler serves whatever is raised on its routes. A path under a base that names no route
(``/fhir/r4/Patient/1``) and a method the FHIR paths do not serve are answered by catch-all
routes with a 404 or 405 OperationOutcome too.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, route
from litestar.enums import HttpMethod
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.handlers import HTTPRouteHandler

from adapters.fhir.releases import RELEASES, Release
from adapters.http.fhir_capacity import capacity_handlers
from adapters.http.fhir_encounters import read_handlers
from adapters.http.fhir_history import history_handlers
from adapters.http.fhir_metadata import metadata_handler
from adapters.http.fhir_outcomes import outcome_response
from adapters.http.fhir_search import search_handler
from adapters.http.kit.auth import BearerAuthMiddleware

#: The OpenAPI security scheme app.py declares for bearer tokens (named the same there).
BEARER_SCHEME = "bearerAuth"
#: What the FHIR paths do not serve (OPTIONS is Litestar's own: a 204 naming the methods).
_OTHERS = [HttpMethod.HEAD, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]
_ALL = [HttpMethod.GET, *_OTHERS]


def fhir_routers(authentication: BearerAuthMiddleware) -> list[Router]:
    return [_router(release, authentication) for release in RELEASES]


def _router(release: Release, authentication: BearerAuthMiddleware) -> Router:
    # Deny by default, as on /api/v1: every route but metadata needs the bearer token.
    auth = {"middleware": [authentication], "security": [{BEARER_SCHEME: []}]}
    authenticated = [
        *read_handlers(release, **auth),
        search_handler(release, **auth),
        *capacity_handlers(release, **auth),
    ]
    if release.encounter_history:
        authenticated += history_handlers(**auth)
    return Router(
        path=f"/fhir/{release.name}",
        route_handlers=[metadata_handler(release), *authenticated, *_fallbacks(authenticated)],
        exception_handlers={Exception: outcome_response},
        tags=[f"FHIR {release.name.upper()}"],
    )


def _fallbacks(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """405 for the other methods on the FHIR paths (the server is read-only), 404 for any
    other path under the base; both outside the OpenAPI document. Litestar routes a path
    below a parametrised one (``Encounter/{id}/x``) to no catch-all of the base, so each
    parametrised path gets its own."""
    paths = sorted({path for handler in handlers for path in handler.paths} | {"/metadata"})
    below_ids = sorted({path + "/{rest:path}" for path in paths if path.endswith(":str}")})

    def read_only(request: Request[Any, Any, Any]) -> None:
        raise MethodNotAllowedException(
            "This FHIR server answers GET only.", headers={"Allow": "GET"}
        )

    def unknown(request: Request[Any, Any, Any]) -> None:
        raise NotFoundException("This FHIR server has no resource at this path.")

    return [
        route(paths, http_method=_OTHERS, include_in_schema=False, sync_to_thread=False)(read_only),
        route(["/", "/{rest:path}", *below_ids], http_method=_ALL, include_in_schema=False,
              sync_to_thread=False)(unknown),
    ]  # fmt: skip
