"""The ``patient-services`` command: ``serve``, ``project``, ``mllp``, ``rebuild``,
``token``, ``migrate``, ``parked``, ``audit verify``, ``hl7 import`` and ``seed``.

An entry point: it is the only place (with :mod:`adapters.http.asgi`) that reads the process
environment, and each command builds what it needs through :mod:`adapters.composition`.
Users read ``DESCRIPTION`` and each command's help, not this.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.cli import audit, intake, maintenance, privacy, seeding, serving
from adapters.cli.help import (
    COMMON_EXITS,
    DESCRIPTION,
    EXIT_AUDIT_INCOMPLETE,
    EXIT_AUDIT_TAMPERED,
    EXIT_AUDIT_UNVERIFIED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARKED,
    EXIT_SERVER_NOT_STARTED,
    EXIT_USAGE,
    HelpFormatter,
    exit_status,
)
from adapters.readmodels.registry import READ_MODEL_NAMES
from adapters.settings import Settings, SettingsError

__all__ = [
    "EXIT_AUDIT_INCOMPLETE", "EXIT_AUDIT_TAMPERED", "EXIT_AUDIT_UNVERIFIED", "EXIT_FAILED",
    "EXIT_OK", "EXIT_PARKED", "EXIT_SERVER_NOT_STARTED", "EXIT_USAGE", "READ_MODEL_NAMES",
    "main",
]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # What to exit with when the command cannot run at all: `audit verify` has its own code,
    # since 1 means "tampered" there.
    cannot_run = getattr(args, "cannot_run_exit", None)
    try:
        settings = Settings.from_env(os.environ)
        code: int = args.run(settings, args)
        return code
    except SettingsError as e:
        print(f"patient-services: configuration error: {e}", file=sys.stderr)
        return cannot_run or EXIT_USAGE
    except (InterfaceError, OperationalError, psycopg.OperationalError) as e:
        # A traceback would only repeat this; the message names host and port, not the password.
        print(f"patient-services: cannot reach the database: {e}", file=sys.stderr)
        return cannot_run or EXIT_FAILED


def _package_version() -> str:
    try:
        return importlib.metadata.version("patient-services")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patient-services",
        description=DESCRIPTION,
        epilog=exit_status(COMMON_EXITS),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serving.add_serve(commands)
    serving.add_project(commands)
    intake.add_mllp(commands)
    maintenance.add_rebuild(commands)
    serving.add_token(commands)
    serving.add_migrate(commands)
    maintenance.add_parked(commands)
    audit.add_audit(commands)
    intake.add_hl7(commands)
    privacy.add_privacy(commands)
    seeding.add_seed(commands)
    return parser
