"""HS256 bearer tokens: minted by the CLI for development, verified by the HTTP layer.

Both sides use these two functions, so the secret, algorithm and claims (``sub``, ``roles``,
``iat``, ``exp``, and ``iss``/``aud`` when configured) cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TypeGuard

import jwt

from adapters.settings import Settings
from application.shared.commands import EARLIEST, LATEST

ALGORITHM = "HS256"
#: Tolerated clock difference between the token's issuer and this server.
CLOCK_SKEW = timedelta(seconds=30)
#: The subject becomes the actor of every event the token's requests record, and every log
#: line they write: bounded, and without control characters (tab and line breaks included:
#: a newline in an actor forges log lines; a NUL cannot be stored in PostgreSQL).
MAX_SUBJECT_LENGTH = 256
MAX_ROLE_LENGTH = 64
_NO_CONTROL_CHARACTERS = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
#: ``exp``/``iat`` become datetimes (and ``exp`` + CLOCK_SKEW is compared with now): outside
#: the times a record can hold they would overflow, a 500, instead of refusing the token.
_EARLIEST_TIMESTAMP = EARLIEST.timestamp()
_LATEST_TIMESTAMP = LATEST.timestamp()


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
    if not _is_name(sub, MAX_SUBJECT_LENGTH) or not all(
        _is_name(r, MAX_ROLE_LENGTH) for r in roles
    ):
        raise ValueError(
            f"the subject (at most {MAX_SUBJECT_LENGTH} characters) and the roles (at most "
            f"{MAX_ROLE_LENGTH}) may not hold control characters"
        )
    issued = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    expires = issued + (ttl if ttl is not None else timedelta(minutes=settings.jwt_ttl_minutes))
    # Tests mint expired tokens (a negative ttl); only what decode_token refuses is refused.
    if not (EARLIEST <= issued < LATEST and EARLIEST <= expires < LATEST):
        raise ValueError(f"a token's times must lie between {EARLIEST.year} and {LATEST.year}")
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
    except OverflowError:  # PyJWT's int() of an infinite exp/iat/nbf (JSON's 1e999)
        raise InvalidTokenError("the token's times are out of range") from None
    sub, roles = claims.get("sub"), claims.get("roles")
    if not _is_name(sub, MAX_SUBJECT_LENGTH):
        raise InvalidTokenError(
            f"the token's 'sub' claim must be a string of 1 to {MAX_SUBJECT_LENGTH} characters "
            "without control characters"
        )
    if (
        not isinstance(roles, list)
        or not roles
        or not all(_is_name(r, MAX_ROLE_LENGTH) for r in roles)
    ):
        raise InvalidTokenError(
            "the token's 'roles' claim must be a list of role names (at most "
            f"{MAX_ROLE_LENGTH} characters, no control characters)"
        )
    iat = claims.get("iat")
    return TokenClaims(
        subject=sub,
        roles=tuple(roles),
        expires_at=_instant(claims["exp"], "exp"),
        issued_at=_instant(iat, "iat") if isinstance(iat, (int, float)) else None,
    )


def _is_name(value: object, max_length: int) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and len(value) <= max_length
        and _NO_CONTROL_CHARACTERS.fullmatch(value) is not None
    )


def _instant(seconds: object, claim: str) -> datetime:
    """A NumericDate claim as a datetime; PyJWT has checked it is a number."""
    if not isinstance(seconds, (int, float)) or not (
        _EARLIEST_TIMESTAMP <= seconds < _LATEST_TIMESTAMP
    ):
        raise InvalidTokenError(f"the token's '{claim}' claim is out of range")
    return datetime.fromtimestamp(seconds, timezone.utc)
