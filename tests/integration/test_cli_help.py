"""The command as a newcomer meets it: `--version`, `--help` of every command (what it does,
its options, its exit status), and `audit verify`'s exit codes, which must not collide with
argparse's usage error (2)."""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path

import pytest

from adapters import cli
from adapters.cli import main

#: What each command's help must say it does (a phrase of its description, not its one-liner).
DESCRIBED = {
    "serve": "serves the HTTP API",
    "seed": "records a day of a fictional hospital",
    "project": "runs the projection workers",
    "rebuild": "builds a new generation",
    "token": "prints a signed token",
    "migrate": "creates the database schema",
    "parked": "parks it with its error",
    "parked list": "prints one line per parked record",
    "parked retry": "rebuilds the read model",
    "audit": "audit trail",
    "audit verify": "recomputes the audit trail's hash chain",
    "audit checkpoint": "writes a checkpoint as JSON",
    "audit public-key": "public key as PEM",
    "mllp": "listens for HL7 v2 messages over MLLP",
    "hl7": "HL7 v2 messages taken from files",
    "hl7 import": "loads each FILE's messages in order",
    "privacy": "stored sealed under one data key per complainant",
    "privacy rotate-kek": "wrapped again under the new one",
}


def command_paths(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Every command and subcommand of ``parser``, by the words that select it."""
    found: dict[str, str] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                path = f"{prefix}{name}"
                found[path] = sub.format_help()
                found |= command_paths(sub, prefix=f"{path} ")
    return found


def help_of(words: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_version_prints_the_installed_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    expected = importlib.metadata.version("patient-services")
    assert capsys.readouterr().out.strip() == f"patient-services {expected}"


def test_every_command_is_listed_here_so_none_goes_undescribed() -> None:
    assert sorted(command_paths(cli._parser())) == sorted(DESCRIBED)  # noqa: SLF001


@pytest.mark.parametrize("command", sorted(DESCRIBED))
def test_every_command_s_help_says_what_it_does_and_its_exit_status(command, capsys) -> None:
    text = help_of(command.split(), capsys)

    # Unwrapped, as phrases may span lines; a description starts with a capital.
    assert DESCRIBED[command].lower() in " ".join(text.split()).lower()
    assert "exit status:" in text
    # Written for users: no reST roles or literals from a module docstring.
    assert "``" not in text and ":mod:" not in text and ":meth:" not in text


def test_the_top_level_help_is_for_users_and_points_to_each_command_s_help(capsys) -> None:
    text = help_of([], capsys)

    assert "``" not in text and ":mod:" not in text and "composition root" not in text
    assert "COMMAND --help" in text and "--version" in text
    for command in ("serve", "project", "rebuild", "token", "migrate", "parked", "audit"):
        assert f"\n    {command} " in text


def test_audit_verify_help_documents_exit_codes_apart_from_argparse_s_usage_error(
    capsys,
) -> None:
    text = " ".join(help_of(["audit", "verify"], capsys).split())

    for code, meaning in ((0, "intact"), (1, "tampered"), (3, "could not verify")):
        assert f"{code} {meaning}" in text
    assert cli.EXIT_AUDIT_UNVERIFIED == 3 != 2


@pytest.fixture
def verify_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    var_dir = tmp_path / "var"
    monkeypatch.setenv("VAR_DIR", str(var_dir))
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    for name in ("DATABASE_URL", "JWT_TTL_MINUTES", "POSTGRES_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    return var_dir


def test_a_usage_error_of_audit_verify_exits_2_as_argparse_does(verify_env, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify", "--no-such-option"])
    assert exited.value.code == 2


def test_audit_verify_exits_3_when_the_configuration_is_invalid(
    verify_env, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("JWT_TTL_MINUTES", "soon")

    assert main(["audit", "verify"]) == 3
    assert "JWT_TTL_MINUTES" in capsys.readouterr().err


def test_audit_verify_exits_3_when_the_database_cannot_be_reached(
    verify_env, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")

    assert main(["audit", "verify"]) == 3
    assert "cannot" in capsys.readouterr().err


def test_audit_verify_exits_3_not_1_when_it_fails_unexpectedly(
    verify_env, monkeypatch, capsys
) -> None:
    """A crash is not evidence of tampering: an uncaught exception would exit 1."""
    assert main(["migrate"]) == 0

    def broken(database: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("adapters.readmodels.audit.store.verify", broken)
    assert main(["audit", "verify"]) == 3
    assert "RuntimeError" in capsys.readouterr().err


def test_serve_s_help_gives_the_code_uvicorn_exits_with_when_it_cannot_start(capsys) -> None:
    import uvicorn.config

    assert cli.EXIT_SERVER_NOT_STARTED == uvicorn.config.STARTUP_FAILURE
    text = " ".join(help_of(["serve"], capsys).split())
    assert f"{uvicorn.config.STARTUP_FAILURE} the HTTP server could not start" in text
