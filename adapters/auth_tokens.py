"""HS256 bearer tokens: minted by the CLI for development, verified by the HTTP layer.

Both sides use these two functions, so the secret, algorithm and claims (``sub``, ``roles``,
``iat``, ``exp``, and ``iss``/``aud`` when configured) cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

from adapters.settings import Settings

ALGORITHM = "HS256"
#: Tolerated clock difference between the token's issuer and this server.
CLOCK_SKEW = timedelta(seconds=30)


class InvalidTokenError(Exception):
    """The bearer token is unusable. The message is safe to show: it never quotes the token."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str  # the `sub` claim: the user id that becomes the events' actor
    roles: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime | None = None


def mint_token(
    settings: Settings,
    sub: str,
    roles: Sequence[str],
    ttl: timedelta | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """A signed token for ``sub`` with ``roles``, valid for ``ttl`` (default JWT_TTL_MINUTES)."""
    if not sub or not roles or not all(roles):
        raise ValueError("a token needs a subject and at least one non-empty role")
    issued = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    expires = issued + (ttl if ttl is not None else timedelta(minutes=settings.jwt_ttl_minutes))
    claims: dict[str, object] = {"sub": sub, "roles": list(roles), "iat": issued, "exp": expires}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidSignatureError, "the token signature is invalid"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidAlgorithmError, f"the token is not signed with {ALGORITHM}"),
    (jwt.DecodeError, "the token is malformed"),
)


def decode_token(settings: Settings, token: str) -> TokenClaims:
    """Verify signature, ``exp`` (required), and ``iss``/``aud`` when configured."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            # A fixed list: never let the token's header choose the algorithm.
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=CLOCK_SKEW,
            options={"require": ["exp", "sub"]},
        )
    except jwt.MissingRequiredClaimError as e:
        raise InvalidTokenError(f"the token lacks the '{e.claim}' claim") from None
    except jwt.PyJWTError as e:
        reason = next((text for kind, text in _REASONS if isinstance(e, kind)), None)
        raise InvalidTokenError(reason or "the token is invalid") from None
    sub, roles = claims.get("sub"), claims.get("roles")
    if not isinstance(sub, str) or not sub:
        raise InvalidTokenError("the token's 'sub' claim must be a non-empty string")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise InvalidTokenError("the token's 'roles' claim must be a list of role names")
    iat = claims.get("iat")
    return TokenClaims(
        subject=sub,
        roles=tuple(roles),
        expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc),
        issued_at=datetime.fromtimestamp(iat, timezone.utc) if isinstance(iat, int) else None,
    )
