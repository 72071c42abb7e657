"""From an HTTP request to what the application needs to run a command: the
:class:`~application.shared.context.RequestContext` (who, with the role the route's guard
decided, on which request, from which feed), the ``If-Match`` version and the
``Idempotency-Key`` identity.

Every header is checked here, before the application is called, so a malformed one is a 400
that records nothing.
"""

from __future__ import annotations

import re
from uuid import UUID

import msgspec
from litestar.connection import ASGIConnection
from litestar.types import HTTPScope, Scope

from adapters.auth_tokens import TokenClaims
from adapters.http.kit.auth import acting_roles_of, record_denied
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.identifiers import identifier
from application.shared.attempts import target_type_of
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.shared.errors import NotAuthorisedError
from application.shared.idempotency import CommandIdentity, Fingerprints

_VERSION_TAG = re.compile(r'(?:W/)?"([0-9]{1,18})"|([0-9]{1,18})')
#: Visible ASCII, no spaces: keys are opaque to us, but must survive headers and proxies intact.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def request_context(
    scope: Scope,
    claims: TokenClaims,
    command_type: type[Command],
    *,
    on_behalf_of: str | None,
    source_system: str | None,
    source_message_id: str | None,
) -> RequestContext:
    source_system = identifier(source_system, "X-Source-System")
    source_message_id = identifier(source_message_id, "X-Source-Message-Id")
    if (source_system is None) != (source_message_id is None):
        raise InvalidRequestError.of(
            "X-Source-System" if source_system is None else "X-Source-Message-Id",
            "X-Source-System and X-Source-Message-Id are sent together or not at all",
        )
    # The role was decided by the route's guard; only which of its answers applies (a
    # feed's message or not) depends on the headers checked above.
    decided = acting_roles_of(scope)
    role = decided.direct
    if source_system is not None:
        if decided.feed_refusal is not None:
            # A feed whose role may not issue this command: refused like any such command.
            raise NotAuthorisedError(decided.feed_refusal)
        if decided.feed is None:
            record_denied(
                ASGIConnection(scope), claims, f"{command_type.__name__} with X-Source-System",
                target_type=target_type_of(command_type),
            )  # fmt: skip
            raise NotAuthorisedError("only the integration role may send X-Source-System")
        role = decided.feed
    return RequestContext(
        actor_id=claims.subject,
        actor_role=role,
        correlation_id=correlation_id_of(scope),
        on_behalf_of=identifier(on_behalf_of, "X-On-Behalf-Of"),
        source_system=source_system,
        source_message_id=source_message_id,
    )


def expected_version(if_match: str | None) -> int | None:
    """``If-Match: "3"`` (also ``W/"3"`` and a bare ``3``) → 3; absent or ``*`` → no check."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _VERSION_TAG.fullmatch(if_match.strip())
    version = int(match[1] or match[2]) if match else 0
    if version < 1:
        raise InvalidRequestError.of("If-Match", 'expected one version tag such as "3", or *')
    return version


def command_identity(
    scope: HTTPScope,
    claims: TokenClaims,
    command: Command,
    key: str | None,
    *,
    fingerprints: Fingerprints,
    target: UUID | None = None,
) -> CommandIdentity | None:
    """The identity that makes a command with an ``Idempotency-Key`` run at most once.

    Keys are per user; the fingerprint covers the method, the route template, the parsed
    visit id and the decoded command re-encoded, so spelling differences that name the same
    request (an upper-case UUID, body formatting) do not count as another request."""
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequestError.of(
            "Idempotency-Key", "expected 1 to 200 visible ASCII characters"
        )
    # Not scope["path"]: the raw path spells the visit id as the client did, so the same
    # visit in upper case was a "different request" (422). The template plus the canonical
    # (lower-case) UUID name the same target however it was written.
    return fingerprints.identity(
        f"user:{claims.subject}", key,
        scope["method"], scope["path_template"], str(target) if target is not None else "",
        msgspec.json.encode(command),
    )  # fmt: skip
