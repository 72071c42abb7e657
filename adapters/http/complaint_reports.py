"""The Complaints routes: the case's commands and state (:mod:`adapters.http.complaints`) and
its read models (domain-spec §2) — ``GET /api/v1/complaints/worklist``, ``/complaints/sla``
and ``/complaints/themes`` — with ``minPosition``/``waitMs`` and ``X-Projection-Position``.

The read models hold no narrative, findings or other free text: only codes, references,
dates and counts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeAlias, get_args
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.complaints import complaint_handlers
from adapters.http.kit.auth import may_read
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_MS,
    Limit,
    MinPosition,
    WaitMs,
    aware,
    query_view,
    read_route,
)
from adapters.readmodels.complaints import store as complaints_store
from adapters.readmodels.complaints.store import Worklist
from adapters.readmodels.database import Transaction
from application.shared.access import READ_COMPLAINT_WORKLIST
from application.shared.context import utc_now
from application.shared.permissions import COMPLAINT_REPORT_READERS
from domain.complaints.vocabulary import OPEN_STATES
from projections.complaints.worklist import SlaMonth, Theme

NAME = complaints_store.NAME
#: Reports cover at most a little over two years; by default the last twelve months.
MAX_PERIOD = timedelta(days=2 * 366 + 31)
DEFAULT_PERIOD = timedelta(days=365)

#: The open states, spelled out (sorted, as the document lists them) so that type checkers
#: see a real Literal; checked against the domain's vocabulary when the module loads.
OpenStatus: TypeAlias = Literal[
    "acknowledged",
    "awaiting_information",
    "received",
    "response_drafted",
    "response_sent",
    "under_investigation",
]
if list(get_args(OpenStatus)) != sorted(OPEN_STATES):
    raise RuntimeError("OpenStatus is out of step with domain.complaints.vocabulary.OPEN_STATES")
Status = Annotated[
    OpenStatus | None,
    QueryParameter(required=False, description="Only open cases in this status."),
]
Overdue = Annotated[
    bool | None,
    QueryParameter(
        required=False,
        description="true: only cases whose next deadline has passed; false: only the others.",
    ),
]
Assignee = Annotated[
    str | None,
    QueryParameter(
        required=False,
        min_length=1,
        max_length=64,
        pattern=QUERY_TEXT_PATTERN,
        description="Investigator ref.",
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        required=False,
        max_length=100,
        pattern=QUERY_TEXT_PATTERN,
        description="The `nextCursor` of the previous page.",
    ),
]
From = Annotated[
    datetime | None,
    QueryParameter(
        name="from",
        required=False,
        description="Cases received from this instant (inclusive), RFC 3339 with an offset; "
        "defaults to 365 days before `to`.",
    ),
]
To = Annotated[
    datetime | None,
    QueryParameter(
        required=False,
        description="Cases received before this instant (exclusive); defaults to now.",
    ),
]

#: ``<sort key>~<case id>``, as complaints_store.worklist writes it.
_WORKLIST_CURSOR = re.compile(r"(-?[0-9]{1,19})~[0-9a-f-]{36}")
_PROBLEMS = problem_responses(400, 401, 403, 500, 503)
_GUARDS = [may_read(COMPLAINT_REPORT_READERS, "complaint reports")]


def _period(from_: datetime | None, to: datetime | None) -> tuple[datetime, datetime]:
    end = aware("to", to) or utc_now()
    start = aware("from", from_) or end - DEFAULT_PERIOD
    if start >= end:
        raise InvalidRequestError.of("from", "must be before `to`")
    if end - start > MAX_PERIOD:
        raise InvalidRequestError.of("to", "the period may be at most 763 days")
    return start, end


def _report_handlers(zone: ZoneInfo) -> list[HTTPRouteHandler]:
    @read_route(
        "/worklist",
        operation_id="getComplaintWorklist",
        name="complaints:worklist",
        summary="Open complaint cases, soonest due first, with days to due and RAG",
        description="RAG: red once the next deadline has passed; amber in the last quarter of "
        "the time from receipt to due, and always within its last day; green otherwise. "
        "`daysToDue` counts local days in the facility's time zone (0: due today). "
        "Roles: manager, executive.",
        guards=_GUARDS,
        responses=_PROBLEMS,
        access=READ_COMPLAINT_WORKLIST,
    )
    def get_worklist(
        request: Request[Any, Any, Any],
        status: Status = None,
        overdue: Overdue = None,
        assignee: Assignee = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[Worklist]:
        match = _WORKLIST_CURSOR.fullmatch(cursor) if cursor is not None else None
        # The sort key is a due instant in microseconds: beyond 2**62 it was never written
        # (and would overflow the database's 64-bit integer: a 500, not a 400).
        if cursor is not None and (match is None or abs(int(match[1])) > 2**62):
            raise InvalidRequestError.of("cursor", "not a cursor this service returned")
        now = utc_now()

        def query(tx: Transaction, prefix: str) -> Worklist:
            return complaints_store.worklist(
                tx, prefix, now=now, status=status, overdue=overdue, assignee=assignee,
                limit=limit, cursor=cursor, zone=zone,
            )  # fmt: skip

        return query_view(request, NAME, min_position, wait_ms, query)

    @read_route(
        "/sla",
        operation_id="getComplaintSla",
        name="complaints:sla",
        summary="SLA compliance by month of receipt",
        description="Per month (facility time zone) of the cases received in `[from, to)`: "
        "% acknowledged on time and % responded on time, each with its numerator and "
        "denominator (cases whose deadline has passed or was met). Roles: manager, executive.",
        guards=_GUARDS,
        responses=_PROBLEMS,
    )
    def get_sla(
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[list[SlaMonth]]:
        start, end = _period(from_, to)
        now = utc_now()

        def query(tx: Transaction, prefix: str) -> list[SlaMonth]:
            return complaints_store.sla_by_month(tx, prefix, start, end, now=now, zone=zone)

        return query_view(request, NAME, min_position, wait_ms, query)

    @read_route(
        "/themes",
        operation_id="getComplaintThemes",
        name="complaints:themes",
        summary="Complaint themes: category × unit × month, grade mix and % upheld",
        guards=_GUARDS,
        responses=_PROBLEMS,
    )
    def get_themes(
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[list[Theme]]:
        start, end = _period(from_, to)

        def query(tx: Transaction, prefix: str) -> list[Theme]:
            return complaints_store.themes(tx, prefix, start, end, zone=zone)

        return query_view(request, NAME, min_position, wait_ms, query)

    return [get_worklist, get_sla, get_themes]


def complaints_router(zone: ZoneInfo) -> Router:
    return Router(
        path="/complaints",
        route_handlers=[*_report_handlers(zone), *complaint_handlers(zone)],
        tags=["Complaints"],
    )
