"""The audit trail, paginated: ``GET /api/v1/audit/events`` (oldest first, or newest first
with ``order=desc``) and ``GET /api/v1/audit/events/{position}`` (one entry with its chain
hashes). Auditor role only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter

from adapters.http.audit_parameters import (
    Action,
    Actor,
    AggregateId,
    From,
    IncludeBookkeeping,
    Kind,
    Outcome,
    PatientRef,
    PurposeOfUse,
    SourceSystem,
    To,
    audit_filters,
)
from adapters.http.audit_reasons import reveal_reasons
from adapters.http.kit.access import AccessSpec, fields_named
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
    query_view,
    read_route,
)
from adapters.readmodels.audit.store import NAME, audit_entry, audit_events
from application.shared.access import READ_AUDIT_ENTRY, READ_AUDIT_TRAIL
from application.shared.permissions import AUDIT_READERS
from projections.audit.trail import AuditEntry

Cursor = Annotated[
    str | None,
    QueryParameter(required=False, max_length=40, pattern=QUERY_TEXT_PATTERN,
                   description="The `nextCursor` of the previous page (opaque; a cursor "
                   "is for the `order` it was returned with)."),
]  # fmt: skip
Position = Annotated[
    int,
    PathParameter(description="A log position (an entry's `position`; a command's `position`)."),
]
Order = Annotated[
    Literal["asc", "desc"],
    QueryParameter(required=False, description="`asc` (default): oldest first; `desc`: "
                   "newest first."),
]  # fmt: skip

#: What a read of the trail returned, for its own access record: the patients its entries are
#: about and the records they concern (the trail is patient-linked data too).
_ENTRIES_RETURNED = fields_named(("patient_ref", "patient_refs"), ("aggregate_id",))
TRAIL_ACCESS = AccessSpec(READ_AUDIT_TRAIL, _ENTRIES_RETURNED)
ENTRY_ACCESS = AccessSpec(READ_AUDIT_ENTRY, _ENTRIES_RETURNED)

#: A newest-first cursor starts with this, so a cursor sent with the other order is a 400
#: rather than a page from the wrong place.
_DESCENDING_CURSOR = "d"
_NOT_A_CURSOR = "not a cursor this service returned"
#: The largest position a BIGINT column holds.
_MAX_POSITION = 2**63 - 1


class AuditEventsPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[AuditEntry]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


class ChainedAuditEntry(AuditEntry, frozen=True, kw_only=True, rename="camel"):
    """One entry with the hash chain at it: ``hash`` is its own, ``prevHash`` the one before
    (``GET /audit/verify`` recomputes both from the stored log)."""

    #: The entry's hash in the trail's chain: SHA-256 (hex) of `prevHash` and the stored record.
    hash: str
    #: The hash of the entry before it in the chain.
    prev_hash: str


def cursor_position(cursor: str | None, descending: bool) -> int | None:
    """The position a cursor continues from (None: the first page), or a 400."""
    if cursor is None:
        return None
    digits = cursor
    if descending:
        if not cursor.startswith(_DESCENDING_CURSOR):
            # An oldest-first cursor: not one this service returned for this order.
            raise InvalidRequestError.of("cursor", _NOT_A_CURSOR)
        digits = cursor[len(_DESCENDING_CURSOR) :]
    if not digits.isdigit() or len(digits) > 18:
        raise InvalidRequestError.of("cursor", _NOT_A_CURSOR)
    return int(digits)


def next_cursor(position: int | None, descending: bool) -> str | None:
    if position is None:
        return None
    return f"{_DESCENDING_CURSOR if descending else ''}{position}"


@read_route(
    "/events",
    operation_id="listAuditEvents",
    name="audit:events",
    summary="The audit trail, oldest (or newest) first",
    description="Every recorded event, every read of patient data (an access: who read what, "
    "when, why) and every refused or denied attempt, with who, what, when, which record and "
    "why. Filters combine (all must hold). Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit trail")],
    access=TRAIL_ACCESS,
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
    kind: Kind = None,
    purpose_of_use: PurposeOfUse = None,
    source_system: SourceSystem = None,
    order: Order = "asc",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[AuditEventsPage]:
    filters = audit_filters(
        patient_ref, actor, aggregate_id, action, outcome, from_, to, include_bookkeeping,
        kind=kind, purpose_of_use=purpose_of_use, source_system=source_system,
    )  # fmt: skip
    descending = order == "desc"
    after = cursor_position(cursor, descending)

    def query(tx: Any, prefix: str) -> AuditEventsPage:
        page = audit_events(tx, prefix, filters, after, limit, descending=descending)
        return AuditEventsPage(
            items=reveal_reasons(request, page.entries),
            next_cursor=next_cursor(page.next_after, descending),
        )

    return query_view(request, NAME, min_position, wait_ms, query)


@read_route(
    "/events/{position:int}",
    operation_id="getAuditEvent",
    name="audit:event",
    summary="One entry of the audit trail, with its chain hashes",
    description="The entry at this log position, with `hash` (its chain hash) and `prevHash` "
    "(the one before it). 404 when the trail has no entry there: not a position of the log, "
    "or not chained yet (send `minPosition` to wait for it). Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit trail")],
    responses=problem_responses(400, 401, 403, 404, 500, 503),
    access=ENTRY_ACCESS,
)
def get_audit_event(
    request: Request[Any, Any, Any],
    position: Position,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[ChainedAuditEntry]:
    if not 1 <= position <= _MAX_POSITION:
        raise NotFoundException("The trail has no entry at this position.")

    def query(tx: Any, prefix: str) -> ChainedAuditEntry:
        found = audit_entry(tx, prefix, position)
        if found is None:
            raise NotFoundException("The trail has no entry at this position.")
        [entry] = reveal_reasons(request, [found.entry])
        fields = msgspec.structs.asdict(entry)
        return ChainedAuditEntry(**fields, hash=found.hash, prev_hash=found.prev_hash)

    return query_view(request, NAME, min_position, wait_ms, query)
