"""``audit verify``: checking the audit trail's hash chain against the stored log."""

from __future__ import annotations

import argparse
import sys

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.cli.help import (
    EXIT_AUDIT_INCOMPLETE,
    EXIT_AUDIT_TAMPERED,
    EXIT_AUDIT_UNVERIFIED,
    EXIT_OK,
    EXIT_USAGE,
    Commands,
    command,
)
from adapters.settings import Settings


def add_audit(commands: Commands) -> None:
    audit = command(
        commands,
        "audit",
        "audit trail tools",
        """
        Tools for the audit trail. `verify` checks that no recorded event was altered,
        removed or inserted.
        """,
        [(EXIT_USAGE, "no ACTION given; each ACTION's --help lists its own exit status")],
    ).add_subparsers(required=True, metavar="ACTION")
    verify = command(
        audit,
        "verify",
        "check the audit hash chain against the stored log (exit 0 intact, 1 tampered, "
        "3 could not verify)",
        """
        Recomputes the audit trail's hash chain from the stored event log and compares it
        with the chain the audit read model holds, then prints the result as one JSON object
        on stdout: "ok", "checked" (entries found intact), "firstBadPosition" and "problem"
        (what was found there: altered, removed, inserted or parked), "headHash" and
        "headPosition", and "parkedPositions".

        Keep headHash with its position somewhere outside the database (an auditor's report,
        for example) to anchor the chain.
        """,
        [
            (EXIT_OK, "intact"),
            (
                EXIT_AUDIT_TAMPERED,
                'tampered: a record was altered, removed or inserted (see "problem")',
            ),
            (EXIT_USAGE, "usage error (as for every command)"),
            (
                EXIT_AUDIT_UNVERIFIED,
                "could not verify: a configuration error, no event store,"
                " the database cannot be reached or read, or an unexpected error; this says"
                " nothing about tampering",
            ),
            (
                EXIT_AUDIT_INCOMPLETE,
                "incomplete: intact as far as it goes, but the audit read"
                ' model has parked records ("parkedPositions"); `patient-services parked retry'
                " audit` applies them",
            ),
        ],  # fmt: skip
    )
    verify.set_defaults(run=_audit_verify, cannot_run_exit=EXIT_AUDIT_UNVERIFIED)


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    import sqlite3

    import msgspec

    from adapters.composition import open_read_database
    from adapters.readmodels.audit.store import AuditReadModel, verify
    from adapters.readmodels.database import EVENTS_FILE
    from adapters.readmodels.registry import prepare_read_models

    if settings.postgres is None and not (settings.var_dir / EVENTS_FILE).exists():
        print(f"patient-services: no event store under {settings.var_dir}", file=sys.stderr)
        return EXIT_AUDIT_UNVERIFIED
    # Exit 1 means "tampered": a store that cannot be read, or a bug, is no evidence of that
    # (an uncaught exception would exit 1).
    try:
        database = open_read_database(settings)
        try:
            prepare_read_models(database, [AuditReadModel])
            result = verify(database)
        finally:
            database.close()
    except (psycopg.Error, sqlite3.Error, InterfaceError, OperationalError) as e:
        print(f"patient-services: cannot verify the audit chain: {e}", file=sys.stderr)
        return EXIT_AUDIT_UNVERIFIED
    except Exception as e:  # noqa: BLE001 - see above; the type only, the text may hold data
        print(
            f"patient-services: cannot verify the audit chain: unexpected {type(e).__name__}",
            file=sys.stderr,
        )
        return EXIT_AUDIT_UNVERIFIED
    print(msgspec.json.encode(result).decode())
    if result.ok:
        return EXIT_OK
    # Parked records are not tampering: the trail is incomplete until a rebuild applies them.
    return EXIT_AUDIT_INCOMPLETE if result.problem == "parked" else EXIT_AUDIT_TAMPERED
