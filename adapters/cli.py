"""The ``patient-services`` command: ``serve``, ``project``, ``rebuild``, ``token``,
``migrate``, ``parked`` and ``audit verify``.

This is a composition root: it is the only place (with :mod:`adapters.http.asgi`) that reads
the process environment. Users read ``DESCRIPTION`` and each command's help, not this.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.settings import Settings, SettingsError

#: Exit codes. 2 is also what argparse exits with on a usage error.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: ``serve``: uvicorn's own code when it cannot start (it exits with it).
EXIT_SERVER_NOT_STARTED = 3
#: ``audit verify`` answers 1 for "tampered", so "could not verify" needs a code of its own:
#: neither 1 (it is no evidence of tampering) nor 2 (argparse's usage error).
EXIT_AUDIT_TAMPERED = 1
EXIT_AUDIT_UNVERIFIED = 3
#: ``audit verify``: the chain is intact as far as it goes, but records are parked.
EXIT_AUDIT_INCOMPLETE = 4
#: ``parked list`` / ``parked retry``: records are (still) parked.
EXIT_PARKED = 4

#: Named here (not imported) so `--help` stays fast; registry.read_model_factories is the truth.
READ_MODEL_NAMES = ("flow", "audit", "budget", "complaints")

#: The help texts below are reflowed to the terminal's width (see _HelpFormatter): a blank
#: line separates paragraphs; each exit status is one (code, meaning) pair.
DESCRIPTION = """
An event-sourced backend for patient visits, complaints and budgets, with an audit trail of
every change.

Settings are environment variables (DATABASE_URL, VAR_DIR, HOST, PORT, JWT_SECRET, ...; the
README's "Configuration" section lists them all). Without DATABASE_URL everything is stored
in SQLite under VAR_DIR (default ./var).

Run `patient-services COMMAND --help` for what a command does, its options and its exit
status.
"""

ExitStatus = tuple[int, str]

COMMON_EXITS: list[ExitStatus] = [
    (EXIT_OK, "success"),
    (EXIT_FAILED, "the command failed (for example, the database cannot be reached)"),
    (EXIT_USAGE, "usage or configuration error; `audit verify` has codes of its own (see its"
     " --help)"),
]  # fmt: skip


class _HelpFormatter(argparse.HelpFormatter):
    """Reflows descriptions and epilogs to the terminal's width, as argparse does for option
    help, but keeps paragraphs apart and gives indented lines (the exit statuses) a hanging
    indent, so a status that wraps stays readable."""

    # _fill_text is the hook argparse's own RawDescriptionHelpFormatter overrides.
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for paragraph in textwrap.dedent(text).strip("\n").split("\n\n"):
            lines: list[str] = []
            prose: list[str] = []
            for line in paragraph.splitlines():
                if not line.startswith(" "):
                    prose.append(line)
                    continue
                lines += _fill(" ".join(prose), width, indent, indent) if prose else []
                prose = []
                lead = indent + line[: len(line) - len(line.lstrip())]
                lines += _fill(line.strip(), width, lead, lead + "   ")
            lines += _fill(" ".join(prose), width, indent, indent) if prose else []
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def _fill(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest)


def _exit_status(exits: list[ExitStatus]) -> str:
    return "exit status:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in exits)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # What to exit with when the command cannot run at all: `audit verify` has its own code,
    # since 1 means "tampered" there.
    cannot_run = getattr(args, "cannot_run_exit", None)
    try:
        settings = Settings.from_env(os.environ)
        return args.run(settings, args)
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
        epilog=_exit_status(COMMON_EXITS),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_serve(commands)
    _add_project(commands)
    _add_rebuild(commands)
    _add_token(commands)
    _add_migrate(commands)
    _add_parked(commands)
    _add_audit(commands)
    return parser


def _command(
    group: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str,
    exits: list[ExitStatus],
) -> argparse.ArgumentParser:
    """A (sub)command whose --help says what it does and how it exits; ``summary`` is its
    line in the parent's list of commands."""
    return group.add_parser(
        name,
        help=summary,
        description=description,
        epilog=_exit_status(exits),
        formatter_class=_HelpFormatter,
    )


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = _command(
        commands,
        "serve",
        "serve the HTTP API (and, by default, the projection workers)",
        """
        Creates the tables if they are missing, then serves the HTTP API: JSON over HTTP,
        with JWT bearer tokens (see `patient-services token`). The interactive API page is
        at /schema, the OpenAPI document at /schema/openapi.json.

        Unless --no-workers is given, each server process also runs the projection workers,
        which keep the read models current, and the complaint deadline watcher. Options
        override the environment variables named with them.
        """,
        [
            (EXIT_OK, "stopped (Ctrl-C or SIGTERM)"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "usage or configuration error"),
            (
                EXIT_SERVER_NOT_STARTED,
                "the HTTP server could not start, for example because the port is in use",
            ),
        ],
    )
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default: PORT or 8000)")
    serve.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: WORKERS or 1)"
    )
    serve.add_argument(
        "--no-workers",
        dest="projection_workers",
        action="store_false",
        default=None,
        help="serve HTTP only; run the projection workers with `project` elsewhere "
        "(default: PROJECTION_WORKERS or on)",
    )
    serve.set_defaults(run=_serve)


def _add_project(commands: argparse._SubParsersAction) -> None:
    project = _command(
        commands,
        "project",
        "run the projection workers and the deadline watcher, without HTTP",
        f"""
        Creates the tables if they are missing, then runs the projection workers (one per
        read model: {", ".join(READ_MODEL_NAMES)}) and the complaint deadline watcher,
        without serving HTTP: the other half of `serve --no-workers`. Runs until Ctrl-C or
        SIGTERM.

        Several `project` processes may run at once: one leads per read model, the others
        stand by and take over when it stops.
        """,
        [
            (EXIT_OK, "stopped (Ctrl-C or SIGTERM)"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "configuration error"),
        ],
    )
    project.set_defaults(run=_project)


def _add_rebuild(commands: argparse._SubParsersAction) -> None:
    rebuild = _command(
        commands,
        "rebuild",
        "rebuild a read model from zero beside the serving one, then switch",
        """
        Builds a new generation of read model NAME from the start of the event log, beside
        the generation being served (which stays current and keeps answering), with a
        progress bar, rate and ETA on stderr. Once it has caught up, readers switch to it in
        one transaction and the old generation's tables are dropped.

        An interrupted rebuild resumes when run again; one that fails removes what it built.
        """,
        [
            (EXIT_OK, "rebuilt, and now serving"),
            (
                EXIT_FAILED,
                "another rebuild of NAME is running, the database cannot be reached,"
                " or the rebuild failed",
            ),
            (EXIT_USAGE, "unknown NAME, a --batch-size below 1, or a configuration error"),
        ],  # fmt: skip
    )
    _add_rebuild_arguments(rebuild)
    rebuild.set_defaults(run=_rebuild)


def _add_rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    """NAME and --batch-size, shared by ``rebuild`` and ``parked retry`` (which rebuilds)."""
    parser.add_argument(
        "name", metavar="NAME", help="the read model: " + ", ".join(READ_MODEL_NAMES)
    )
    parser.add_argument(
        "--batch-size", type=int, default=2000, metavar="N",
        help="records per transaction (default: 2000)",
    )  # fmt: skip


def _add_token(commands: argparse._SubParsersAction) -> None:
    token = _command(
        commands,
        "token",
        "print a signed development token",
        """
        Prints a signed token (a JWT, HS256) on stdout, for trying the API: send it as
        `Authorization: Bearer <token>`. Its user id becomes the actor of every event
        recorded with it; its roles (clerk, nurse, clinician, manager, auditor, ...) decide
        what it may do.

        It is signed with JWT_SECRET (on SQLite without one, a secret generated once into
        VAR_DIR/jwt_secret) and carries JWT_ISSUER and JWT_AUDIENCE when they are set.
        """,
        [
            (EXIT_OK, "printed"),
            (EXIT_USAGE, "usage error (such as a --ttl-minutes below 1) or configuration error"),
        ],
    )
    token.add_argument("--sub", required=True, help="user id (becomes the events' actor)")
    token.add_argument(
        "--role", dest="roles", metavar="ROLE", action="append", required=True,
        help="a role; repeatable",
    )  # fmt: skip
    token.add_argument(
        "--ttl-minutes", type=int, metavar="MINUTES",
        help="lifetime (default: JWT_TTL_MINUTES or 60)",
    )  # fmt: skip
    token.set_defaults(run=_token)


def _add_migrate(commands: argparse._SubParsersAction) -> None:
    migrate = _command(
        commands,
        "migrate",
        "create the schema and tables if missing",
        """
        Creates the database schema (on PostgreSQL, when DATABASE_URL or POSTGRES_SCHEMA
        names one) and every table the service needs, where missing. Existing tables and
        their data are left as they are, so it is safe to run again.

        `serve`, `project` and `rebuild` do the same when they start: run `migrate` on its
        own to prepare a database ahead of time, for example as a user allowed to create
        tables when the service's user is not.
        """,
        [
            (EXIT_OK, "the tables are ready"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "configuration error"),
        ],
    )
    migrate.set_defaults(run=_migrate)


def _add_parked(commands: argparse._SubParsersAction) -> None:
    parked = _command(
        commands,
        "parked",
        "records a read model could not apply and set aside (list them; retry by rebuild)",
        """
        A projection worker that cannot apply a record parks it with its error and moves
        on; the read model is then reported degraded in /ready and /metrics.

        `list` shows the parked records of the serving generations; `retry NAME` rebuilds
        NAME from the start of the log (blue/green, as `rebuild` does), which applies every
        record in order again once the cause is fixed.
        """,
        [
            (EXIT_OK, "nothing is (left) parked"),
            (EXIT_FAILED, "the command failed (for example, the database cannot be reached)"),
            (EXIT_USAGE, "usage or configuration error"),
            (EXIT_PARKED, "records are (still) parked"),
        ],
    ).add_subparsers(required=True, metavar="ACTION")
    parked_list = _command(
        parked,
        "list",
        "show the parked records with their errors",
        """
        Lists the records the serving generation of read model NAME (default: every read
        model) has parked: prints one line per parked record on stdout (read model,
        generation, log position, event topic, aggregate id and version, error), then how
        many there are on stderr.
        """,
        [
            (EXIT_OK, "no parked records"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "unknown NAME, or a configuration error"),
            (EXIT_PARKED, "records are parked"),
        ],
    )
    parked_list.add_argument(
        "name", metavar="NAME", nargs="?", help="one read model (default: all)"
    )
    parked_list.set_defaults(run=_parked_list)
    parked_retry = _command(
        parked,
        "retry",
        "rebuild a read model so its parked records are applied in order",
        """
        Once the cause of the parked records is fixed, rebuilds the read model NAME from the
        start of the log, as `rebuild` does: a parked record cannot be applied on its own
        later, since the records after it were folded without it, so every record is
        applied again in order. Records that still fail are parked in the new generation.
        """,
        [
            (EXIT_OK, "rebuilt, and nothing is left parked"),
            (
                EXIT_FAILED,
                "another rebuild of NAME is running, the database cannot be reached, or"
                " the rebuild failed",
            ),
            (EXIT_USAGE, "unknown NAME, a --batch-size below 1, or a configuration error"),
            (EXIT_PARKED, "records are still parked (in the new generation)"),
        ],  # fmt: skip
    )
    _add_rebuild_arguments(parked_retry)
    parked_retry.set_defaults(run=_parked_retry)


def _add_audit(commands: argparse._SubParsersAction) -> None:
    audit = _command(
        commands,
        "audit",
        "audit trail tools",
        """
        Tools for the audit trail. `verify` checks that no recorded event was altered,
        removed or inserted.
        """,
        [(EXIT_USAGE, "no ACTION given; each ACTION's --help lists its own exit status")],
    ).add_subparsers(required=True, metavar="ACTION")
    verify = _command(
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


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.http.server import IMPORT_STRING as SERVER_PROTOCOL
    from adapters.logging import configure_logging

    overrides = {k: getattr(args, k) for k in ("host", "port", "workers", "projection_workers")}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    # Each uvicorn worker process reads its settings from the environment again.
    os.environ["PROJECTION_WORKERS"] = "1" if settings.projection_workers else "0"
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics sums the worker processes' counters from files here (prometheus_client's
        # multiprocess mode, chosen when it is first imported, so set before any worker
        # starts). Emptied at each start: files left by an earlier run would add its counts.
        metrics_dir = (settings.var_dir / f"metrics-{settings.port}").resolve()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    configure_logging(settings)
    # Once here, before the workers start: concurrent CREATE TABLE in several workers could
    # race. Each worker then only finds the tables present.
    _migrate(settings, args)
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"Serving patient services on {base}\n"
        f"  interactive API page: {base}/schema\n"
        f"  get a token:          {_this_command()} token --sub alice --role clerk\n"
        "  then send:            Authorization: Bearer <token>",
        file=sys.stderr,
        flush=True,
    )
    # A factory import string (not an app object) so each worker process builds its own app.
    uvicorn.run(
        "adapters.http.asgi:create",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,  # keep the structlog configuration
        access_log=False,
        server_header=False,
        # httptools, answering malformed requests with problem+json and bounding the request
        # line and headers (MAX_REQUEST_HEAD_BYTES, 16 KiB) with a 431.
        http=SERVER_PROTOCOL,
    )
    return 0


def _this_command() -> str:
    # As the user can type it: `make run` starts .venv/bin/patient-services, not on PATH.
    script = sys.argv[0]
    on_path = shutil.which("patient-services") == os.path.abspath(script)
    if os.path.basename(script) != "patient-services" or on_path:
        return "patient-services"
    relative = os.path.relpath(script)
    return script if relative.startswith("..") else relative


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.auth_tokens import mint_token

    ttl = timedelta(minutes=args.ttl_minutes) if args.ttl_minutes is not None else None
    if ttl is not None and ttl <= timedelta(0):
        print("patient-services: --ttl-minutes must be positive", file=sys.stderr)
        return 2
    try:
        token = mint_token(settings, args.sub, args.roles, ttl)
    except ValueError as e:  # a subject or role the service would refuse, or a huge ttl
        print(f"patient-services: {e}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.registry import prepare_read_models, read_model_factories
    from adapters.storage import ensure_schema, eventsourcing_env
    from application.service import PatientServices

    ensure_schema(settings)
    # Constructing the application with CREATE_TABLE=y creates its tables, type and index.
    PatientServices(env={**eventsourcing_env(settings), "CREATE_TABLE": "y"}).close()
    database = open_read_database(settings)
    try:
        prepare_read_models(database, read_model_factories(settings).values())
    finally:
        database.close()
    postgres = settings.postgres
    where = (
        f"PostgreSQL database {postgres.dbname}, schema {postgres.schema or 'public'}"
        if postgres
        else f"SQLite under {settings.var_dir}"
    )
    print(f"patient-services: tables ready in {where}", file=sys.stderr)
    return 0


def _project(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from adapters.composition import background_jobs, open_services
    from adapters.logging import configure_logging
    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.registry import read_model_factories
    from adapters.readmodels.worker import ProjectionSupervisor

    configure_logging(settings)
    _migrate(settings, args)
    services = open_services(settings)
    database = open_read_database(settings)
    supervisor = ProjectionSupervisor(
        database,
        list(read_model_factories(settings).values()),
        background_jobs(settings, services, database),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.request_stop())
    print(
        "patient-services: projection workers and the deadline watcher running (Ctrl-C stops)",
        file=sys.stderr,
    )
    supervisor.start()
    try:
        supervisor.wait()
    finally:
        supervisor.stop()
        database.close()
        services.close()
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.logging import configure_logging
    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.progress import ProgressBar
    from adapters.readmodels.rebuild import RebuildBusyError, rebuild
    from adapters.readmodels.registry import read_model_factories

    factories = read_model_factories(settings)
    if args.name not in factories:
        print(
            f"patient-services: unknown read model {args.name!r}; "
            f"expected one of {', '.join(factories)}",
            file=sys.stderr,
        )
        return 2
    if args.batch_size < 1:
        print("patient-services: --batch-size must be positive", file=sys.stderr)
        return 2
    configure_logging(settings)
    _migrate(settings, args)
    database = open_read_database(settings)
    try:
        # Closed before anything below prints (the except clause runs before a finally).
        with ProgressBar(sys.stderr) as bar:
            result = rebuild(
                database, factories[args.name], batch_size=args.batch_size, progress=bar.update
            )
    except RebuildBusyError as e:
        print(f"patient-services: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        database.close()
    rate = result.records / result.seconds if result.seconds else 0.0
    print(
        f"patient-services: {result.name} rebuilt as generation {result.generation} "
        f"({result.records:,} records in {result.seconds:.1f} s, {rate:,.0f}/s); "
        f"now serving it, generation {result.replaced_generation} dropped",
        file=sys.stderr,
    )
    return 0


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    import sqlite3

    import msgspec

    from adapters.readmodels.audit.store import AuditReadModel, verify
    from adapters.readmodels.database import EVENTS_FILE, open_read_database
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


def _parked_list(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.readmodels import tracking as tr
    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.registry import prepare_read_models, read_model_factories

    factories = read_model_factories(settings)
    names = list(factories)
    if args.name is not None and args.name not in names:
        print(f"patient-services: unknown read model {args.name!r}", file=sys.stderr)
        return 2
    database = open_read_database(settings)
    total = 0
    try:
        prepare_read_models(database, list(factories.values()))  # a new store has no tables
        with database.read() as tx:
            for name in [args.name] if args.name else names:
                generation = tr.generations(tx, name).active
                for record in tr.parked_records(tx, name, generation, limit=None):
                    total += 1
                    print(
                        f"{name}\tgeneration {generation}\tposition {record.position}\t"
                        f"{record.topic}\t{record.originator_id} v{record.originator_version}\t"
                        f"{record.error}"
                    )
    finally:
        database.close()
    print(f"patient-services: {total} parked record(s)", file=sys.stderr)
    return EXIT_PARKED if total else EXIT_OK


def _parked_retry(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.readmodels import tracking as tr
    from adapters.readmodels.database import open_read_database

    code = _rebuild(settings, args)
    if code:
        return code
    database = open_read_database(settings)
    try:
        with database.read() as tx:
            generation = tr.generations(tx, args.name).active
            left = tr.parked_count(tx, args.name, generation)
    finally:
        database.close()
    print(f"patient-services: {left} record(s) still parked in {args.name}", file=sys.stderr)
    return EXIT_PARKED if left else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
