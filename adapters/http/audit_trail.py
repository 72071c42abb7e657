"""The audit trail, oldest first and paginated: ``GET /api/v1/audit/events`` (auditor role
only)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.params import QueryParameter

from adapters.http.audit_parameters import (
    Action,
    Actor,
    AggregateId,
    From,
    IncludeBookkeeping,
    Outcome,
    PatientRef,
    To,
    audit_filters,
)
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
from adapters.readmodels.audit.store import NAME, audit_events
from application.shared.permissions import AUDIT_READERS
from projections.audit.trail import AuditEntry

Cursor = Annotated[
    str | None,
    QueryParameter(required=False, max_length=40, pattern=QUERY_TEXT_PATTERN,
                   description="The `nextCursor` of the "
                   "previous page (opaque)."),
]  # fmt: skip


class AuditEventsPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[AuditEntry]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidRequestError.of("cursor", "not a cursor this service returned")
    return int(cursor)


@read_route(
    "/events",
    operation_id="listAuditEvents",
    name="audit:events",
    summary="The audit trail, oldest first",
    description="Every recorded event, and every refused or denied attempt, with who, what, "
    "when, which record and why. Filters combine (all must hold). Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit trail")],
)
def list_audit_events(
    request: Request[Any, Any, Any],
    patient_ref: PatientRef = None,
    actor: Actor = None,
    aggregate_id: AggregateId = None,
    action: Action = None,
    outcome: Outcome = None,
    from_: From = None,
    to: To = None,
    include_bookkeeping: IncludeBookkeeping = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[AuditEventsPage]:
    filters = audit_filters(
        patient_ref, actor, aggregate_id, action, outcome, from_, to, include_bookkeeping
    )
    after = _after(cursor)

    def query(tx: Any, prefix: str) -> AuditEventsPage:
        page = audit_events(tx, prefix, filters, after, limit)
        next_cursor = None if page.next_after is None else str(page.next_after)
        return AuditEventsPage(items=page.entries, next_cursor=next_cursor)

    return query_view(request, NAME, min_position, wait_ms, query)
