"""Bearer tokens: what a verified token says (:class:`TokenClaims`), and the two kinds taken.

- **Development tokens** (HS256, ``JWT_SECRET``): minted by ``patient-services token`` and
  verified here, with the same secret, algorithm and claims (``sub``, ``roles``, ``iat``,
  ``exp``, ``iss``/``aud`` when configured) on both sides, so they cannot drift apart.
- **The hospital's identity provider** (``OIDC_ISSUER`` or ``JWT_JWKS_URL``): RS256, ES256
  and the other asymmetric algorithms, verified with the provider's published keys
  (:mod:`adapters.identity_provider`). HS256 is then refused outright, whatever
  ``JWT_SECRET`` holds, so a token can never be checked with a public key as its HMAC secret.

Either way the roles come from one claim (``JWT_ROLES_CLAIM``, dotted), mapped to ours by
``JWT_ROLE_MAP``, plus what a service account's scopes grant (``JWT_SCOPE_ROLES``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeGuard

import jwt

from adapters.settings import Settings
from application.shared.commands import EARLIEST, LATEST
from application.shared.permissions import ROLES

ALGORITHM = "HS256"
#: The subject becomes the actor of every event the token's requests record, and every log
#: line they write: bounded, and without control characters (tab and line breaks included:
#: a newline in an actor forges log lines; a NUL cannot be stored in PostgreSQL).
MAX_SUBJECT_LENGTH = 256
MAX_ROLE_LENGTH = 64
_NO_CONTROL_CHARACTERS = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
#: ``exp``/``iat`` become datetimes (and ``exp`` + the leeway is compared with now): outside
#: the times a record can hold they would overflow, a 500, instead of refusing the token.
_EARLIEST_TIMESTAMP = EARLIEST.timestamp()
_LATEST_TIMESTAMP = LATEST.timestamp()


class InvalidTokenError(Exception):
    """The bearer token is unusable. The message is safe to show: it never quotes the token.

    ``code`` names the reason in the audit trail (``TOKEN_EXPIRED``, ...). ``subject`` is the
    token's ``sub`` when its signature was verified (an expired token, another audience):
    who tried, for the trail; None when nothing in the token can be trusted."""

    def __init__(self, message: str, code: str = "TOKEN_INVALID", subject: str | None = None):
        super().__init__(message)
        self.code = code
        self.subject = subject


class KeysUnavailableError(Exception):
    """The identity provider's keys cannot be fetched (a 503: the token may well be good)."""


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
    """A development token for ``sub`` with ``roles``, valid for ``ttl`` (default
    JWT_TTL_MINUTES); only without an identity provider. Any role names are signed (tests
    mint made-up ones); ``patient-services token`` refuses those that are not ours."""
    if settings.uses_identity_provider or settings.jwt_secret is None:
        raise ValueError(
            "development tokens only: OIDC_ISSUER or JWT_JWKS_URL is set, so this service "
            "accepts only tokens its identity provider signs; ask the provider for one"
        )
    if not sub.strip() or not roles or not all(r.strip() for r in roles):
        raise ValueError("a token needs a subject (--sub) and at least one non-empty role")
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
    claims: dict[str, object] = {"iat": issued, "exp": expires, "sub": sub}
    claims |= _roles_claim(settings.jwt_roles_claim, list(roles))
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def _roles_claim(path: str, roles: list[str]) -> dict[str, object]:
    # {"realm_access": {"roles": [...]}} for realm_access.roles, as a provider would send.
    claim: dict[str, object] = {}
    *outer, last = path.split(".")
    inner = claim
    for part in outer:
        inner[part] = inner = {}
    inner[last] = roles
    return claim


#: PyJWT's errors, most specific first: the message shown, and the trail's code. The
#: claim checks run after the signature is verified, so those tokens' subjects are known.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str, str, bool], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired", "TOKEN_EXPIRED", True),
    (jwt.ImmatureSignatureError, "the token is not valid yet", "TOKEN_NOT_YET_VALID", True),
    (jwt.InvalidAudienceError, "the token is for another audience", "TOKEN_AUDIENCE", True),
    (jwt.InvalidIssuerError, "the token is from another issuer", "TOKEN_ISSUER", True),
    (jwt.InvalidSignatureError, "the token signature is invalid", "TOKEN_SIGNATURE", False),
    (jwt.InvalidAlgorithmError, "the token's signature algorithm is not accepted here",
     "TOKEN_ALGORITHM", False),
    (jwt.DecodeError, "the token is malformed", "TOKEN_MALFORMED", False),
)  # fmt: skip


def decode_token(settings: Settings, token: str) -> TokenClaims:
    """Verify a development token (HS256, JWT_SECRET): signature, ``exp`` (required), and
    ``iss``/``aud`` when configured. Refused outright when an identity provider is set."""
    if settings.uses_identity_provider or settings.jwt_secret is None:
        raise InvalidTokenError(
            "the token's signature algorithm is not accepted here", "TOKEN_ALGORITHM"
        )
    return verified_claims(settings, token, settings.jwt_secret, [ALGORITHM])


def verified_claims(
    settings: Settings, token: str, key: Any, algorithms: Sequence[str]
) -> TokenClaims:
    """Verify ``token`` with ``key`` (a secret, or a provider's PyJWK) and read its claims.
    ``algorithms`` is a fixed list: the token's header never chooses the algorithm."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            issuer=settings.expected_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "sub"]},
        )
    except jwt.MissingRequiredClaimError as e:
        raise InvalidTokenError(f"the token lacks the '{e.claim}' claim", "TOKEN_CLAIMS") from None
    except jwt.PyJWTError as e:
        reason = next((r for r in _REASONS if isinstance(e, r[0])), None)
        if reason is None:
            raise InvalidTokenError("the token is invalid") from None
        _, message, code, signed = reason
        raise InvalidTokenError(message, code, _signed_subject(token) if signed else None) from None
    except OverflowError:  # PyJWT's int() of an infinite exp/iat/nbf (JSON's 1e999)
        raise InvalidTokenError("the token's times are out of range", "TOKEN_CLAIMS") from None
    return claims_of(settings, claims)


def claims_of(settings: Settings, claims: Mapping[str, Any]) -> TokenClaims:
    """What a verified token's claims say: who, with which of our roles, until when."""
    sub = claims.get("sub")
    if not _is_name(sub, MAX_SUBJECT_LENGTH):
        raise InvalidTokenError(
            f"the token's 'sub' claim must be a string of 1 to {MAX_SUBJECT_LENGTH} characters "
            "without control characters, not blank",
            "TOKEN_CLAIMS",
        )
    roles = _roles_of(settings, claims)
    if not roles:
        raise InvalidTokenError(
            f"the token grants none of this service's roles (claim '{settings.jwt_roles_claim}'"
            f"{', mapped by JWT_ROLE_MAP' if settings.jwt_role_map else ''}"
            f"{', or scopes in JWT_SCOPE_ROLES' if settings.jwt_scope_roles else ''})",
            "TOKEN_ROLES",
            sub,
        )
    iat = claims.get("iat")
    return TokenClaims(
        subject=sub,
        roles=roles,
        expires_at=_instant(claims["exp"], "exp"),
        issued_at=_instant(iat, "iat") if isinstance(iat, (int, float)) else None,
    )


def _roles_of(settings: Settings, claims: Mapping[str, Any]) -> tuple[str, ...]:
    held = _claim_at(claims, settings.jwt_roles_claim)
    named = _names(held)
    if not settings.uses_identity_provider:
        # Our own tokens: a list as minted, each name checked (a bad one refuses the token).
        if (
            not isinstance(held, list)
            or not named
            or not all(_is_name(r, MAX_ROLE_LENGTH) for r in named)
        ):
            raise InvalidTokenError(
                f"the token's '{settings.jwt_roles_claim}' claim must be a list of role names "
                f"(at most {MAX_ROLE_LENGTH} characters, no control characters)",
                "TOKEN_ROLES",
                claims.get("sub") if isinstance(claims.get("sub"), str) else None,
            )
        return tuple(dict.fromkeys(named))
    # A provider's token: its names mapped to ours, what its scopes grant, nothing else
    # (its other groups mean nothing here, and may say more about a person than the trail
    # should keep).
    mapped = dict(settings.jwt_role_map)
    roles = [mapped.get(name, name) for name in named or ()]
    by_scope: dict[str, list[str]] = {}
    for scope, role in settings.jwt_scope_roles:
        by_scope.setdefault(scope, []).append(role)
    for scope in _scopes_of(claims):
        roles += by_scope.get(scope, [])
    return tuple(dict.fromkeys(r for r in roles if r in ROLES))


def _claim_at(claims: Mapping[str, Any], path: str) -> object:
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _names(value: object) -> list[str] | None:
    """A list of names, or one space-separated string of them (as some providers send)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _scopes_of(claims: Mapping[str, Any]) -> list[str]:
    # OAuth's space-separated ``scope`` (RFC 8693, SMART), or ``scp`` (Entra ID, Okta).
    scopes: list[str] = []
    for claim in ("scope", "scp"):
        scopes += _names(claims.get(claim)) or []
    return scopes


def _signed_subject(token: str) -> str | None:
    # Called only once the signature is known good: the token is the issuer's.
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub if _is_name(sub, MAX_SUBJECT_LENGTH) else None


def _is_name(value: object, max_length: int) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and len(value) <= max_length
        and _NO_CONTROL_CHARACTERS.fullmatch(value) is not None
        and not value.isspace()  # a blank actor would name nobody in the trail
    )


def _instant(seconds: object, claim: str) -> datetime:
    """A NumericDate claim as a datetime; PyJWT has checked it is a number."""
    if not isinstance(seconds, (int, float)) or not (
        _EARLIEST_TIMESTAMP <= seconds < _LATEST_TIMESTAMP
    ):
        raise InvalidTokenError(f"the token's '{claim}' claim is out of range", "TOKEN_CLAIMS")
    return datetime.fromtimestamp(seconds, timezone.utc)
