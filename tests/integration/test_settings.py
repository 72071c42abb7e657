"""Settings.from_env: defaults, the generated SQLite secret, and clear refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from adapters.settings import Settings, SettingsError
from adapters.storage import POSTGRES_RECORDER_TOPIC, SQLITE_RECORDER_TOPIC, eventsourcing_env

PG_URL = "postgresql://app:s%40cret@db.example:6543/patients?schema=ward"


def test_without_jwt_secret_on_sqlite_a_secret_is_generated_once_and_reused(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path / "var")}

    first = Settings.from_env(env)
    second = Settings.from_env(env)

    secret_file = tmp_path / "var" / "jwt_secret"
    assert first.jwt_secret == second.jwt_secret == secret_file.read_text().strip()
    assert len(first.jwt_secret) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert list((tmp_path / "var").iterdir()) == [secret_file]  # no temporary file left


def test_an_explicit_jwt_secret_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path), "JWT_SECRET": "k" * 40})

    assert settings.jwt_secret == "k" * 40
    assert not (tmp_path / "jwt_secret").exists()


def test_postgresql_without_jwt_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="^JWT_SECRET: must be set when DATABASE_URL is set"):
        Settings.from_env({"VAR_DIR": str(tmp_path), "DATABASE_URL": PG_URL})
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("WORKERS", "0"),
        ("MAX_BODY_BYTES", "-1"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("FACILITY_TIMEZONE", "Mars/Olympus_Mons"),
        ("JWT_SECRET", "too-short"),
        ("POSTGRES_SCHEMA", "Robert'); DROP TABLE"),
        ("COMPLAINT_POLICY", "nhs-scotland"),
    ],
)
def test_an_invalid_value_is_refused_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        Settings.from_env({"VAR_DIR": str(tmp_path), "JWT_SECRET": "k" * 40, name: value})


@pytest.mark.parametrize(
    "url",
    [
        "mysql://app@db/patients",
        "postgresql://db.example/patients",  # no user
        "postgresql://app@db.example/",  # no database
        "postgresql://app@db.example/patients?sslmode=require",  # would be silently ignored
    ],
)
def test_an_unusable_database_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(SettingsError, match="^DATABASE_URL: ") as caught:
        Settings(jwt_secret="k" * 40, database_url=url)
    assert "db.example" not in str(caught.value)


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({"VAR_DIR": str(tmp_path), "JWT_SECRET": "k" * 40, "PORT": ""})

    assert (s.database_url, s.host, s.port, s.workers) == (None, "127.0.0.1", 8000, 1)
    assert (s.facility_timezone, s.log_format, s.log_level) == ("Europe/London", "auto", "INFO")
    assert (s.max_body_bytes, s.no_show_grace_minutes, s.late_cancellation_hours) == (
        1024 * 1024,
        15,
        24,
    )
    assert "k" * 40 not in repr(s)


def test_sqlite_env_points_at_a_file_under_var_dir_with_the_position_recorder(
    tmp_path: Path,
) -> None:
    settings = Settings(jwt_secret="k" * 40, var_dir=tmp_path / "var")

    env = eventsourcing_env(settings, projection_names=["flow_board"])

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "var" / "patient_services.db")
    assert env["FLOW_BOARD_SQLITE_DBNAME"] == str(tmp_path / "var" / "flow_board.db")
    assert env["APPLICATION_RECORDER_TOPIC"] == SQLITE_RECORDER_TOPIC
    assert (tmp_path / "var").is_dir()


def test_postgres_env_comes_from_the_url_and_never_enables_db_functions() -> None:
    settings = Settings(jwt_secret="k" * 40, database_url=PG_URL, postgres_pool_size=7)

    env = eventsourcing_env(settings)

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example",
        "6543",
        "patients",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("app", "s@cret")
    assert (env["POSTGRES_SCHEMA"], env["POSTGRES_POOL_SIZE"]) == ("ward", "7")
    assert env["POSTGRES_CONNECT_TIMEOUT"] == env["POSTGRES_LOCK_TIMEOUT"] == "5"
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    assert env["CREATE_TABLE"] == "y"
    assert env["APPLICATION_RECORDER_TOPIC"] == POSTGRES_RECORDER_TOPIC


def test_the_schema_may_come_from_postgres_schema_but_must_not_contradict_the_url() -> None:
    url = "postgresql://app@db.example/patients"
    assert (
        Settings(jwt_secret="k" * 40, database_url=url, postgres_schema="ward").postgres.schema
        == "ward"
    )
    with pytest.raises(SettingsError, match="^POSTGRES_SCHEMA: "):
        Settings(jwt_secret="k" * 40, database_url=PG_URL, postgres_schema="other")
