"""Reading one aggregate over HTTP: ``GET /{id}``, now, as of a version or as of a time, with
its ``ETag`` (304 for a matching ``If-None-Match``).

No ``from __future__ import annotations`` here: a generated handler's return annotation must be
evaluated when it is defined (it names that route's response Struct, for Litestar to document).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from eventsourcing.domain import Aggregate
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, QueryParameter

from adapters.http.kit.access import recorded
from adapters.http.kit.auth import may_read
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import aware
from adapters.http.kit.resources import (
    ETAG_HEADER,
    TEXT_HEADER,
    AggregateId,
    Resource,
    parse_id,
)
from adapters.http.kit.services import services_of
from adapters.privacy import key_use

A = TypeVar("A", bound=Aggregate)

IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        required=False,
        description="An ETag held: 304 if unchanged.",
        schema_extra=TEXT_HEADER,
    ),
]
#: Bounded by the stores' signed 64-bit version column: a larger number made SQLite raise
#: OverflowError (a 500); now it is a 400 naming asOfVersion.
MAX_VERSION = 2**63 - 1
AsOfVersion = Annotated[
    int | None,
    QueryParameter(
        name="asOfVersion",
        ge=1,
        le=MAX_VERSION,
        required=False,
        description=f"The record as of this version (1 to {MAX_VERSION}).",
    ),
]
AsOf = Annotated[
    datetime | None,
    QueryParameter(
        name="asOf",
        required=False,
        description="The record as it stood at this RFC 3339 time with an offset "
        "(URL-encode '+' as %2B). Not together with asOfVersion.",
    ),
]


def state_handler(
    resource: Resource,
    aggregate_type: type[Aggregate],
    schema: type[Any],
    readers: frozenset[str],
    *,
    operation_id: str,
    summary: str,
    show: Callable[[Any], Any] | None = None,
    access: str | None = None,
) -> HTTPRouteHandler:
    """``GET /{id}``: the aggregate now, as of a version or as of a time, as ``schema.of``
    shows it (or ``show``, which returns a ``schema``), with its ``ETag`` (304 for a
    matching ``If-None-Match``). With ``access`` (the action, ``read visit``), every
    successful read is recorded (:mod:`adapters.http.kit.access`)."""
    schema_of = show or schema.of

    def handle(
        request: Request[Any, Any, Any],
        id: AggregateId,  # noqa: A002 - the contract's name for it
        as_of_version: AsOfVersion = None,
        as_of: AsOf = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[schema]:  # type: ignore[valid-type]
        return state_response(
            request, id, aggregate_type, schema_of,
            as_of_version=as_of_version, as_of=as_of, if_none_match=if_none_match,
        )  # fmt: skip

    return get(
        "/{id:str}",
        operation_id=operation_id,
        name=f"{resource.name}:get",
        summary=summary,
        # A denied read names the record's type as well as its id in the audit trail.
        guards=[may_read(readers, f"{resource.noun}s", target_type=aggregate_type.__name__)],
        sync_to_thread=True,
        response_headers=[ETAG_HEADER],
        responses=problem_responses(400, 401, 403, 404, 500, 503),
    )(recorded(access)(handle) if access is not None else handle)


def state_response(
    request: Request[Any, Any, Any],
    raw_id: str,
    aggregate_type: type[A],
    schema_of: Callable[[A], Any],
    *,
    as_of_version: int | None = None,
    as_of: datetime | None = None,
    if_none_match: str | None = None,
) -> Response[Any]:
    """The aggregate now (or as of a version or time) as ``schema_of`` shows it, with its
    ``ETag``; 304 when ``If-None-Match`` holds that version (and none of its text reads as
    erased)."""
    if as_of_version is not None and as_of is not None:
        raise InvalidRequestError.of("asOf", "give asOf or asOfVersion, not both")
    aware("asOf", as_of)
    aggregate = services_of(request).get_aggregate(
        parse_id(raw_id), aggregate_type, version=as_of_version, as_of=as_of
    )
    etag = f'"{aggregate.version}"'
    # Text erased since is erased under the same version: a copy the client holds under
    # this ETag may be from before, so it gets the record again instead of a 304.
    if (
        if_none_match is not None
        and etag_matches(if_none_match, etag)
        and not key_use.showed_erased_text()
    ):
        return Response(None, status_code=304, headers={"ETag": etag})
    return Response(schema_of(aggregate), headers={"ETag": etag})


def etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): W/"3" matches "3".
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
