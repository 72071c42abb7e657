"""The patient-services command: tokens round-trip through decode_token."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.auth_tokens import InvalidTokenError, decode_token, mint_token
from adapters.cli import READ_MODEL_NAMES, main
from adapters.readmodels.registry import read_model_factories
from adapters.settings import Settings


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"VAR_DIR": str(tmp_path / "var"), "JWT_ISSUER": "patient-services-test"}
    for name in ("JWT_SECRET", "DATABASE_URL", "JWT_AUDIENCE", "JWT_TTL_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_token_prints_a_token_that_decode_token_accepts(environ, capsys) -> None:
    assert main(["token", "--sub", "alice", "--role", "clerk", "--role", "nurse"]) == 0

    token = capsys.readouterr().out.strip()
    claims = decode_token(Settings.from_env(environ), token)  # same generated secret file
    assert (claims.subject, claims.roles) == ("alice", ("clerk", "nurse"))
    assert claims.issued_at is not None
    assert claims.expires_at - claims.issued_at == timedelta(minutes=60)


def test_token_honours_ttl_minutes(environ, capsys) -> None:
    assert main(["token", "--sub", "bob", "--role", "auditor", "--ttl-minutes", "5"]) == 0

    claims = decode_token(Settings.from_env(environ), capsys.readouterr().out.strip())
    assert claims.expires_at - claims.issued_at == timedelta(minutes=5)


def test_a_configuration_error_exits_2_with_a_message_naming_the_variable(
    environ, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("JWT_TTL_MINUTES", "soon")

    assert main(["token", "--sub", "alice", "--role", "clerk"]) == 2
    assert "JWT_TTL_MINUTES" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--sub", "", "--role", "clerk"], "a token needs a subject (--sub)"),
        (["--sub", "   ", "--role", "clerk"], "a token needs a subject (--sub)"),
        (["--sub", "alice", "--role", "wizard"], "unknown role wizard: expected one of"),
        (["--sub", "alice", "--role", "system"], "unknown role system"),
    ],
    ids=["empty-sub", "blank-sub", "unknown-role", "the-watchers-role"],
)
def test_token_refuses_what_the_service_would_not_take_with_a_message(
    environ, capsys, arguments: list[str], message: str
) -> None:
    assert main(["token", *arguments]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("variable", ["OIDC_ISSUER", "JWT_JWKS_URL"])
def test_token_says_it_is_for_development_only_when_an_identity_provider_is_set(
    environ, monkeypatch, capsys, variable: str
) -> None:
    monkeypatch.delenv("JWT_ISSUER")
    monkeypatch.setenv(variable, "https://idp.example.org/realms/hospital")
    if variable == "JWT_JWKS_URL":  # a named key set needs the issuer its tokens name
        monkeypatch.setenv("JWT_ISSUER", "https://idp.example.org/realms/hospital")
    monkeypatch.setenv("JWT_AUDIENCE", "patient-services")

    assert main(["token", "--sub", "alice", "--role", "clerk"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert "development tokens only" in err and "identity provider" in err


def test_the_installed_console_script_runs(environ) -> None:
    script = Path(sys.executable).parent / "patient-services"
    result = subprocess.run(
        [str(script), "token", "--sub", "carol", "--role", "clinician"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert decode_token(Settings.from_env(environ), result.stdout.strip()).subject == "carol"


def test_tokens_signed_with_another_secret_expired_or_for_another_issuer_are_refused(
    settings: Settings,
) -> None:
    token = mint_token(settings, "alice", ["clerk"])
    other_secret = replace(settings, jwt_secret="y" * 40)
    with pytest.raises(InvalidTokenError, match="signature") as caught:
        decode_token(other_secret, token)
    assert token not in str(caught.value)
    with pytest.raises(InvalidTokenError, match="expired"):
        decode_token(settings, mint_token(settings, "alice", ["clerk"], timedelta(minutes=-5)))
    ours = replace(settings, jwt_issuer="here")
    with pytest.raises(InvalidTokenError, match="issuer"):
        decode_token(
            replace(settings, jwt_issuer="elsewhere"), mint_token(ours, "alice", ["clerk"])
        )
    with pytest.raises(InvalidTokenError, match="malformed"):
        decode_token(settings, "not-a-token")


def test_the_help_names_every_read_model_the_registry_has() -> None:
    assert sorted(READ_MODEL_NAMES) == sorted(read_model_factories())
