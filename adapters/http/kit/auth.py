"""Bearer-token authentication and role guards (domain-spec §5: deny by default).

:class:`BearerAuthMiddleware` sits on the ``/api`` router, so no API route can be reached
without a valid token; it leaves the token's :class:`~adapters.auth_tokens.TokenClaims` in
``request.user``. Guards then check the role for the route before the body is read, so a
refused request never decodes or validates anything, and records only the denial itself
(an audit-trail attempt with outcome ``denied``; see :func:`record_denied`).

A command route's guard is also where the role the command acts with is decided, once per
request (:class:`ActingRoles`): the request context and the events take it from there.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from uuid import UUID

import anyio.to_thread
import structlog
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.auth_tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    TokenClaims,
    decode_token,
)
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import AuthenticationError, ServiceUnavailableError
from adapters.http.kit.identifiers import optional_identifier
from adapters.http.kit.services import services_of
from adapters.http.kit.session_cookie import SESSION_COOKIE, CsrfRefusedError, check_csrf
from adapters.identity_provider import ProviderTokens
from adapters.settings import Settings
from application.shared.attempts import Attempt, target_type_of
from application.shared.commands import Command
from application.shared.errors import NotAuthorisedError
from application.shared.permissions import acting_role, require_reader

log = structlog.get_logger("http")

_AUTHORIZATION = b"authorization"
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
#: Verified tokens kept, so a client's token (reused for up to JWT_TTL_MINUTES) is checked
#: cryptographically about once a minute, not on every request.
VERIFIED_TOKENS_KEPT = 1024
#: A kept token is verified again after this long: once its provider has withdrawn the key
#: that signed it and the key set has been fetched again (every KEYS_LIFESPAN_SECONDS of
#: :mod:`adapters.identity_provider`), it stops being accepted within this bound too.
VERIFIED_FOR_SECONDS = 60.0
#: Refused tokens recorded in the trail per process and second (see _RefusalBudget).
REFUSALS_RECORDED_PER_SECOND = 20
REFUSALS_LOG_SECONDS = 10.0
#: A refused token's attempt: its action, and its actor when nothing in it can be trusted.
AUTHENTICATE_ACTION = "authenticate"
UNVERIFIED_ACTOR = "unverified"
#: Feeds send commands as this role; only it may tag a command with a source message.
INTEGRATION_ROLE = "integration"
#: Where a command route's guard leaves its :class:`ActingRoles` (the ASGI scope's state).
_ACTING_ROLES_KEY = "patient_services.acting_roles"


class BearerAuthMiddleware(ASGIMiddleware):
    """One per app, shared by every authenticated router (``/api/v1``, ``/fhir/*``), so a
    token is verified once and the identity provider's keys are fetched by one client."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self._leeway = timedelta(seconds=settings.jwt_leeway_seconds)
        # A provider's keys may have to be fetched: off the event loop. Our own HS256
        # tokens need no I/O and are checked in place.
        self._blocking = settings.uses_identity_provider
        self._decode: Callable[[str], TokenClaims] = (
            ProviderTokens(settings).verify
            if settings.uses_identity_provider
            else partial(decode_token, settings)
        )
        # Keyed by the whole token, signature included: a hit is the very token verified
        # before, when (monotonic). Failures raise, so they are never kept. ``exp`` is checked
        # on each use; a withdrawn key by verifying again after VERIFIED_FOR_SECONDS
        # (``iat``/``nbf`` only become more valid). Touched only from the event loop.
        self._verified: OrderedDict[str, tuple[TokenClaims, float]] = OrderedDict()
        self._refusals = _RefusalBudget()

    def __deepcopy__(self, memo: dict[int, Any]) -> BearerAuthMiddleware:
        # Litestar deep-copies a router when it is registered: the copies must share this
        # one's cache and key client (and a lock cannot be copied).
        return self

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        claims = await self.authenticate(scope)
        scope["user"] = claims
        scope["auth"] = claims
        structlog.contextvars.bind_contextvars(actor_id=claims.subject)
        await next_app(scope, receive, send)

    async def authenticate(self, scope: Scope) -> TokenClaims:
        header = next((v for k, v in scope["headers"] if k == _AUTHORIZATION), None)
        if header is None:
            token = self._session_token(scope)
        else:
            scheme, _, token = header.decode("latin-1").strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise AuthenticationError(
                    "the Authorization header must be 'Bearer <token>'", token_given=False
                )
        return await self.claims_for(token, scope)

    async def claims_for(self, token: str, scope: Scope) -> TokenClaims:
        """``token``'s claims once verified and unexpired (a refusal is recorded and is an
        :class:`AuthenticationError`): for a request, and for the screens' sign-in."""
        try:
            claims = await self._verify(token)
        except InvalidTokenError as e:
            await self._record_refusal(scope, e.code, e.subject)
            raise AuthenticationError(str(e), token_given=True) from None
        except KeysUnavailableError as e:
            raise ServiceUnavailableError(str(e)) from None
        if claims.expires_at + self._leeway <= utc_now():
            await self._record_refusal(scope, "TOKEN_EXPIRED", claims.subject)
            raise AuthenticationError("the token has expired", token_given=True)
        return claims

    @staticmethod
    def _session_token(scope: Scope) -> str:
        """The token a signed-in screen sends in its session cookie (see session_cookie.py);
        one that changes something must also pass the CSRF check."""
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        token = connection.cookies.get(SESSION_COOKIE, "").strip()
        if not token:
            raise AuthenticationError(
                "an Authorization: Bearer token is required", token_given=False
            )
        try:
            check_csrf(str(scope.get("method", "GET")), connection.cookies, connection.headers)
        except CsrfRefusedError as e:
            raise NotAuthorisedError(str(e)) from None
        return token

    async def _verify(self, token: str) -> TokenClaims:
        kept = self._verified.get(token)
        if kept is not None and time.monotonic() - kept[1] < VERIFIED_FOR_SECONDS:
            self._verified.move_to_end(token)
            return kept[0]
        self._verified.pop(token, None)  # stale: a refusal now must not leave it kept
        if self._blocking:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        else:
            claims = self._decode(token)
        self._verified[token] = (claims, time.monotonic())
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return claims

    async def _record_refusal(self, scope: Scope, code: str, subject: str | None) -> None:
        """A refused token in the audit trail (outcome ``denied``, action ``authenticate``,
        the reason's code): its subject when the signature was good, else
        :data:`UNVERIFIED_ACTOR`. Never the token. Bounded: see :class:`_RefusalBudget`."""
        if not self._refusals.take():
            return
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        attempt = Attempt(
            action=AUTHENTICATE_ACTION, actor_id=subject or UNVERIFIED_ACTOR, actor_roles=(),
            correlation_id=correlation_id_of(scope),
            source_system=optional_identifier(connection.headers.get("x-source-system")),
        )  # fmt: skip
        log.warning("access.unauthenticated", actor_id=attempt.actor_id, code=code)
        try:
            services = services_of(connection)
            await anyio.to_thread.run_sync(services.record_unauthenticated, code, attempt)
        except Exception:  # the 401 is still the answer; the log says what was not kept
            log.exception("access.unauthenticated_not_recorded", code=code)


class _RefusalBudget:
    """At most :data:`REFUSALS_RECORDED_PER_SECOND` refused tokens are recorded per process
    and second: anyone can send a bad token, and each recorded one is a write. What is over
    the budget is only counted, and the count logged every :data:`REFUSALS_LOG_SECONDS`."""

    def __init__(self) -> None:
        self._second = 0
        self._taken = 0
        self._skipped = 0
        self._logged_at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        if int(now) != self._second:
            self._second, self._taken = int(now), 0
        if self._taken < REFUSALS_RECORDED_PER_SECOND:
            self._taken += 1
            return True
        self._skipped += 1
        if now - self._logged_at >= REFUSALS_LOG_SECONDS:
            log.error("access.unauthenticated_not_recorded", count=self._skipped,
                      reason="more refused tokens than the trail takes per second")  # fmt: skip
            self._skipped, self._logged_at = 0, now
        return False


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def claims_of(connection: ASGIConnection[Any, Any, Any, Any]) -> TokenClaims:
    claims = connection.scope.get("user")
    # Only reachable if a route were mounted outside the authenticated router: refuse.
    if not isinstance(claims, TokenClaims):
        raise AuthenticationError("an Authorization: Bearer token is required", token_given=False)
    return claims


@dataclass(frozen=True)
class ActingRoles:
    """The role a command request acts with, decided once, by its route's guard
    (:func:`may_issue`), for :func:`~adapters.http.kit.context.request_context` to take.

    ``direct`` is the role recorded on the events (``acting_role``: the token's first role,
    or highest tier, that may issue the command). A request naming a source system
    (``X-Source-System``: a feed's message) acts as the integration role instead: ``feed``
    is that role when the token holds it and it may issue the command. When it is None,
    ``feed_refusal`` says why if the token holds the integration role (a 403 that records
    nothing, as any command the role may not issue); if the token lacks that role, naming a
    source system is a denial, recorded. Either is answered only after the headers have been
    checked (a malformed one is a 400 first), which is why the guard leaves the answer here
    rather than refusing at once."""

    direct: str
    feed: str | None
    feed_refusal: str | None = None


def may_issue(command_type: type[Command]) -> Guard:
    """A guard that lets the request through if one of the token's roles may issue the
    command, and leaves the role it acts with (:class:`ActingRoles`) in the scope's state."""
    action = command_type.__name__
    target_type = target_type_of(command_type)

    # Async: the check needs no I/O, so allowed requests never leave the event loop here;
    # only a denial is saved, in a worker thread.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        claims = claims_of(connection)
        try:
            direct = acting_role(claims.roles, command_type)
        except NotAuthorisedError:
            await anyio.to_thread.run_sync(
                partial(record_denied, connection, claims, action, target_type=target_type)
            )
            raise
        decided = _with_feed_role(direct, claims.roles, command_type)
        connection.scope.setdefault("state", {})[_ACTING_ROLES_KEY] = decided

    guard.__name__ = f"may_issue_{action}"
    return guard


def acting_roles_of(scope: Scope) -> ActingRoles:
    """What the route's guard decided for this request."""
    decided = scope.get("state", {}).get(_ACTING_ROLES_KEY)
    if not isinstance(decided, ActingRoles):
        # Only if a command route were mounted without its may_issue guard: fail closed.
        raise RuntimeError("no acting role was decided: the route lacks its may_issue guard")
    return decided


def _with_feed_role(direct: str, roles: Sequence[str], command_type: type[Command]) -> ActingRoles:
    # A source message id makes the command idempotent per source system (domain-spec §0),
    # shared by every caller naming that system: only feeds may claim one, and they act as
    # the integration role (if it may issue the command).
    if INTEGRATION_ROLE not in roles:
        return ActingRoles(direct=direct, feed=None)
    try:
        return ActingRoles(direct=direct, feed=acting_role((INTEGRATION_ROLE,), command_type))
    except NotAuthorisedError as refusal:
        return ActingRoles(direct=direct, feed=None, feed_refusal=refusal.message)


def may_read(readers: frozenset[str], what: str, *, target_type: str | None = None) -> Guard:
    """A guard for queries; ``target_type`` names the aggregate a path ``id`` refers to."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        claims = claims_of(connection)
        try:
            require_reader(claims.roles, readers, what)
        except NotAuthorisedError:
            await anyio.to_thread.run_sync(
                partial(record_denied, connection, claims, f"read {what}", target_type=target_type)
            )
            raise

    guard.__name__ = f"may_read_{what}"
    return guard


def log_denied(claims: TokenClaims, action: str) -> None:
    """One ``access.denied`` line per refused request. Identifiers only: never the body."""
    log.warning("access.denied", actor_id=claims.subject, roles=list(claims.roles), action=action)


def record_denied(
    connection: ASGIConnection[Any, Any, Any, Any],
    claims: TokenClaims,
    action: str,
    *,
    target_type: str | None = None,
) -> None:
    """Log a denied request and record it in the audit trail (domain-spec §4, outcome
    ``denied``), through the application's one way of recording a denial. Blocking: call it
    from a worker thread. Only identifiers are recorded: the token's subject and roles, the
    path's ``id`` if it is a UUID, and the identifier headers if well formed; never the body."""
    log_denied(claims, action)
    headers = connection.headers
    target_id = _uuid_or_none(connection.path_params.get("id"))
    services_of(connection).record_denial(
        Attempt(
            action=action, actor_id=claims.subject, actor_roles=tuple(claims.roles),
            correlation_id=correlation_id_of(connection.scope),
            target_type=target_type if target_id is not None else None, target_id=target_id,
            on_behalf_of=optional_identifier(headers.get("x-on-behalf-of")),
            source_system=optional_identifier(headers.get("x-source-system")),
            source_message_id=optional_identifier(headers.get("x-source-message-id")),
        )
    )  # fmt: skip


def _uuid_or_none(value: object) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None
