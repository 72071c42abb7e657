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
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, JSONBody, PathParameter

from adapters.http.kit.auth import claims_of, may_issue
from adapters.http.kit.command_body import CommandBody, decode_command
from adapters.http.kit.context import command_identity, expected_version, request_context
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.resources import (
    ETAG_HEADER,
    TEXT_HEADER,
    AggregateId,
    Resource,
    documented_header,
    parse_id,
)
from adapters.http.kit.schemas import CommandAccepted
from adapters.http.kit.services import services_of
from application.service import CommandResult
from application.shared.commands import Command

# ---- parameters (declared on the handlers so the OpenAPI schema documents them) ----------
# The headers' patterns and lengths are documented here (schema_extra) and enforced by
# adapters/http/kit/context.py and identifiers.py, whose messages say what is wrong without
# Litestar's regex echo; the OpenAPI contract test checks that the two agree.
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

_COMMAND_HEADERS = [
    ETAG_HEADER,
    documented_header(
        "Idempotent-Replayed",
        "true when this is the stored reply to an earlier request with the same key",
    ),
]
_CREATED_HEADERS = [
    *_COMMAND_HEADERS,
    documented_header("Location", "The new record's URL"),
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
    services = services_of(request)
    identity = command_identity(
        request.scope, claims, command, idempotency_key, fingerprints=services.fingerprints,
        target=target,
    )  # fmt: skip
    result = services.execute(
        command,
        context,
        target=target,
        expected_version=expected_version(if_match) if target is not None else None,
        identity=identity,
    )
    return command_reply(result, resource, command)


def command_reply(
    result: CommandResult, resource: Resource, command: Command | None = None
) -> Response[CommandAccepted]:
    headers = {"ETag": f'"{result.version}"'}
    if result.created:
        headers["Location"] = (
            resource.location(command, result.id) if command is not None
            else f"{resource.path}/{result.id}"
        )  # fmt: skip
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

    created = command_type.creates  # an accepted waitlist offer creates its visit
    success = (
        f"{resource.noun.capitalize()} created: its id, version and log position" if created
        else f"Recorded: the {resource.noun}'s new version and log position"
    )  # fmt: skip
    return post(
        f"/{{id:str}}/{action}",
        **_documented(resource, command_type, success, 201 if created else 200),
        response_headers=_CREATED_HEADERS if created else _COMMAND_HEADERS,
        responses=_COMMAND_PROBLEMS,
    )(handle)


#: A unit's code in a path (``/units/{code}/close``): a Ref, as the feeds name units.
UnitCode = Annotated[
    str,
    PathParameter(
        description="The unit's code",
        schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/ -]*$", "max_length": 64},
    ),
]


def coded_action_handler(
    resource: Resource, action: str, command_type: type[Command], target_of: Callable[[str], UUID]
) -> HTTPRouteHandler:
    """``POST /{code}/<action>``: a command on one aggregate named by its code (a unit), its
    id derived from the code by ``target_of``."""

    def handle(
        request: Request[Any, Any, Any],
        code: UnitCode,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        x_on_behalf_of: OnBehalfOf = None,
        data: JSONBody[command_type | None] = None,  # type: ignore[valid-type]
    ) -> Response[CommandAccepted]:
        return run_command(
            request, data if data is not None else decode_command(command_type, b""), resource,
            target=target_of(code), if_match=if_match, idempotency_key=idempotency_key,
            on_behalf_of=x_on_behalf_of,
        )  # fmt: skip

    success = f"Recorded: the {resource.noun}'s new version and log position"
    return post(
        f"/{{code:str}}/{action}",
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
