"""Commands over HTTP, for every resource: one typed ``POST`` handler per command.

A resource (visits, complaints, budget lines) lists its commands without a target by path
(``POST /visits``, ``POST /budget-transfers``) and its commands on one aggregate by action
segment (``POST /visits/{id}/<action>``). The handlers are generated from those tables, so the
OpenAPI schema shows every body and the guard of each route knows its command before the body
is read. Handlers are synchronous and run in a worker thread (``sync_to_thread=True``): the
event store is.

No ``from __future__ import annotations`` here: the generated handlers' annotations must be
evaluated when each is defined, so that ``data`` is typed with that handler's command (Litestar
reads the annotations to pick the DTO and to document the body).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPIType
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from adapters.http.kit.auth import claims_of, may_issue, may_read
from adapters.http.kit.command_body import CommandBody, decode_command
from adapters.http.kit.context import (
    command_identity,
    expected_version,
    request_context,
    services_of,
)
from adapters.http.kit.problems import InvalidRequestError, problem_responses
from adapters.http.kit.read_side import aware
from adapters.http.kit.schemas import CommandAccepted
from application.service import CommandResult
from application.shared.commands import Command

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Resource:
    """A collection of aggregates in the API: ``/api/v1/<segment>/{id}``."""

    #: The absolute path of the collection, for ``Location`` (``/api/v1/visits``).
    path: str
    #: What one of them is called in summaries and descriptions (``visit``).
    noun: str
    #: Route-name prefix (``visits``): route names are ``<name>:<Command>``.
    name: str


# ---- parameters (declared on the handlers so the OpenAPI schema documents them) ----------
# The headers' patterns and lengths are documented here (schema_extra) and enforced by
# adapters/http/context.py, whose messages say what is wrong without Litestar's regex echo;
# the OpenAPI contract test checks that the two agree.
#: A header is text or absent, never JSON null (Litestar documents ``str | None`` as
#: oneOf [string, null], and a client sending "null" would be refused).
TEXT_HEADER: dict[str, Any] = {"type": OpenAPIType.STRING, "one_of": None}
#: A version tag: "3", W/"3" or 3 (a version is at least 1), or * for any.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$'
#: Visible ASCII, no spaces.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
#: Source system, source message id and on-behalf-of: short identifiers, never free text.
IDENTIFIER_SCHEMA = {
    **TEXT_HEADER,
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$",
    "max_length": 100,
}
#: Declared as a string and parsed by the handler, so a malformed id is a 400 naming the
#: field (a ``{id:uuid}`` route would answer 404: Litestar treats it as no route).
AggregateId = Annotated[
    str, PathParameter(description="The resource's id (a UUID)", schema_extra={"format": "uuid"})
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='The version the command expects, e.g. "3" (W/"3" and 3 accepted, * = any). '
        "A record that has moved on gives 412 and nothing is recorded.",
        schema_extra={**TEXT_HEADER, "pattern": IF_MATCH_PATTERN, "max_length": 22},
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="1-200 visible ASCII characters, per user. Only an accepted command is "
        "remembered: a repeat of it (same method, route, id and decoded body) returns the "
        "first status and body with Idempotent-Replayed: true and records nothing new; the same "
        "key with another request gives 422 IDEMPOTENCY_KEY_REUSED. A refused command is not "
        "remembered, so repeating it runs it again.",
        schema_extra={
            **TEXT_HEADER,
            "pattern": IDEMPOTENCY_KEY_PATTERN,
            "min_length": 1,
            "max_length": 200,
        },
    ),
]
SourceSystem = Annotated[
    str | None,
    HeaderParameter(
        name="X-Source-System",
        required=False,
        description="Feeds (role integration) only, with X-Source-Message-Id: the sending system. "
        "A repeated (system, message id) records nothing new.",
        schema_extra=IDENTIFIER_SCHEMA,
    ),
]
SourceMessageId = Annotated[
    str | None,
    HeaderParameter(
        name="X-Source-Message-Id",
        required=False,
        description="Feeds only: the message's id in the source system (e.g. HL7 MSH-10).",
        schema_extra=IDENTIFIER_SCHEMA,
    ),
]
OnBehalfOf = Annotated[
    str | None,
    HeaderParameter(
        name="X-On-Behalf-Of",
        required=False,
        description="The user the caller acts for; recorded on the events.",
        schema_extra=IDENTIFIER_SCHEMA,
    ),
]
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

ETAG_HEADER = ResponseHeader(
    name="ETag", documentation_only=True, description='The record\'s version, e.g. "3"'
)
_COMMAND_HEADERS = [
    ETAG_HEADER,
    ResponseHeader(
        name="Idempotent-Replayed",
        documentation_only=True,
        description="true when this is the stored reply to an earlier request with the same key",
    ),
]
_CREATED_HEADERS = [
    *_COMMAND_HEADERS,
    ResponseHeader(name="Location", documentation_only=True, description="The new record's URL"),
]
_COMMAND_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 500, 503)
_UNTARGETED_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503)


# ---- running a command ---------------------------------------------------------------------
def run_command(
    request: Request[Any, Any, Any],
    command: Command,
    resource: Resource,
    *,
    target: UUID | None = None,
    if_match: str | None = None,
    idempotency_key: str | None = None,
    source_system: str | None = None,
    source_message_id: str | None = None,
    on_behalf_of: str | None = None,
) -> Response[CommandAccepted]:
    claims = claims_of(request)
    context = request_context(
        request.scope, claims, type(command),
        on_behalf_of=on_behalf_of, source_system=source_system, source_message_id=source_message_id,
    )  # fmt: skip
    identity = command_identity(request.scope, claims, command, idempotency_key, target=target)
    result = services_of(request).execute(
        command,
        context,
        target=target,
        expected_version=expected_version(if_match) if target is not None else None,
        identity=identity,
    )
    return command_reply(result, resource)


def command_reply(result: CommandResult, resource: Resource) -> Response[CommandAccepted]:
    headers = {"ETag": f'"{result.version}"'}
    if result.created:
        headers["Location"] = f"{resource.path}/{result.id}"
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        CommandAccepted(id=result.id, version=result.version, position=result.position),
        status_code=201 if result.created else 200,
        headers=headers,
    )


# ---- one handler per command ---------------------------------------------------------------
def untargeted_handler(
    resource: Resource, path: str, command_type: type[Command], success: str
) -> HTTPRouteHandler:
    """``POST <path>`` for a command that names no aggregate in its path: a creation (201
    with ``Location``) or one that names its aggregates in the body (200)."""

    def handle(
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
        x_source_system: SourceSystem = None,
        x_source_message_id: SourceMessageId = None,
        x_on_behalf_of: OnBehalfOf = None,
        data: JSONBody[command_type | None] = None,  # type: ignore[valid-type]
    ) -> Response[CommandAccepted]:
        return run_command(
            request, data if data is not None else decode_command(command_type, b""), resource,
            idempotency_key=idempotency_key, source_system=x_source_system,
            source_message_id=x_source_message_id, on_behalf_of=x_on_behalf_of,
        )  # fmt: skip

    created = command_type.creates
    return post(
        path,
        **_documented(resource, command_type, success, 201 if created else 200),
        response_headers=_CREATED_HEADERS if created else _COMMAND_HEADERS,
        responses=_UNTARGETED_PROBLEMS,
    )(handle)


def action_handler(
    resource: Resource, action: str, command_type: type[Command]
) -> HTTPRouteHandler:
    """``POST /{id}/<action>``: a command on one aggregate."""

    def handle(
        request: Request[Any, Any, Any],
        id: AggregateId,  # noqa: A002 - the contract's name for it
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        x_source_system: SourceSystem = None,
        x_source_message_id: SourceMessageId = None,
        x_on_behalf_of: OnBehalfOf = None,
        data: JSONBody[command_type | None] = None,  # type: ignore[valid-type]
    ) -> Response[CommandAccepted]:
        return run_command(
            request, data if data is not None else decode_command(command_type, b""), resource,
            target=parse_id(id), if_match=if_match, idempotency_key=idempotency_key,
            source_system=x_source_system, source_message_id=x_source_message_id,
            on_behalf_of=x_on_behalf_of,
        )  # fmt: skip

    success = f"Recorded: the {resource.noun}'s new version and log position"
    return post(
        f"/{{id:str}}/{action}",
        **_documented(resource, command_type, success, 200),
        response_headers=_COMMAND_HEADERS,
        responses=_COMMAND_PROBLEMS,
    )(handle)


def _documented(
    resource: Resource, command_type: type[Command], success: str, status: int
) -> dict[str, Any]:
    name = command_type.__name__
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    roles = ", ".join(sorted(command_type.roles))
    return {
        "operation_id": name[0].lower() + name[1:],
        "name": f"{resource.name}:{name}",
        "summary": words[0].upper() + words[1:],
        "description": f"{name}. Roles: {roles}.",
        "response_description": success,
        "status_code": status,
        "guards": [may_issue(command_type)],
        "dto": CommandBody[command_type],  # type: ignore[valid-type]
        "return_dto": None,
        "sync_to_thread": True,
    }


# ---- reading one aggregate -------------------------------------------------------------------
def state_handler(
    resource: Resource,
    aggregate_type: type[Aggregate],
    schema: type[Any],
    readers: frozenset[str],
    *,
    operation_id: str,
    summary: str,
    show: Callable[[Any], Any] | None = None,
) -> HTTPRouteHandler:
    """``GET /{id}``: the aggregate now, as of a version or as of a time, as ``schema.of``
    shows it (or ``show``, which returns a ``schema``), with its ``ETag`` (304 for a
    matching ``If-None-Match``)."""
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
    )(handle)


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
    ``ETag``; 304 when ``If-None-Match`` holds that version."""
    if as_of_version is not None and as_of is not None:
        raise InvalidRequestError.of("asOf", "give asOf or asOfVersion, not both")
    aware("asOf", as_of)
    aggregate = services_of(request).get_aggregate(
        parse_id(raw_id), aggregate_type, version=as_of_version, as_of=as_of
    )
    etag = f'"{aggregate.version}"'
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(None, status_code=304, headers={"ETag": etag})
    return Response(schema_of(aggregate), headers={"ETag": etag})


def parse_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidRequestError.of("id", "must be a UUID") from None


def _matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): W/"3" matches "3".
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
