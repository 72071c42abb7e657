"""The values settings are made of: the PostgreSQL URL's parts, generated secrets, and the
readers of environment variables. Each failure is a :class:`SettingsError` naming the
variable (never echoing a secret)."""

from __future__ import annotations

import base64
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

#: HS256 needs a key of at least 256 bits (RFC 7518 §3.2); PyJWT warns below that too.
MIN_JWT_SECRET_BYTES = 32
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: Asymmetric JWS algorithms only (RFC 7518): a provider's public key can never be used as
#: an HMAC secret (the classic algorithm confusion), and ``none`` is no algorithm at all.
PROVIDER_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_:/\-]{1,100}(\.[A-Za-z0-9_:/\-]{1,100}){0,4}")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class PostgresConnection:
    """The parts of ``DATABASE_URL=postgresql://user:pw@host:port/db?schema=x``."""

    dbname: str
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    schema: str | None = None

    @classmethod
    def parse(cls, url: str) -> PostgresConnection:
        # Messages never include the URL: it may carry a password.
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise SettingsError("DATABASE_URL: expected a postgresql://user:pw@host:port/db URL")
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname or not parts.username:
            raise SettingsError("DATABASE_URL: must name a user, a host and a database")
        query = parse_qs(parts.query, keep_blank_values=True)
        # eventsourcing passes only fixed connection arguments to psycopg, so anything else
        # (sslmode, ...) would be silently ignored: refuse it instead.
        unknown = sorted(set(query) - {"schema"})
        if unknown:
            raise SettingsError(
                f"DATABASE_URL: unsupported query parameter(s) {', '.join(unknown)} "
                "(only 'schema' is understood)"
            )
        try:
            port = parts.port or 5432
        except ValueError:
            raise SettingsError("DATABASE_URL: the port is not a number") from None
        schema = query["schema"][-1] if "schema" in query else None
        return cls(
            dbname=dbname,
            host=parts.hostname,
            port=port,
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            schema=check_schema("DATABASE_URL schema", schema),
        )


def check_schema(name: str, schema: str | None) -> str | None:
    # Tables are created in it by name: keep to plain lower-case identifiers.
    if schema and not _SCHEMA_NAME.fullmatch(schema):
        raise SettingsError(f"{name}: expected a lower-case SQL identifier, got {schema!r}")
    return schema or None


def load_or_create_secret(
    path: Path,
    *,
    name: str = "JWT_SECRET",
    make: Callable[[], str] = lambda: secrets.token_urlsafe(48),
) -> str:
    """Return the secret in ``path``, creating it (0600, from ``make()``) if absent; ``name``
    is the setting it stands for, in error messages.

    Written to a temporary file and hard-linked into place, so concurrent starters (several
    uvicorn workers) never read a half-written file and all end up with the same secret.
    """
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(make() + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race; use its secret
        finally:
            os.unlink(tmp)
        secret = path.read_text(encoding="utf-8").strip()
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(f"{name}: the secret in {path} is shorter than 32 bytes")
    return secret


def read_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None


def read_path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if name in env else None


def read_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated entries, each stripped; empty entries (a trailing comma) are skipped,
    but a value with no entry at all is refused rather than read as unset."""
    raw = env.get(name)
    if raw is None:
        return default
    entries = tuple(entry.strip() for entry in raw.split(",") if entry.strip())
    if not entries:
        raise SettingsError(f"{name}: expected comma-separated entries, got {raw!r}")
    return entries


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false (1/0), got {raw!r}")


def in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SettingsError(f"{name}: expected an integer from {low} to {high}, got {value}")


def read_pairs(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """``from=to`` entries, comma-separated (each side stripped, neither empty)."""
    pairs = []
    for entry in read_list(env, name, ()):
        left, equals, right = entry.partition("=")
        if not equals or not left.strip() or not right.strip():
            raise SettingsError(
                f"{name}: expected comma-separated name=role entries, got {entry!r}"
            )
        pairs.append((left.strip(), right.strip()))
    return tuple(pairs)


def check_provider_url(name: str, url: str | None) -> None:
    """An identity provider's URL: https (plain http only on this host, for development)."""
    if url is None:
        return
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise SettingsError(f"{name}: expected an https:// URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise SettingsError(
            f"{name}: must be https:// (plain http is accepted only for localhost): the keys "
            "that sign every token would otherwise travel unprotected"
        )


def check_algorithms(name: str, algorithms: tuple[str, ...]) -> None:
    unknown = [a for a in algorithms if a not in PROVIDER_ALGORITHMS]
    if not algorithms or unknown:
        raise SettingsError(
            f"{name}: expected comma-separated asymmetric algorithms from "
            f"{', '.join(sorted(PROVIDER_ALGORITHMS))}; {', '.join(unknown) or 'none given'} "
            "cannot be used with an identity provider's keys"
        )
    missing = [a for a in algorithms if a not in jwt.algorithms.get_default_algorithms()]
    if missing:  # EdDSA and the EC curves need `cryptography`, which is pinned
        raise SettingsError(f"{name}: {', '.join(missing)} is not available in this build")


def check_role_claim_path(name: str, path: str) -> None:
    if not _CLAIM_NAME.fullmatch(path):
        raise SettingsError(
            f"{name}: expected a claim name or a dotted path such as realm_access.roles, "
            f"got {path!r}"
        )


def decode_kek(text: str, name: str) -> bytes:
    """A key-encryption key from its setting: 32 bytes, base64 (standard or URL-safe,
    padding optional)."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise SettingsError(f"{name}: expected 32 random bytes, base64-encoded")
    return raw
