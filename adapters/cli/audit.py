"""``audit verify``: checking the audit trail's hash chain against the stored log; ``audit
checkpoint`` and ``audit verify --checkpoint``: signed checkpoints of the log, held outside
the database, and checking the log against one; ``audit public-key``: the key to check with.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.cli.help import (
    EXIT_AUDIT_INCOMPLETE,
    EXIT_AUDIT_TAMPERED,
    EXIT_AUDIT_UNVERIFIED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Commands,
    command,
)
from adapters.settings import Settings

if TYPE_CHECKING:  # imported where used: `patient-services --help` stays quick
    from adapters.readmodels.database import ReadDatabase
    from projections.audit.verify import VerifyResult

T = TypeVar("T")

#: ``audit verify --checkpoint``: the checkpoint is not genuine (the trusted key did not sign
#: it). Not 1: a forged checkpoint is no evidence that the log was rewritten.
EXIT_CHECKPOINT_NOT_GENUINE = 5


def add_audit(commands: Commands) -> None:
    audit = command(
        commands,
        "audit",
        "audit trail tools",
        """
        Tools for the audit trail. `verify` checks that no recorded event was altered,
        removed or inserted; `checkpoint` writes a signed checkpoint of the log to keep
        outside the database, and `verify --checkpoint` checks the log against it;
        `public-key` prints the key that checks checkpoints.
        """,
        [(EXIT_USAGE, "no ACTION given; each ACTION's --help lists its own exit status")],
    ).add_subparsers(required=True, metavar="ACTION")
    _add_verify(audit)
    _add_checkpoint(audit)
    _add_public_key(audit)


def _add_verify(audit: Commands) -> None:
    verify = command(
        audit,
        "verify",
        "check the audit hash chain against the stored log (exit 0 intact, 1 tampered, "
        "3 could not verify), or the log against a signed checkpoint",
        """
        Recomputes the audit trail's hash chain from the stored event log and compares it
        with the chain the audit read model holds, then prints the result as one JSON object
        on stdout: "ok", "checked" (entries found intact), "firstBadPosition" and "problem"
        (what was found there: altered, removed, inserted or parked), "headHash" and
        "headPosition", and "parkedPositions".

        With --checkpoint FILE (written by `audit checkpoint`) it checks that file instead:
        its signature against the public key in --public-key FILE (PEM, or the base64 of
        the raw key), else against the configured signing key's; then recomputes the chain
        from the log itself, from the first record to the checkpoint's position, and
        compares it with the signed head hash. This catches a rewrite of the log, the audit
        tables and tracking together, which the check without a checkpoint cannot. It
        prints one JSON object ("ok", "checked", "checkpointPosition", "problem": signature,
        rewritten or truncated, "detail", "headHash", "keyId", "logPosition") and the
        detail on stderr. The checkpoint's own publicKey is never trusted: anyone can sign
        a checkpoint with a key of their own.
        """,
        [
            (EXIT_OK, "intact (with --checkpoint: the log up to it is unchanged)"),
            (
                EXIT_AUDIT_TAMPERED,
                'tampered: a record was altered, removed or inserted (see "problem"); with'
                " --checkpoint: the log up to it was rewritten or truncated",
            ),
            (EXIT_USAGE, "usage error (as for every command)"),
            (
                EXIT_AUDIT_UNVERIFIED,
                "could not verify: a configuration error, no event store,"
                " the database cannot be reached or read, a checkpoint or public key file"
                " that cannot be read, or an unexpected error; this says nothing about"
                " tampering",
            ),
            (
                EXIT_AUDIT_INCOMPLETE,
                "incomplete: intact as far as it goes, but the audit read"
                ' model has parked records ("parkedPositions"); `patient-services parked retry'
                " audit` applies them",
            ),
            (
                EXIT_CHECKPOINT_NOT_GENUINE,
                "with --checkpoint: the checkpoint is not genuine (the trusted key did not"
                " sign it as it is); this says nothing about the log",
            ),
        ],  # fmt: skip
    )
    verify.add_argument(
        "--checkpoint", type=Path, metavar="FILE", help="a checkpoint to check the log against"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="with --checkpoint: the public key to trust (default: the configured key's)",
    )
    verify.set_defaults(run=_audit_verify, cannot_run_exit=EXIT_AUDIT_UNVERIFIED)


def _add_checkpoint(audit: Commands) -> None:
    checkpoint = command(
        audit,
        "checkpoint",
        "write a signed checkpoint of the log (its position and chain hash)",
        """
        Recomputes the audit chain from the stored event log itself (not from the audit
        tables), up to its newest record, and writes a checkpoint as JSON: "position",
        "headHash", "takenAt", "algorithm" (Ed25519), "keyId", "publicKey" and "signature"
        (over the other fields as JSON with sorted keys and no whitespace). Keep it where
        the database's users cannot change it; `audit verify --checkpoint FILE` later proves
        the log up to it unchanged. The key is AUDIT_SIGNING_KEY_FILE (required with
        DATABASE_URL); on SQLite without it, one is generated once under VAR_DIR.
        """,
        [
            (EXIT_OK, "written"),
            (EXIT_FAILED, "no event store, the database cannot be read, or FILE exists"),
            (EXIT_USAGE, "usage or configuration error (no signing key on PostgreSQL)"),
        ],
    )
    checkpoint.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write it to FILE (which must not exist yet) rather than to stdout",
    )
    checkpoint.set_defaults(run=_audit_checkpoint)


def _add_public_key(audit: Commands) -> None:
    public_key = command(
        audit,
        "public-key",
        "print the public key that checks audit checkpoints (PEM)",
        """
        Prints the configured signing key's public key as PEM (SubjectPublicKeyInfo), and
        its key id on stderr. Keep a copy apart from the server and pass it to `audit verify
        --checkpoint FILE --public-key KEYFILE`. On SQLite without AUDIT_SIGNING_KEY_FILE the
        key is generated under VAR_DIR if there is none yet.
        """,
        [
            (EXIT_OK, "printed"),
            (EXIT_FAILED, "FILE exists"),
            (EXIT_USAGE, "usage or configuration error (no signing key on PostgreSQL)"),
        ],
    )
    public_key.add_argument(
        "--output", type=Path, metavar="FILE", help="write it to FILE (which must not exist)"
    )
    public_key.set_defaults(run=_audit_public_key)


def _on_store(settings: Settings, what: str, action: Callable[[ReadDatabase], T]) -> T | None:
    """``action`` on the store's read database; None, with why printed ("cannot <what>:
    ..."), when there is no store or it cannot be read.

    An uncaught exception would exit 1, which ``audit verify`` reserves for "tampered": a
    store that cannot be read, or a bug, is no evidence of that."""
    import sqlite3

    from adapters.composition import open_read_database
    from adapters.readmodels.database import EVENTS_FILE

    if settings.postgres is None and not (settings.var_dir / EVENTS_FILE).exists():
        print(f"patient-services: no event store under {settings.var_dir}", file=sys.stderr)
        return None
    try:
        database = open_read_database(settings)
        try:
            return action(database)
        finally:
            database.close()
    except (psycopg.Error, sqlite3.Error, InterfaceError, OperationalError) as e:
        print(f"patient-services: cannot {what}: {e}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - see above; the type only, the text may hold data
        print(f"patient-services: cannot {what}: unexpected {type(e).__name__}", file=sys.stderr)
    return None


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    import msgspec

    from adapters.readmodels.audit.store import AuditReadModel, verify
    from adapters.readmodels.registry import prepare_read_models

    if args.checkpoint is not None:
        return _verify_checkpoint(settings, args.checkpoint, args.public_key)
    if args.public_key is not None:
        print("patient-services: --public-key goes with --checkpoint", file=sys.stderr)
        return EXIT_USAGE

    def check(database: ReadDatabase) -> VerifyResult:
        prepare_read_models(database, [AuditReadModel])
        return verify(database)

    result = _on_store(settings, "verify the audit chain", check)
    if result is None:
        return EXIT_AUDIT_UNVERIFIED
    print(msgspec.json.encode(result).decode())
    if result.ok:
        return EXIT_OK
    # Parked records are not tampering: the trail is incomplete until a rebuild applies them.
    return EXIT_AUDIT_INCOMPLETE if result.problem == "parked" else EXIT_AUDIT_TAMPERED


def _verify_checkpoint(settings: Settings, path: Path, key_path: Path | None) -> int:
    import msgspec

    from adapters.audit_checkpoints import check_checkpoint
    from adapters.audit_signing import parse_public_key, signing_key
    from projections.audit.checkpoint import Checkpoint

    try:
        checkpoint = msgspec.json.decode(path.read_bytes(), type=Checkpoint)
    except OSError as e:
        print(f"patient-services: cannot read {path}: {e.strerror}", file=sys.stderr)
        return EXIT_AUDIT_UNVERIFIED
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        print(f"patient-services: {path} is not a checkpoint: {e}", file=sys.stderr)
        return EXIT_AUDIT_UNVERIFIED
    if key_path is None:
        # The server's own key: it catches a rewrite by someone without access to the key
        # file; against the key's holder, only a public key kept apart helps.
        trusted = signing_key(settings).public_key()
    else:
        try:
            trusted = parse_public_key(key_path.read_bytes())
        except OSError as e:
            print(f"patient-services: cannot read {key_path}: {e.strerror}", file=sys.stderr)
            return EXIT_AUDIT_UNVERIFIED
        except ValueError as e:
            print(f"patient-services: {key_path}: {e}", file=sys.stderr)
            return EXIT_AUDIT_UNVERIFIED
    result = _on_store(
        settings, "check the checkpoint", lambda db: check_checkpoint(db, checkpoint, trusted)
    )
    if result is None:
        return EXIT_AUDIT_UNVERIFIED
    print(msgspec.json.encode(result).decode())
    print(f"patient-services: {result.detail}", file=sys.stderr)
    if result.ok:
        return EXIT_OK
    return EXIT_CHECKPOINT_NOT_GENUINE if result.problem == "signature" else EXIT_AUDIT_TAMPERED


def _audit_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    import msgspec

    from adapters.audit_checkpoints import take_checkpoint
    from adapters.audit_signing import signing_key

    key = signing_key(settings)
    now = datetime.now(timezone.utc)
    taken = _on_store(settings, "take a checkpoint", lambda db: take_checkpoint(db, key, now))
    if taken is None:
        return EXIT_FAILED
    text = msgspec.json.format(msgspec.json.encode(taken), indent=2) + b"\n"
    if not _write(args.output, text):
        return EXIT_FAILED
    where = f"written to {args.output}" if args.output else "written"
    print(
        f"patient-services: checkpoint of position {taken.position} {where}; keep it, and the"
        " public key (`audit public-key`), where the database's users cannot change them",
        file=sys.stderr,
    )
    return EXIT_OK


def _audit_public_key(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.audit_signing import public_key_pem, raw_public_key, signing_key
    from projections.audit.checkpoint import key_id_of

    public_key = signing_key(settings).public_key()
    if not _write(args.output, public_key_pem(public_key).encode()):
        return EXIT_FAILED
    print(f"patient-services: key id {key_id_of(raw_public_key(public_key))}", file=sys.stderr)
    return EXIT_OK


def _write(path: Path | None, data: bytes) -> bool:
    """``data`` to ``path``, never over an existing file (an earlier checkpoint is evidence),
    or to stdout."""
    if path is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return True
    try:
        with path.open("xb") as f:
            f.write(data)
    except OSError as e:
        print(f"patient-services: cannot write {path}: {e.strerror}", file=sys.stderr)
        return False
    return True
