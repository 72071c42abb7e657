"""The one typed settings object, read from the environment once by the composition root.

Nothing reads ``os.environ`` at import time: entry points call :meth:`Settings.from_env` and
pass the result down, and tests build ``Settings(...)`` directly. Every invalid value raises
:class:`SettingsError` naming the variable, so a bad deployment fails at start with a message
an operator can act on (never echoing secrets).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.settings_values import (
    MIN_JWT_SECRET_BYTES,
    PostgresConnection,
    SettingsError,
    check_algorithms,
    check_provider_url,
    check_role_claim_path,
    check_schema,
    decode_kek,
    in_range,
    load_or_create_secret,
    read_bool,
    read_int,
    read_list,
    read_pairs,
    read_path,
)
from application.shared.access import DEFAULT_PURPOSE_OF_USE, PURPOSE_OF_USE_PATTERN
from application.shared.permissions import ROLES
from application.snapshots import HELD_AGGREGATES, SNAPSHOT_EVERY
from domain.complaints.vocabulary import POLICY_NAMES

__all__ = [
    "HL7_PROCESSING_IDS", "JWT_SECRET_FILE", "MIN_JWT_SECRET_BYTES", "PATIENT_REF_SECRET_FILE",
    "PostgresConnection", "Settings", "SettingsError", "load_or_create_secret",
]  # fmt: skip

JWT_SECRET_FILE = "jwt_secret"
#: The key of the patientRef hash (HMAC-SHA256), generated here on SQLite when unset.
PATIENT_REF_SECRET_FILE = "patient_ref_secret"
#: The key-encryption key generated on the embedded default (see resolve_key_ring).
PRIVACY_KEK_FILE = "privacy_kek"
#: HL7 table 0103 (processing id): production, training, debugging.
HL7_PROCESSING_IDS = ("P", "T", "D")
#: Under load a worker's batch takes the commits of this many milliseconds: at 20 the five
#: read models' transactions took about 40 % of the server's CPU per command on 2 cores
#: (bench.visits); a reader waiting for its write does not wait this long (see
#: ``ReadDatabase.want``).
PROJECTION_BATCH_INTERVAL_MS = 100
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: A browser origin (RFC 6454): scheme, host and an optional port, nothing after. No ``*``:
#: the API is for known front ends, and a wildcard would let any page read patient data
#: with a token it got hold of.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
#: An allow-list entry: MSH-3, optionally ^MSH-4, as sent (spaces inside allowed).
_SENDER = re.compile(r"[^\x00-\x1f\x7f-\x9f,^]{1,90}(\^[^\x00-\x1f\x7f-\x9f,^]{1,90})?")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Process-wide configuration. Field names are the variable names in lower case."""

    #: The HS256 key of development tokens; None only with an identity provider (below).
    jwt_secret: str | None = field(default=None, repr=False)
    #: The secret was generated under VAR_DIR (no JWT_SECRET, no identity provider): the
    #: embedded default, where the screens offer a development sign-in (/ui/sign-in).
    jwt_secret_generated: bool = False
    database_url: str | None = field(default=None, repr=False)  # None: SQLite under var_dir
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_ttl_minutes: int = 60
    # ---- tokens from the hospital's identity provider (adapters/identity_provider.py) ----
    #: The provider's issuer URL; its jwks_uri is found by OpenID Connect discovery.
    oidc_issuer: str | None = None
    #: The provider's JWKS, when it is not discovered from OIDC_ISSUER.
    jwt_jwks_url: str | None = None
    #: The signature algorithms accepted from the provider (never none, never HS*).
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    #: The dotted path of the claim holding the roles (``realm_access.roles``).
    jwt_roles_claim: str = "roles"
    #: ``(provider name, our role)`` pairs; when any is set, unmapped names are ignored.
    jwt_role_map: tuple[tuple[str, str], ...] = ()
    #: ``(scope, our role)`` pairs: what a service account's scopes grant.
    jwt_scope_roles: tuple[tuple[str, str], ...] = ()
    #: At most one fetch of the provider's keys per this many seconds (an unknown ``kid``).
    jwks_refresh_seconds: int = 30
    #: Tolerated clock difference between the token's issuer and this server.
    jwt_leeway_seconds: int = 30
    facility_timezone: str = "Europe/London"
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "INFO"
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    no_show_grace_minutes: int = 15
    #: How long a waitlisted patient has to accept a slot offered to them.
    waitlist_offer_minutes: int = 120
    late_cancellation_hours: int = 24
    postgres_pool_size: int = 10
    #: Events a load replays before it leaves a snapshot of the aggregate (0: no snapshots).
    snapshot_every: int = SNAPSHOT_EVERY
    #: Aggregates a process holds after a command for the next one on them (0: none).
    held_aggregates: int = HELD_AGGREGATES
    postgres_schema: str | None = None
    #: Run the projection workers inside each serving process (one leads per read model).
    projection_workers: bool = True
    #: A live worker starts its batches at most this often (milliseconds): under load every
    #: commit wakes it, and one batch per commit costs a transaction per read model each.
    #: A read-your-writes request (minPosition) ends the wait of the model it reads.
    projection_batch_interval_ms: int = PROJECTION_BATCH_INTERVAL_MS
    #: Seconds a built flow board is served again (without minPosition newer than it).
    board_max_age_seconds: int = 1
    #: A live board stream (/flow/board/events) is closed after this long; the browser
    #: reconnects at once (Last-Event-ID), so a load balancer can rebalance and a revoked
    #: role stops showing the board within this bound.
    board_stream_max_seconds: int = 300
    #: How often the complaint deadline watcher looks for breached deadlines (seconds).
    deadline_check_seconds: int = 30
    #: A JSON file of bank holidays replacing the shipped England and Wales calendar
    #: (GOV.UK's ``{"events": [{"date": "2027-01-01"}, ...]}``) for working-day deadlines,
    #: until an admin chooses a calendar (``POST /complaint-settings/holiday-calendar``).
    holiday_calendar_file: Path | None = None
    #: The policy a complaint follows when its registration names none (us-cms or
    #: nhs-england-2009), until an admin chooses one; None: a registration must name it.
    complaint_policy: str | None = None
    #: The month the fiscal year starts (4: April, as in the NHS).
    fiscal_year_start_month: int = 4
    # ---- access records (adapters/access_recording.py) -----------------------------------
    #: Pending access records are saved at least this often (milliseconds).
    access_flush_ms: int = 1000
    #: Access records held while saves fail; past it new ones are dropped (and counted).
    access_buffer_limit: int = 100_000
    #: A read returning more patients or records than this is recorded as query and count.
    access_list_threshold: int = 100
    #: The purpose of use recorded when a request sends no X-Purpose-Of-Use.
    access_default_purpose: str = DEFAULT_PURPOSE_OF_USE
    # ---- HL7 v2 intake (MLLP listener, POST /api/v1/hl7, `hl7 import`) -------------------
    mllp_host: str = "127.0.0.1"
    #: None: no MLLP listener.
    mllp_port: int | None = None
    #: Both set: the listener speaks TLS with this certificate chain and key.
    mllp_tls_cert_file: Path | None = None
    mllp_tls_key_file: Path | None = None
    #: Set: clients must present a certificate this CA bundle verifies (mutual TLS).
    mllp_tls_client_ca_file: Path | None = None
    #: A connection with nothing to read (or a reply it does not read) for this long is closed.
    mllp_idle_timeout_seconds: int = 300
    #: MLLP connections served at once (each may hold a frame of up to MAX_BODY_BYTES).
    mllp_max_connections: int = 100
    #: ``APP`` (MSH-3, any facility) or ``APP^FACILITY`` (MSH-3^MSH-4); empty: any sender.
    hl7_allowed_senders: tuple[str, ...] = ()
    #: MSH-11 values taken (HL7 table 0103).
    hl7_processing_ids: tuple[str, ...] = ("P",)
    #: The key of the patientRef hash; see :meth:`resolve_patient_ref_secret`.
    patient_ref_secret: str | None = field(default=None, repr=False)
    #: The Ed25519 key (PEM PKCS#8) signing audit checkpoints; None: generated under
    #: VAR_DIR on SQLite, refused on PostgreSQL (see :mod:`adapters.audit_signing`).
    audit_signing_key_file: Path | None = None
    # ---- personal free text (adapters/privacy) -------------------------------------------
    #: The key-encryption key (32 bytes, base64) wrapping every data key; see
    #: :meth:`resolve_key_ring`.
    privacy_kek: str | None = field(default=None, repr=False)
    #: KEKs of before a rotation: they only unwrap, until ``privacy rotate-kek`` has run.
    privacy_previous_keks: tuple[str, ...] = field(default=(), repr=False)
    #: Erase a complainant's free text this many years after the last of their cases
    #: closed (None: never, only on request).
    complaint_text_retention_years: int | None = None
    #: Seconds between two runs of the retention job.
    retention_check_seconds: int = 3600
    #: Origins (``https://board.example.org``) whose pages may call the API; empty: none.
    cors_allow_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Validation lives here so Settings built directly (tests) is checked the same way.
        object.__setattr__(self, "var_dir", Path(self.var_dir))  # accept a str too
        self._check_tokens()
        in_range("PORT", self.port, 1, 65535)
        in_range("WORKERS", self.workers, 1, 64)
        in_range("JWT_TTL_MINUTES", self.jwt_ttl_minutes, 1, 60 * 24 * 31)
        in_range("MAX_BODY_BYTES", self.max_body_bytes, 1, 1024**3)
        in_range("NO_SHOW_GRACE_MINUTES", self.no_show_grace_minutes, 0, 24 * 60)
        in_range("WAITLIST_OFFER_MINUTES", self.waitlist_offer_minutes, 1, 7 * 24 * 60)
        in_range("LATE_CANCELLATION_HOURS", self.late_cancellation_hours, 0, 24 * 365)
        in_range("POSTGRES_POOL_SIZE", self.postgres_pool_size, 1, 1000)
        in_range("SNAPSHOT_EVERY", self.snapshot_every, 0, 1_000_000)
        in_range("HELD_AGGREGATES", self.held_aggregates, 0, 1_000_000)
        in_range("PROJECTION_BATCH_INTERVAL_MS", self.projection_batch_interval_ms, 0, 1000)
        in_range("DEADLINE_CHECK_SECONDS", self.deadline_check_seconds, 1, 60)
        in_range("BOARD_MAX_AGE_SECONDS", self.board_max_age_seconds, 1, 60)
        in_range("BOARD_STREAM_MAX_SECONDS", self.board_stream_max_seconds, 1, 86_400)
        in_range("FISCAL_YEAR_START_MONTH", self.fiscal_year_start_month, 1, 12)
        # At most 5 s: what a crash may lose is the accesses of the last interval.
        in_range("ACCESS_FLUSH_MS", self.access_flush_ms, 10, 5000)
        in_range("ACCESS_BUFFER_LIMIT", self.access_buffer_limit, 1000, 10_000_000)
        in_range("ACCESS_LIST_THRESHOLD", self.access_list_threshold, 1, 10_000)
        if not re.fullmatch(PURPOSE_OF_USE_PATTERN, self.access_default_purpose):
            raise SettingsError(
                "ACCESS_DEFAULT_PURPOSE: expected an HL7 v3 PurposeOfUse code such as TREAT "
                "(upper-case letters, at most 20)"
            )
        if self.complaint_policy not in (None, *POLICY_NAMES):
            raise SettingsError(f"COMPLAINT_POLICY: expected one of {', '.join(POLICY_NAMES)}")
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
        check_schema("POSTGRES_SCHEMA", self.postgres_schema)
        self._check_hl7()
        object.__setattr__(self, "cors_allow_origins", tuple(self.cors_allow_origins))
        for origin in self.cors_allow_origins:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError(
                    "CORS_ALLOW_ORIGINS: expected comma-separated origins such as "
                    f"https://board.example.org (scheme, host, optional port; no path), "
                    f"got {origin[:100]!r}"
                )
        if (key_file := self.audit_signing_key_file) is not None:
            object.__setattr__(self, "audit_signing_key_file", Path(key_file))
            if not Path(key_file).is_file():
                raise SettingsError(f"AUDIT_SIGNING_KEY_FILE: {key_file} is not a readable file")
        postgres = self.postgres  # parses DATABASE_URL, so a bad URL fails here
        if postgres and postgres.schema and self.postgres_schema not in (None, postgres.schema):
            raise SettingsError("POSTGRES_SCHEMA: differs from the schema in DATABASE_URL")

    def _check_tokens(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes long")
        in_range("JWKS_REFRESH_SECONDS", self.jwks_refresh_seconds, 1, 3600)
        in_range("JWT_LEEWAY_SECONDS", self.jwt_leeway_seconds, 0, 600)
        check_role_claim_path("JWT_ROLES_CLAIM", self.jwt_roles_claim)
        for name in ("jwt_algorithms", "jwt_role_map", "jwt_scope_roles"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.uses_identity_provider:
            if self.jwt_secret is None:
                raise SettingsError(
                    "JWT_SECRET: must be set unless OIDC_ISSUER or JWT_JWKS_URL names an "
                    "identity provider"
                )
            return
        check_provider_url("OIDC_ISSUER", self.oidc_issuer)
        check_provider_url("JWT_JWKS_URL", self.jwt_jwks_url)
        check_algorithms("JWT_ALGORITHMS", self.jwt_algorithms)
        if self.expected_issuer is None:
            raise SettingsError(
                "JWT_ISSUER: must be set with JWT_JWKS_URL (a key set may sign for several "
                "issuers, as Entra ID's common keys do; only this one's tokens are taken)"
            )
        if not self.jwt_audience:
            raise SettingsError(
                "JWT_AUDIENCE: must be set with an identity provider (its tokens name the "
                "client they are for; this service takes only those meant for it)"
            )
        for name, pairs in (
            ("JWT_ROLE_MAP", self.jwt_role_map),
            ("JWT_SCOPE_ROLES", self.jwt_scope_roles),
        ):
            unknown = sorted({ours for _, ours in pairs} - ROLES)
            if unknown:
                raise SettingsError(
                    f"{name}: {', '.join(unknown)} is not a role of this service (one of "
                    f"{', '.join(sorted(ROLES))})"
                )
        if self.oidc_issuer and self.jwt_issuer and self.jwt_issuer != self.oidc_issuer:
            raise SettingsError("JWT_ISSUER: differs from OIDC_ISSUER (leave it unset)")

    @property
    def development_sign_in(self) -> bool:
        """Whether ``/ui/sign-in`` may sign anyone in with any roles: only on the embedded
        default (a generated secret); never with JWT_SECRET set or an identity provider."""
        return self.jwt_secret_generated and not self.uses_identity_provider

    @property
    def uses_identity_provider(self) -> bool:
        """Tokens come from the hospital's identity provider (and HS256 is refused)."""
        return self.oidc_issuer is not None or self.jwt_jwks_url is not None

    @property
    def expected_issuer(self) -> str | None:
        """The ``iss`` a token must carry, if any."""
        return self.oidc_issuer or self.jwt_issuer

    def _check_hl7(self) -> None:
        for name in ("mllp_tls_cert_file", "mllp_tls_key_file", "mllp_tls_client_ca_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
                if not Path(value).is_file():
                    raise SettingsError(f"{name.upper()}: {value} is not a readable file")
        if self.mllp_port is not None:
            in_range("MLLP_PORT", self.mllp_port, 1, 65535)
            if self.mllp_port == self.port:
                raise SettingsError("MLLP_PORT: must differ from PORT (the HTTP port)")
        if (self.mllp_tls_cert_file is None) != (self.mllp_tls_key_file is None):
            raise SettingsError(
                "MLLP_TLS_CERT_FILE: set it together with MLLP_TLS_KEY_FILE (or neither)"
            )
        if self.mllp_tls_client_ca_file is not None and self.mllp_tls_cert_file is None:
            raise SettingsError(
                "MLLP_TLS_CLIENT_CA_FILE: needs MLLP_TLS_CERT_FILE and MLLP_TLS_KEY_FILE "
                "(client certificates are checked in a TLS handshake)"
            )
        in_range("MLLP_IDLE_TIMEOUT_SECONDS", self.mllp_idle_timeout_seconds, 1, 24 * 3600)
        in_range("MLLP_MAX_CONNECTIONS", self.mllp_max_connections, 1, 10_000)
        object.__setattr__(self, "hl7_allowed_senders", tuple(self.hl7_allowed_senders))
        for sender in self.hl7_allowed_senders:
            if not _SENDER.fullmatch(sender):
                raise SettingsError(
                    "HL7_ALLOWED_SENDERS: expected comma-separated APP or APP^FACILITY entries "
                    "(MSH-3, MSH-4 as sent, up to 180 characters, no control characters)"
                )
        object.__setattr__(self, "hl7_processing_ids", tuple(self.hl7_processing_ids))
        if not self.hl7_processing_ids or any(
            pid not in HL7_PROCESSING_IDS for pid in self.hl7_processing_ids
        ):
            raise SettingsError(
                "HL7_PROCESSING_IDS: expected comma-separated values of P, T and D (MSH-11)"
            )
        for name, kek in (
            ("PRIVACY_KEK", self.privacy_kek),
            *(("PRIVACY_PREVIOUS_KEKS", k) for k in self.privacy_previous_keks),
        ):
            if kek is not None:
                decode_kek(kek, name)
        if self.complaint_text_retention_years is not None:
            in_range("COMPLAINT_TEXT_RETENTION_YEARS", self.complaint_text_retention_years, 1, 100)
        in_range("RETENTION_CHECK_SECONDS", self.retention_check_seconds, 1, 7 * 24 * 3600)
        secret = self.patient_ref_secret
        if secret is not None and len(secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(
                f"PATIENT_REF_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes long"
            )

    def resolve_keks(self) -> tuple[bytes, tuple[bytes, ...]]:
        """The KEK and the previous ones, wrapping the data keys of personal free text.

        ``PRIVACY_KEK`` when set. Else, on SQLite, a key generated once into
        ``<VAR_DIR>/privacy_kek`` (mode 0600) and reused. On PostgreSQL it must be set: every
        instance must unwrap the same keys, and a KEK kept beside the database it protects
        would protect nothing."""
        previous = tuple(decode_kek(k, "PRIVACY_PREVIOUS_KEKS") for k in self.privacy_previous_keks)
        if self.privacy_kek is not None:
            return decode_kek(self.privacy_kek, "PRIVACY_KEK"), previous
        if self.database_url is not None:
            raise SettingsError(
                "PRIVACY_KEK: must be set when DATABASE_URL is set (32 random bytes, base64: "
                "`python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32))"
                ".decode())'`)"
            )
        text = load_or_create_secret(
            self.var_dir / PRIVACY_KEK_FILE, name="PRIVACY_KEK",
            make=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
        )  # fmt: skip
        return decode_kek(text, "PRIVACY_KEK"), previous

    def resolve_patient_ref_secret(self) -> str:
        """The key of the patientRef hash, for HL7 intake.

        ``PATIENT_REF_SECRET`` when set. Else, on SQLite, a secret generated once into
        ``<VAR_DIR>/patient_ref_secret`` (mode 0600) and reused; only then, so a store that
        never takes HL7 gets no such file. On PostgreSQL it must be set: every instance must
        derive the same refs, so a key generated by one of them would split patients.
        """
        if self.patient_ref_secret is not None:
            return self.patient_ref_secret
        if self.database_url is not None:
            raise SettingsError(
                "PATIENT_REF_SECRET: must be set for HL7 intake when DATABASE_URL is set (every "
                "instance must derive the same patientRef); generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return load_or_create_secret(
            self.var_dir / PATIENT_REF_SECRET_FILE, name="PATIENT_REF_SECRET"
        )

    @property
    def mllp_tls(self) -> bool:
        return self.mllp_tls_cert_file is not None

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
        setup and tokens survive restarts; on PostgreSQL (a shared deployment) it is required,
        unless tokens come from an identity provider (``OIDC_ISSUER`` or ``JWT_JWKS_URL``).
        """
        env = {k: v for k, v in environ.items() if v != ""}
        var_dir = Path(env.get("VAR_DIR", "var"))
        database_url = env.get("DATABASE_URL")
        jwt_secret = env.get("JWT_SECRET")
        identity_provider = "OIDC_ISSUER" in env or "JWT_JWKS_URL" in env
        if jwt_secret is None and not identity_provider:
            if database_url is not None:
                raise SettingsError(
                    "JWT_SECRET: must be set when DATABASE_URL is set (every instance must "
                    "verify tokens with the same secret); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            jwt_secret = load_or_create_secret(var_dir / JWT_SECRET_FILE)
        return cls(
            jwt_secret=jwt_secret,
            jwt_secret_generated="JWT_SECRET" not in env and not identity_provider,
            database_url=database_url,
            var_dir=var_dir,
            host=env.get("HOST", "127.0.0.1"),
            port=read_int(env, "PORT", 8000),
            jwt_issuer=env.get("JWT_ISSUER"),
            jwt_audience=env.get("JWT_AUDIENCE"),
            jwt_ttl_minutes=read_int(env, "JWT_TTL_MINUTES", 60),
            oidc_issuer=env.get("OIDC_ISSUER"),
            jwt_jwks_url=env.get("JWT_JWKS_URL"),
            jwt_algorithms=read_list(env, "JWT_ALGORITHMS", ("RS256", "ES256")),
            jwt_roles_claim=env.get("JWT_ROLES_CLAIM", "roles"),
            jwt_role_map=read_pairs(env, "JWT_ROLE_MAP"),
            jwt_scope_roles=read_pairs(env, "JWT_SCOPE_ROLES"),
            jwks_refresh_seconds=read_int(env, "JWKS_REFRESH_SECONDS", 30),
            jwt_leeway_seconds=read_int(env, "JWT_LEEWAY_SECONDS", 30),
            facility_timezone=env.get("FACILITY_TIMEZONE", "Europe/London"),
            log_format=env.get("LOG_FORMAT", "auto").lower(),  # type: ignore[arg-type]
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            workers=read_int(env, "WORKERS", 1),
            max_body_bytes=read_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            no_show_grace_minutes=read_int(env, "NO_SHOW_GRACE_MINUTES", 15),
            waitlist_offer_minutes=read_int(env, "WAITLIST_OFFER_MINUTES", 120),
            late_cancellation_hours=read_int(env, "LATE_CANCELLATION_HOURS", 24),
            postgres_pool_size=read_int(env, "POSTGRES_POOL_SIZE", 10),
            snapshot_every=read_int(env, "SNAPSHOT_EVERY", SNAPSHOT_EVERY),
            held_aggregates=read_int(env, "HELD_AGGREGATES", HELD_AGGREGATES),
            postgres_schema=env.get("POSTGRES_SCHEMA"),
            projection_workers=read_bool(env, "PROJECTION_WORKERS", True),
            projection_batch_interval_ms=read_int(
                env, "PROJECTION_BATCH_INTERVAL_MS", PROJECTION_BATCH_INTERVAL_MS
            ),
            deadline_check_seconds=read_int(env, "DEADLINE_CHECK_SECONDS", 30),
            board_max_age_seconds=read_int(env, "BOARD_MAX_AGE_SECONDS", 1),
            board_stream_max_seconds=read_int(env, "BOARD_STREAM_MAX_SECONDS", 300),
            holiday_calendar_file=(
                Path(env["HOLIDAY_CALENDAR_FILE"]) if "HOLIDAY_CALENDAR_FILE" in env else None
            ),
            complaint_policy=env.get("COMPLAINT_POLICY") or None,
            fiscal_year_start_month=read_int(env, "FISCAL_YEAR_START_MONTH", 4),
            access_flush_ms=read_int(env, "ACCESS_FLUSH_MS", 1000),
            access_buffer_limit=read_int(env, "ACCESS_BUFFER_LIMIT", 100_000),
            access_list_threshold=read_int(env, "ACCESS_LIST_THRESHOLD", 100),
            access_default_purpose=env.get("ACCESS_DEFAULT_PURPOSE", DEFAULT_PURPOSE_OF_USE),
            mllp_host=env.get("MLLP_HOST", "127.0.0.1"),
            mllp_port=read_int(env, "MLLP_PORT", 0) if "MLLP_PORT" in env else None,
            mllp_tls_cert_file=read_path(env, "MLLP_TLS_CERT_FILE"),
            mllp_tls_key_file=read_path(env, "MLLP_TLS_KEY_FILE"),
            mllp_tls_client_ca_file=read_path(env, "MLLP_TLS_CLIENT_CA_FILE"),
            mllp_idle_timeout_seconds=read_int(env, "MLLP_IDLE_TIMEOUT_SECONDS", 300),
            mllp_max_connections=read_int(env, "MLLP_MAX_CONNECTIONS", 100),
            hl7_allowed_senders=read_list(env, "HL7_ALLOWED_SENDERS", ()),
            cors_allow_origins=read_list(env, "CORS_ALLOW_ORIGINS", ()),
            hl7_processing_ids=tuple(
                pid.upper() for pid in read_list(env, "HL7_PROCESSING_IDS", ("P",))
            ),
            patient_ref_secret=env.get("PATIENT_REF_SECRET"),
            audit_signing_key_file=read_path(env, "AUDIT_SIGNING_KEY_FILE"),
            privacy_kek=env.get("PRIVACY_KEK"),
            privacy_previous_keks=read_list(env, "PRIVACY_PREVIOUS_KEKS", ()),
            complaint_text_retention_years=(
                read_int(env, "COMPLAINT_TEXT_RETENTION_YEARS", 0)
                if "COMPLAINT_TEXT_RETENTION_YEARS" in env
                else None
            ),
            retention_check_seconds=read_int(env, "RETENTION_CHECK_SECONDS", 3600),
        )
