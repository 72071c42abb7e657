"""``GET /fhir/{r4,r5}/Encounter?identifier=&patient=&status=``: a searchset Bundle.

The visits are found in the ``flow`` read model (:func:`adapters.readmodels.visits.queries.
find_visits`, by visit number and/or patient, as ``GET /api/v1/visits``); each entry is the
full Encounter, built from the visit's own events, so an entry is never older than the row
that found it. A visit whose current state no longer matches the search (the read model had
not caught up) is left out. ``identifier`` or ``patient`` is required: without either the
server refuses the search (403 OperationOutcome ``too-costly``, FHIR's "refused to perform
the search"). ``_count`` entries per page (default 50, at most 500); the ``next`` link carries
``_cursor``. The answer carries ``X-Projection-Position`` as every read-model answer does.

No ``from __future__ import annotations`` here: the ``status`` parameter's pattern differs per
FHIR version, so a generated handler's annotations must be evaluated when it is defined.
"""

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.fhir.bundle import searchset
from adapters.fhir.common import FHIR_JSON
from adapters.fhir.releases import Release
from adapters.fhir.search import IdentifierQuery, identifier_query, states_of
from adapters.http.fhir_encounters import READ_GUARD, load_visit
from adapters.http.fhir_outcomes import SearchRefusedError, fhir_response, outcome_responses
from adapters.http.flow_parameters import NAME
from adapters.http.kit.access import AccessSpec, fhir_records, recorded
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    POSITION_HEADER,
    POSITION_RESPONSE_HEADER,
    query_view,
)
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits.queries import find_visits
from application.shared.access import fhir_action
from projections.visits.visit_search import VisitPage

NEEDS_A_KEY = "Give identifier or patient (or both): a search by status alone is not run."
#: A token: ``[system]|value`` or ``value``; no control characters, no bar in either part.
_TOKEN_PART = r"[^|\x00-\x1f\x7f-\x9f]"
IDENTIFIER_PATTERN = rf"^(?:{_TOKEN_PART}*\|)?{_TOKEN_PART}+$"
_UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

Identifier = Annotated[
    str | None,
    QueryParameter(
        required=False, min_length=1, max_length=600, pattern=IDENTIFIER_PATTERN,
        description="A token: the visit number as `system|value` (system "
        "`urn:patient-services:visit-number`, with `:<assigning authority>` percent-encoded "
        "when it has one) or as `value` (any authority); or our id as "
        "`urn:ietf:rfc:3986|urn:uuid:<id>`. Another system matches nothing.",
    ),
]  # fmt: skip
Patient = Annotated[
    str | None,
    QueryParameter(
        required=False, min_length=1, max_length=256, pattern=QUERY_TEXT_PATTERN,
        description="The patient's opaque patientRef, as a plain value (the identifier the "
        "Encounter's `subject` carries).",
    ),
]  # fmt: skip
Count = Annotated[
    int,
    QueryParameter(name="_count", ge=1, le=MAX_LIMIT, required=False,
                   description=f"Entries per page (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})."),
]  # fmt: skip
Cursor = Annotated[
    str | None,
    QueryParameter(name="_cursor", required=False, pattern=_UUID_PATTERN,
                   description="Where the next page starts: from the `next` link (opaque)."),
]  # fmt: skip


def search_handler(release: Release, **options: Any) -> HTTPRouteHandler:
    """The Encounter search of one FHIR version (``options`` for ``litestar.get``: the
    router's authentication)."""
    codes = "|".join(code.replace("-", r"\-") for code in release.encounter_codes)
    status_type = Annotated[
        str | None,
        QueryParameter(
            required=False, max_length=200, pattern=rf"^({codes})(,({codes}))*$",
            description=f"Encounter.status codes of FHIR {release.fhir_version}, "
            "comma-separated for any of them; each stands for every state of ours shown "
            "so (in-progress: several).",
        ),
    ]  # fmt: skip

    def search(
        request: Request[Any, Any, Any],
        identifier: Identifier = None,
        patient: Patient = None,
        status: status_type = None,
        count: Count = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[dict[str, Any]]:
        return _search(request, release, identifier, patient, status, count, cursor)

    label = release.name.upper()
    return get(
        "/Encounter", operation_id=f"fhir{label}SearchEncounter",
        name=f"fhir-{release.name}:Encounter:search",
        summary=f"Find visits as FHIR {label} Encounters (a searchset Bundle)",
        description=f"FHIR {release.fhir_version} Encounter search by `identifier` (the visit "
        "number, or our id), `patient` (the patientRef) and `status`; the parameters given "
        "combine. `identifier` or `patient` is required (403 `too-costly` without either). "
        "Each entry is the full Encounter. Roles: clerk, nurse, clinician, manager, auditor, "
        "integration_reader.",
        guards=[READ_GUARD], sync_to_thread=True, media_type=FHIR_JSON,
        response_headers=[POSITION_RESPONSE_HEADER],
        responses=outcome_responses(400, 401, 403, 500, 503), **options,
    )(recorded(AccessSpec(fhir_action("search", "Encounter"), fhir_records))(search))  # fmt: skip


def _search(
    request: Request[Any, Any, Any],
    release: Release,
    identifier: str | None,
    patient: str | None,
    status: str | None,
    count: int,
    cursor: str | None,
) -> Response[Any]:
    if identifier is None and patient is None:
        raise SearchRefusedError(NEEDS_A_KEY)
    wanted = identifier_query(identifier) if identifier is not None else IdentifierQuery()
    states = states_of(status, release.encounter_status) if status is not None else None
    after = UUID(cursor) if cursor is not None else None
    by_read_model = not wanted.matches_nothing and wanted.visit_id is None

    def query(tx: Transaction, prefix: str) -> VisitPage:
        if not by_read_model:  # still read, for the position every answer carries
            return VisitPage(items=[], next_cursor=None)
        return find_visits(
            tx, prefix, visit_number=wanted.visit_number,
            visit_number_authority=wanted.authority, patient_ref=patient, status=states,
            after=after, limit=count,
        )  # fmt: skip

    view = query_view(request, NAME, None, None, query)
    page: VisitPage = view.content
    if wanted.visit_id is not None:
        found = [] if after is not None and wanted.visit_id <= after else [wanted.visit_id]
    else:
        found = [
            UUID(item.id) for item in page.items
            # A system naming no authority asks for visit numbers without one.
            if not wanted.authority_given or item.visit_number_authority == wanted.authority
        ]  # fmt: skip
    resources = _encounters(request, release, found, patient, states)
    base = f"{str(request.base_url).rstrip('/')}/fhir/{release.name}"
    bundle = searchset(
        resources, base_url=base, self_url=str(request.url),
        next_url=_next_url(request, page.next_cursor), at=datetime.now(timezone.utc),
    )  # fmt: skip
    return fhir_response(bundle, headers={POSITION_HEADER: view.headers[POSITION_HEADER]})


def _encounters(
    request: Request[Any, Any, Any],
    release: Release,
    found: Sequence[UUID],
    patient: str | None,
    states: frozenset[str] | None,
) -> list[dict[str, Any]]:
    resources = []
    for visit_id in found:
        try:
            visit, events = load_visit(request, str(visit_id))
        except NotFoundException:
            continue
        # The visit as it stands now decides (the read model may lag behind it).
        if patient is not None and visit.patient_ref != patient:
            continue
        if states is not None and visit.status not in states:
            continue
        resources.append(release.encounter(visit, events))
    return resources


def _next_url(request: Request[Any, Any, Any], next_cursor: str | None) -> str | None:
    if next_cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
    params.append(("_cursor", next_cursor))
    return str(request.url.with_replacements(query=urlencode(params)))
