"""The one typed settings object, read from the environment once by the composition root.

Nothing reads ``os.environ`` at import time: entry points call :meth:`Settings.from_env` and
pass the result down, and tests build ``Settings(...)`` directly. Every invalid value raises
:class:`SettingsError` naming the variable, so a bad deployment fails at start with a message
an operator can act on (never echoing secrets).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: HS256 needs a key of at least 256 bits (RFC 7518 §3.2); PyJWT warns below that too.
MIN_JWT_SECRET_BYTES = 32
JWT_SECRET_FILE = "jwt_secret"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
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
            schema=_check_schema("DATABASE_URL schema", schema),
        )


def _check_schema(name: str, schema: str | None) -> str | None:
    # Tables are created in it by name: keep to plain lower-case identifiers.
    if schema and not _SCHEMA_NAME.fullmatch(schema):
        raise SettingsError(f"{name}: expected a lower-case SQL identifier, got {schema!r}")
    return schema or None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Process-wide configuration. Field names are the variable names in lower case."""

    jwt_secret: str = field(repr=False)
    database_url: str | None = field(default=None, repr=False)  # None: SQLite under var_dir
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_ttl_minutes: int = 60
    facility_timezone: str = "Europe/London"
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "INFO"
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    no_show_grace_minutes: int = 15
    late_cancellation_hours: int = 24
    postgres_pool_size: int = 10
    postgres_schema: str | None = None
    #: Run the projection workers inside each serving process (one leads per read model).
    projection_workers: bool = True
    #: Seconds a built flow board is served again (without minPosition newer than it).
    board_max_age_seconds: int = 1
    #: How often the complaint deadline watcher looks for breached deadlines (seconds).
    deadline_check_seconds: int = 30
    #: A JSON file of bank holidays replacing the shipped England and Wales calendar
    #: (``{"holidays": ["2027-01-01", ...]}``) for working-day deadlines.
    holiday_calendar_file: Path | None = None
    #: The month the fiscal year starts (4: April, as in the NHS).
    fiscal_year_start_month: int = 4

    def __post_init__(self) -> None:
        # Validation lives here so Settings built directly (tests) is checked the same way.
        object.__setattr__(self, "var_dir", Path(self.var_dir))  # accept a str too
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes long")
        _in_range("PORT", self.port, 1, 65535)
        _in_range("WORKERS", self.workers, 1, 64)
        _in_range("JWT_TTL_MINUTES", self.jwt_ttl_minutes, 1, 60 * 24 * 31)
        _in_range("MAX_BODY_BYTES", self.max_body_bytes, 1, 1024**3)
        _in_range("NO_SHOW_GRACE_MINUTES", self.no_show_grace_minutes, 0, 24 * 60)
        _in_range("LATE_CANCELLATION_HOURS", self.late_cancellation_hours, 0, 24 * 365)
        _in_range("POSTGRES_POOL_SIZE", self.postgres_pool_size, 1, 1000)
        _in_range("DEADLINE_CHECK_SECONDS", self.deadline_check_seconds, 1, 60)
        _in_range("BOARD_MAX_AGE_SECONDS", self.board_max_age_seconds, 1, 60)
        _in_range("FISCAL_YEAR_START_MONTH", self.fiscal_year_start_month, 1, 12)
        if self.holiday_calendar_file is not None:
            object.__setattr__(self, "holiday_calendar_file", Path(self.holiday_calendar_file))
        if self.log_format not in ("json", "console", "auto"):
            raise SettingsError(
                f"LOG_FORMAT: expected json, console or auto, got {self.log_format!r}"
            )
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}")
        try:
            ZoneInfo(self.facility_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"FACILITY_TIMEZONE: unknown IANA time zone {self.facility_timezone!r}"
            ) from None
        _check_schema("POSTGRES_SCHEMA", self.postgres_schema)
        postgres = self.postgres  # parses DATABASE_URL, so a bad URL fails here
        if postgres and postgres.schema and self.postgres_schema not in (None, postgres.schema):
            raise SettingsError("POSTGRES_SCHEMA: differs from the schema in DATABASE_URL")

    @property
    def postgres(self) -> PostgresConnection | None:
        """The PostgreSQL connection, or None when the store is SQLite."""
        if self.database_url is None:
            return None
        connection = PostgresConnection.parse(self.database_url)
        if connection.schema is None and self.postgres_schema:
            connection = replace(connection, schema=self.postgres_schema)
        return connection

    @property
    def facility_zone(self) -> ZoneInfo:
        return ZoneInfo(self.facility_timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from ``environ`` (``os.environ`` in entry points).

        An empty value counts as unset. On SQLite without ``JWT_SECRET`` a secret is generated
        once into ``<VAR_DIR>/jwt_secret`` (mode 0600) and reused, so ``make run`` needs no
        setup and tokens survive restarts; on PostgreSQL (a shared deployment) it is required.
        """
        env = {k: v for k, v in environ.items() if v != ""}
        var_dir = Path(env.get("VAR_DIR", "var"))
        database_url = env.get("DATABASE_URL")
        jwt_secret = env.get("JWT_SECRET")
        if jwt_secret is None:
            if database_url is not None:
                raise SettingsError(
                    "JWT_SECRET: must be set when DATABASE_URL is set (every instance must "
                    "verify tokens with the same secret); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            jwt_secret = load_or_create_secret(var_dir / JWT_SECRET_FILE)
        return cls(
            jwt_secret=jwt_secret,
            database_url=database_url,
            var_dir=var_dir,
            host=env.get("HOST", "127.0.0.1"),
            port=_int(env, "PORT", 8000),
            jwt_issuer=env.get("JWT_ISSUER"),
            jwt_audience=env.get("JWT_AUDIENCE"),
            jwt_ttl_minutes=_int(env, "JWT_TTL_MINUTES", 60),
            facility_timezone=env.get("FACILITY_TIMEZONE", "Europe/London"),
            log_format=env.get("LOG_FORMAT", "auto").lower(),  # type: ignore[arg-type]
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            workers=_int(env, "WORKERS", 1),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            no_show_grace_minutes=_int(env, "NO_SHOW_GRACE_MINUTES", 15),
            late_cancellation_hours=_int(env, "LATE_CANCELLATION_HOURS", 24),
            postgres_pool_size=_int(env, "POSTGRES_POOL_SIZE", 10),
            postgres_schema=env.get("POSTGRES_SCHEMA"),
            projection_workers=_bool(env, "PROJECTION_WORKERS", True),
            deadline_check_seconds=_int(env, "DEADLINE_CHECK_SECONDS", 30),
            board_max_age_seconds=_int(env, "BOARD_MAX_AGE_SECONDS", 1),
            holiday_calendar_file=(
                Path(env["HOLIDAY_CALENDAR_FILE"]) if "HOLIDAY_CALENDAR_FILE" in env else None
            ),
            fiscal_year_start_month=_int(env, "FISCAL_YEAR_START_MONTH", 4),
        )


def load_or_create_secret(path: Path) -> str:
    """Return the secret in ``path``, creating it (0600) if absent.

    Written to a temporary file and hard-linked into place, so concurrent starters (several
    uvicorn workers) never read a half-written file and all end up with the same secret.
    """
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jwt_secret.")  # mode 0600
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
        raise SettingsError(f"JWT_SECRET: the secret in {path} is shorter than 32 bytes")
    return secret


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false (1/0), got {raw!r}")


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SettingsError(f"{name}: expected an integer from {low} to {high}, got {value}")
