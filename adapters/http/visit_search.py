"""Finding visits: ``GET /api/v1/visits?visitNumber=&visitNumberAuthority=&patientRef=&status=``,
from the ``flow`` read model (the visit readers, as ``GET /api/v1/visits/{id}``).

A hospital names a visit by its visit number (HL7 v2 PV1-19, with its assigning authority);
this finds it, or a patient's visits, with read-your-writes (``minPosition``/``waitMs``) and
``X-Projection-Position`` like every read-model route. The query is
:func:`adapters.readmodels.visits.queries.find_visits`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, Response
from litestar.params import QueryParameter

from adapters.http.flow_parameters import NAME
from adapters.http.kit.auth import may_read
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_MS,
    Limit,
    MinPosition,
    WaitMs,
    query_view,
    read_route,
)
from adapters.readmodels.database import Transaction
from adapters.readmodels.visits import store as flow_store
from application.shared.access import SEARCH_VISITS
from application.shared.permissions import VISIT_READERS
from projections.visits.visit_search import VisitPage

#: A visit's status (domain.visits.vocabulary.STATES; a unit test holds them equal).
VisitStatus = Literal[
    "scheduled", "arrived", "triaged", "with_clinician", "admitted", "on_leave", "discharged",
    "closed", "cancelled", "no_show", "left_without_being_seen", "entered_in_error",
]  # fmt: skip
#: Identifiers are matched whole up to this length (the read model clips longer ones).
_MAX_IDENTIFIER = 256
NEEDS_A_KEY = "give visitNumber or patientRef (or both)"

VisitNumber = Annotated[
    str | None,
    QueryParameter(name="visitNumber", required=False, min_length=1,
                   max_length=_MAX_IDENTIFIER, pattern=QUERY_TEXT_PATTERN,
                   description="The visit number (HL7 v2 PV1-19), exactly as recorded."),
]  # fmt: skip
VisitNumberAuthority = Annotated[
    str | None,
    QueryParameter(name="visitNumberAuthority", required=False, min_length=1,
                   max_length=_MAX_IDENTIFIER, pattern=QUERY_TEXT_PATTERN,
                   description="Only visit numbers of this assigning authority; visit numbers "
                   "of any authority when left out."),
]  # fmt: skip
PatientRef = Annotated[
    str | None,
    QueryParameter(name="patientRef", required=False, min_length=1,
                   max_length=_MAX_IDENTIFIER, pattern=QUERY_TEXT_PATTERN,
                   description="The patient's visits (the opaque patient reference)."),
]  # fmt: skip
Status = Annotated[
    VisitStatus | None,
    QueryParameter(required=False, description="Only visits in this status now."),
]
Cursor = Annotated[
    str | None,
    QueryParameter(required=False, max_length=36, pattern=QUERY_TEXT_PATTERN,
                   description="The `nextCursor` of the previous page (opaque)."),
]  # fmt: skip


def _after(cursor: str | None) -> UUID | None:
    """The cursor is the last visit id of the previous page."""
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError:
        raise InvalidRequestError.of("cursor", "not a cursor this service returned") from None


@read_route(
    "/",
    operation_id="searchVisits",
    name="visits:search",
    summary="Find visits by visit number or by patient",
    description="The visits with this visit number (HL7 v2 PV1-19; under one assigning "
    "authority with `visitNumberAuthority`) and/or of this patient, optionally in one "
    "status, as the `flow` read model holds them (visits entered in error too: filter by "
    "`status` to leave them out). `visitNumber` or `patientRef` is required (400 without "
    "either); the filters given combine (all must hold). Pages in the order of the visits' "
    "ids: pass `nextCursor` as `cursor` for the next. Roles: clerk, nurse, clinician, "
    "manager, auditor, integration_reader.",
    guards=[may_read(VISIT_READERS, "visits")],
    access=SEARCH_VISITS,
)
def search_visits(
    request: Request[Any, Any, Any],
    visit_number: VisitNumber = None,
    visit_number_authority: VisitNumberAuthority = None,
    patient_ref: PatientRef = None,
    status: Status = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[VisitPage]:
    if visit_number is None and patient_ref is None:
        raise InvalidRequestError.of("visitNumber", NEEDS_A_KEY)
    after = _after(cursor)

    def query(tx: Transaction, prefix: str) -> VisitPage:
        return flow_store.find_visits(
            tx, prefix, visit_number=visit_number, visit_number_authority=visit_number_authority,
            patient_ref=patient_ref, status=status, after=after, limit=limit,
        )  # fmt: skip

    return query_view(request, NAME, min_position, wait_ms, query)
