"""The ``patient-services`` command: ``serve``, ``project``, ``rebuild``, ``token``,
``migrate`` and ``audit verify``.

This is a composition root: it is the only place (with :mod:`adapters.http.asgi`) that reads
the process environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.settings import Settings, SettingsError

#: ``audit verify``: the chain is intact as far as it goes, but records are parked.
EXIT_AUDIT_INCOMPLETE = 4

#: Named here (not imported) so `--help` stays fast; registry.read_model_factories is the truth.
READ_MODEL_NAMES = ("flow", "audit", "budget", "complaints")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        return args.run(settings, args)
    except SettingsError as e:
        print(f"patient-services: configuration error: {e}", file=sys.stderr)
        return 2
    except (InterfaceError, OperationalError, psycopg.OperationalError) as e:
        # A traceback would only repeat this; the message names host and port, not the password.
        print(f"patient-services: cannot reach the database: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patient-services", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="create tables if missing, then serve HTTP")
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    serve.add_argument(
        "--no-workers",
        dest="projection_workers",
        action="store_false",
        default=None,
        help="serve HTTP only; run the projection workers with `project` elsewhere "
        "(default: PROJECTION_WORKERS or on)",
    )
    serve.set_defaults(run=_serve)

    project = commands.add_parser(
        "project", help="run the projection workers only (one leads per read model)"
    )
    project.set_defaults(run=_project)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild a read model from zero beside the serving one, then switch"
    )
    rebuild.add_argument("name", help="the read model: " + ", ".join(READ_MODEL_NAMES))
    rebuild.add_argument("--batch-size", type=int, default=2000, help="records per transaction")
    rebuild.set_defaults(run=_rebuild)

    token = commands.add_parser("token", help="print a signed development token")
    token.add_argument("--sub", required=True, help="user id (becomes the events' actor)")
    token.add_argument(
        "--role", dest="roles", action="append", required=True, help="a role; repeatable"
    )
    token.add_argument("--ttl-minutes", type=int, help="lifetime (default: JWT_TTL_MINUTES)")
    token.set_defaults(run=_token)

    migrate = commands.add_parser("migrate", help="create the schema and tables if missing")
    migrate.set_defaults(run=_migrate)

    parked = commands.add_parser(
        "parked",
        help="records a read model could not apply and set aside (list them; retry by rebuild)",
        description="A projection worker that cannot apply a record parks it with its error and "
        "moves on; the read model is then reported degraded in /ready and /metrics. `list` "
        "shows the parked records of the serving generations; `retry NAME` rebuilds NAME "
        "from the start of the log (blue/green, as `rebuild` does), which applies every record "
        "in order again once the cause is fixed. Exit 0 when nothing is left parked, 1 when "
        "records are (still) parked.",
    ).add_subparsers(required=True, metavar="ACTION")
    parked_list = parked.add_parser("list", help="show the parked records with their errors")
    parked_list.add_argument("name", nargs="?", help="one read model (default: all)")
    parked_list.set_defaults(run=_parked_list)
    parked_retry = parked.add_parser(
        "retry", help="rebuild a read model so its parked records are applied in order"
    )
    parked_retry.add_argument("name", help="the read model: " + ", ".join(READ_MODEL_NAMES))
    parked_retry.add_argument(
        "--batch-size", type=int, default=2000, help="records per transaction"
    )
    parked_retry.set_defaults(run=_parked_retry)

    audit = commands.add_parser("audit", help="audit trail tools").add_subparsers(
        required=True, metavar="ACTION"
    )
    verify = audit.add_parser(
        "verify",
        help="check the audit hash chain against the stored log; prints the result as JSON "
        "(exit 0 intact, 1 tampered, 2 could not verify: configuration or database)",
    )
    verify.set_defaults(run=_audit_verify)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

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
    print(mint_token(settings, args.sub, args.roles, ttl))
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from application.service import PatientServices

    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.registry import prepare_read_models, read_model_factories
    from adapters.storage import ensure_schema, eventsourcing_env

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
    bar = ProgressBar(sys.stderr)
    try:
        result = rebuild(
            database, factories[args.name], batch_size=args.batch_size, progress=bar.update
        )
    except RebuildBusyError as e:
        print(f"patient-services: {e}", file=sys.stderr)
        return 1
    finally:
        bar.close()
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

    from adapters.readmodels.audit_store import AuditReadModel, verify
    from adapters.readmodels.database import EVENTS_FILE, open_read_database
    from adapters.readmodels.registry import prepare_read_models

    if settings.postgres is None and not (settings.var_dir / EVENTS_FILE).exists():
        print(f"patient-services: no event store under {settings.var_dir}", file=sys.stderr)
        return 2
    try:
        database = open_read_database(settings)
        try:
            prepare_read_models(database, [AuditReadModel])
            result = verify(database)
        finally:
            database.close()
    except (psycopg.Error, sqlite3.Error) as e:
        # Exit 1 means "tampered": a store that cannot be read is not evidence of that.
        print(f"patient-services: cannot verify the audit chain: {e}", file=sys.stderr)
        return 2
    print(msgspec.json.encode(result).decode())
    if result.ok:
        return 0
    # Parked records are not tampering: the trail is incomplete until a rebuild applies them.
    return EXIT_AUDIT_INCOMPLETE if result.problem == "parked" else 1


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
    return 1 if total else 0


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
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
