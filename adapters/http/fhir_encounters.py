"""Reading one visit as FHIR: ``GET /fhir/{r4,r5}/Encounter/{id}`` and ``Appointment/{id}``,
and each version of them (``…/_history/{vid}``, FHIR's vread).

The resource is built from the visit's events (one read of its stream, so the history and the
state always agree): now, or as of version ``vid``. ``meta.versionId`` is the visit's version
and the ``ETag`` (``W/"3"``), so ``If-None-Match`` with it is a 304. An id that is not a
visit's (not a UUID, no such visit, another record's) is 404, and so is the Appointment of a
visit that was never booked (a walk-in). The visit readers' roles, as
``GET /api/v1/visits/{id}``; a denied read is recorded in the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter

from adapters.fhir.common import FHIR_JSON
from adapters.fhir.history import replayed
from adapters.fhir.releases import Release
from adapters.http.fhir_outcomes import fhir_response, outcome_responses
from adapters.http.kit.access import AccessSpec, fhir_records, recorded
from adapters.http.kit.auth import may_read
from adapters.http.kit.resources import documented_header
from adapters.http.kit.services import services_of
from application.shared.access import fhir_action
from application.shared.permissions import VISIT_READERS
from domain.visits.visit import PatientVisit

#: FHIR's id type: what a client may send; ours are UUIDs (anything else is a 404).
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-\.]{1,64}$"
FhirId = Annotated[
    str,
    PathParameter(description="The resource's logical id (a visit's UUID)",
                  pattern=FHIR_ID_PATTERN),
]  # fmt: skip
VersionId = Annotated[
    str,
    PathParameter(description="A version of the resource (`meta.versionId`)",
                  pattern=r"^[0-9]{1,19}$"),
]  # fmt: skip
READ_GUARD = may_read(VISIT_READERS, "visits", target_type="PatientVisit")
READ_HEADERS = [
    documented_header("ETag", 'The version read, weak as FHIR has it: W/"3"'),
    documented_header("Last-Modified", "When that version was recorded"),
]  # fmt: skip
READ_PROBLEMS = outcome_responses(400, 401, 403, 404, 500, 503)
_KINDS = ("Encounter", "Appointment")


def load_visit(
    request: Request[Any, Any, Any], raw_id: str, version: str | None = None
) -> tuple[PatientVisit, Sequence[PatientVisit.Event]]:
    """The visit with this id and the events that made it (up to ``version``), or 404."""
    try:
        visit_id = UUID(raw_id)
    except ValueError:
        raise NotFoundException("No resource has this id.") from None
    events = services_of(request).visit_events(visit_id)
    if version is not None:
        wanted = int(version)
        if not events or wanted < 1 or wanted > len(events):
            raise NotFoundException(f"No version {wanted} of this resource.")
        events = events[:wanted]
    visit = replayed(events)
    if visit is None:
        raise NotFoundException("No resource has this id.")
    return visit, events


def resource_of(
    release: Release, kind: str, visit: PatientVisit, events: Sequence[PatientVisit.Event]
) -> dict[str, Any]:
    if kind == "Encounter":
        return release.encounter(visit, events)
    appointment = release.appointment(visit)
    if appointment is None:
        raise NotFoundException("This visit was not booked (a walk-in): it has no Appointment.")
    return appointment


def _answer(
    request: Request[Any, Any, Any], release: Release, kind: str, raw_id: str,
    version: str | None,
) -> Response[Any]:  # fmt: skip
    visit, events = load_visit(request, raw_id, version)
    resource = resource_of(release, kind, visit, events)
    etag = f'W/"{visit.version}"'
    headers = {"ETag": etag, "Last-Modified": format_datetime(visit.modified_on, usegmt=True)}
    if version_matches(request.headers.get("if-none-match"), visit.version):
        return Response(None, status_code=304, headers=headers)
    return fhir_response(resource, headers=headers)


def version_matches(if_none_match: str | None, version: int) -> bool:
    """Whether ``If-None-Match`` holds this version (weakly compared, as FHIR's are)."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or f'"{version}"' in tags


def read_handlers(release: Release, **options: Any) -> list[HTTPRouteHandler]:
    """read and vread of each kind, for one FHIR version (``options`` for ``litestar.get``:
    the router's authentication)."""
    return [handler for kind in _KINDS for handler in _kind_handlers(release, kind, options)]


def _kind_handlers(release: Release, kind: str, extra: dict[str, Any]) -> list[HTTPRouteHandler]:
    label = release.name.upper()
    note = " A walk-in visit has no Appointment (404)." if kind == "Appointment" else ""
    roles = " Roles: clerk, nurse, clinician, manager, auditor, integration_reader."
    options: dict[str, Any] = {
        "guards": [READ_GUARD], "sync_to_thread": True, "media_type": FHIR_JSON,
        "response_headers": READ_HEADERS, "responses": READ_PROBLEMS, **extra,
    }  # fmt: skip

    def read(request: Request[Any, Any, Any], id: FhirId) -> Response[dict[str, Any]]:  # noqa: A002
        return _answer(request, release, kind, id, None)

    def vread(
        request: Request[Any, Any, Any],
        id: FhirId,
        vid: VersionId,  # noqa: A002
    ) -> Response[dict[str, Any]]:
        return _answer(request, release, kind, id, vid)

    return [
        get(
            f"/{kind}/{{id:str}}", operation_id=f"fhir{label}Read{kind}",
            name=f"fhir-{release.name}:{kind}:read",
            summary=f"A visit as a FHIR {label} {kind}",
            description=f"FHIR {release.fhir_version} `{kind}` read.{note}{roles}", **options,
        )(recorded(AccessSpec(fhir_action("read", kind), fhir_records))(read)),
        get(
            f"/{kind}/{{id:str}}/_history/{{vid:str}}", operation_id=f"fhir{label}Vread{kind}",
            name=f"fhir-{release.name}:{kind}:vread",
            summary=f"One version of a visit as a FHIR {label} {kind}",
            description=f"FHIR {release.fhir_version} `{kind}` vread: the visit as of its "
            f"version `vid` (404 past the latest).{note}{roles}", **options,
        )(recorded(AccessSpec(fhir_action("read", kind), fhir_records))(vread)),
    ]  # fmt: skip
