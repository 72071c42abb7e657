"""The values settings are made of: the PostgreSQL URL's parts, generated secrets, and the
readers of environment variables. Each failure is a :class:`SettingsError` naming the
variable (never echoing a secret)."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

#: HS256 needs a key of at least 256 bits (RFC 7518 §3.2); PyJWT warns below that too.
MIN_JWT_SECRET_BYTES = 32
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


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


def load_or_create_secret(path: Path, *, name: str = "JWT_SECRET") -> str:
    """Return the secret in ``path``, creating it (0600) if absent; ``name`` is the setting
    it stands for, in error messages.

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
                f.write(secrets.token_urlsafe(48) + "\n")
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
