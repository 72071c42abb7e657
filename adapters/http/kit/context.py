"""From an HTTP request to what the application needs to run a command: the services, the
:class:`~application.shared.context.RequestContext` (who, on which request, from which feed), the
``If-Match`` version and the ``Idempotency-Key`` identity.

Every header is checked here, before the application is called, so a malformed one is a 400
that records nothing.
"""

from __future__ import annotations

import re
from typing import Any, cast
from uuid import UUID

import msgspec
from litestar.connection import ASGIConnection
from litestar.types import Scope

from adapters.auth_tokens import TokenClaims
from adapters.http.kit.auth import record_denied
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.problems import InvalidRequestError, ServiceUnavailableError
from application.service import PatientServices
from application.shared.attempts import target_type_of
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.shared.errors import NotAuthorisedError
from application.shared.idempotency import CommandIdentity
from application.shared.permissions import acting_role

#: Where the app keeps its :class:`PatientServices` (``app.state``).
SERVICES_STATE_KEY = "services"

#: Feeds send commands as this role; only it may tag a command with a source message.
INTEGRATION_ROLE = "integration"

_VERSION_TAG = re.compile(r'(?:W/)?"([0-9]{1,18})"|([0-9]{1,18})')
#: Visible ASCII, no spaces: keys are opaque to us, but must survive headers and proxies intact.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
#: Source system, source message id and on-behalf-of are stored on every event: short
#: identifiers only (an HL7 MSH-10 control id fits), never free text.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> PatientServices:
    services = connection.app.state.get(SERVICES_STATE_KEY)
    if services is None:  # only between process start and the end of start-up
        raise ServiceUnavailableError("the application is starting")
    return cast(PatientServices, services)


def request_context(
    scope: Scope,
    claims: TokenClaims,
    command_type: type[Command],
    *,
    on_behalf_of: str | None,
    source_system: str | None,
    source_message_id: str | None,
) -> RequestContext:
    source_system = _identifier(source_system, "X-Source-System")
    source_message_id = _identifier(source_message_id, "X-Source-Message-Id")
    if (source_system is None) != (source_message_id is None):
        raise InvalidRequestError.of(
            "X-Source-System" if source_system is None else "X-Source-Message-Id",
            "X-Source-System and X-Source-Message-Id are sent together or not at all",
        )
    return RequestContext(
        actor_id=claims.subject,
        actor_role=_acting_role(scope, claims, command_type, from_feed=source_system is not None),
        correlation_id=correlation_id_of(scope),
        on_behalf_of=_identifier(on_behalf_of, "X-On-Behalf-Of"),
        source_system=source_system,
        source_message_id=source_message_id,
    )


def _acting_role(
    scope: Scope, claims: TokenClaims, command_type: type[Command], *, from_feed: bool
) -> str:
    if not from_feed:
        return acting_role(claims.roles, command_type)
    # A source message id makes the command idempotent per source system (domain-spec §0),
    # shared by every caller naming that system: only feeds may claim one.
    if INTEGRATION_ROLE not in claims.roles:
        record_denied(
            ASGIConnection(scope), claims, f"{command_type.__name__} with X-Source-System",
            target_type=target_type_of(command_type),
        )  # fmt: skip
        raise NotAuthorisedError("only the integration role may send X-Source-System")
    return acting_role((INTEGRATION_ROLE,), command_type)


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
    scope: Scope,
    claims: TokenClaims,
    command: Command,
    key: str | None,
    *,
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
    fingerprint = CommandIdentity.fingerprint_of(
        scope["method"],
        scope["path_template"],
        str(target) if target is not None else "",
        msgspec.json.encode(command),
    )
    return CommandIdentity(scope=f"user:{claims.subject}", key=key, fingerprint=fingerprint)


def optional_identifier(value: str | None) -> str | None:
    """An identifier header's value if well formed, else None (for recording a denial,
    which must not fail on the header that a 400 would otherwise have named)."""
    return value if value is not None and _IDENTIFIER.fullmatch(value) else None


def _identifier(value: str | None, header: str) -> str | None:
    if value is None:
        return None
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidRequestError.of(
            header, "expected an identifier of up to 100 letters, digits and . _ : / @ -"
        )
    return value
