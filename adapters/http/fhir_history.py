"""R5's status history: ``GET /fhir/r5/EncounterHistory?encounter={id}`` (a searchset of the
visit's EncounterHistory, oldest first) and ``GET /fhir/r5/EncounterHistory/{id}``.

Read from the visit's events, like the Encounter itself (no read model): the same roles, the
same errors. An unknown encounter finds nothing (an empty Bundle); an unknown history id is
404.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.fhir.bundle import searchset
from adapters.fhir.common import FHIR_JSON
from adapters.fhir.encounter_history import encounter_histories, parse_history_id
from adapters.http.fhir_encounters import (
    FHIR_ID_PATTERN,
    READ_GUARD,
    READ_PROBLEMS,
    FhirId,
    load_visit,
)
from adapters.http.fhir_outcomes import fhir_response, outcome_responses
from adapters.http.kit.access import AccessSpec, fhir_records, recorded
from application.shared.access import fhir_action

EncounterParam = Annotated[
    str,
    QueryParameter(
        pattern=r"^(Encounter/)?" + FHIR_ID_PATTERN.removeprefix("^"),
        description="The Encounter whose history to list: its id, or `Encounter/<id>`.",
    ),
]
_ROLES = " Roles: clerk, nurse, clinician, manager, auditor, integration_reader."


def _read(request: Request[Any, Any, Any], id: FhirId) -> Response[dict[str, Any]]:  # noqa: A002
    parsed = parse_history_id(id)
    if parsed is None:
        raise NotFoundException("No resource has this id.")
    visit_id, number = parsed
    visit, events = load_visit(request, str(visit_id))
    histories = encounter_histories(visit, events)
    if number > len(histories):
        raise NotFoundException("No resource has this id.")
    return fhir_response(histories[number - 1])


def _search(request: Request[Any, Any, Any], encounter: EncounterParam) -> Response[dict[str, Any]]:
    try:
        visit, events = load_visit(request, encounter.removeprefix("Encounter/"))
        found = encounter_histories(visit, events)
    except NotFoundException:  # a search for an unknown encounter finds nothing
        found = []
    base = f"{str(request.base_url).rstrip('/')}/fhir/r5"
    bundle = searchset(
        found, base_url=base, self_url=str(request.url), next_url=None,
        at=datetime.now(timezone.utc),
    )  # fmt: skip
    return fhir_response(bundle)


def history_handlers(**options: Any) -> list[HTTPRouteHandler]:
    """The R5 base's EncounterHistory read and search (``options`` for ``litestar.get``:
    the router's authentication)."""
    common: dict[str, Any] = {
        "guards": [READ_GUARD], "sync_to_thread": True, "media_type": FHIR_JSON, **options,
    }  # fmt: skip
    return [
        get(
            "/EncounterHistory/{id:str}", operation_id="fhirR5ReadEncounterHistory",
            name="fhir-r5:EncounterHistory:read",
            summary="One stretch of a visit's status history, as a FHIR R5 EncounterHistory",
            description="FHIR 5.0.0 `EncounterHistory` read (ids `<visit id>-<n>`, from the "
            f"search).{_ROLES}", responses=READ_PROBLEMS, **common,
        )(recorded(AccessSpec(fhir_action("read", "EncounterHistory"), fhir_records))(_read)),
        get(
            "/EncounterHistory", operation_id="fhirR5SearchEncounterHistory",
            name="fhir-r5:EncounterHistory:search",
            summary="A visit's status history as FHIR R5 EncounterHistory (a searchset)",
            description="R5's replacement for R4 `Encounter.statusHistory`: one "
            "EncounterHistory per stretch of the visit in one status, subject status and "
            f"class, oldest first.{_ROLES}",
            responses=outcome_responses(400, 401, 403, 500, 503), **common,
        )(recorded(AccessSpec(fhir_action("search", "EncounterHistory"), fhir_records))(_search)),
    ]  # fmt: skip
