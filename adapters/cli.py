"""The ``patient-services`` command: ``serve``, ``token`` and ``migrate``.

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
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="print a signed development token")
    token.add_argument("--sub", required=True, help="user id (becomes the events' actor)")
    token.add_argument(
        "--role", dest="roles", action="append", required=True, help="a role; repeatable"
    )
    token.add_argument("--ttl-minutes", type=int, help="lifetime (default: JWT_TTL_MINUTES)")
    token.set_defaults(run=_token)

    migrate = commands.add_parser("migrate", help="create the schema and tables if missing")
    migrate.set_defaults(run=_migrate)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.logging import configure_logging

    overrides = {k: getattr(args, k) for k in ("host", "port", "workers")}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
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

    from adapters.storage import ensure_schema, eventsourcing_env

    ensure_schema(settings)
    # Constructing the application with CREATE_TABLE=y creates its tables, type and index.
    PatientServices(env={**eventsourcing_env(settings), "CREATE_TABLE": "y"}).close()
    postgres = settings.postgres
    where = (
        f"PostgreSQL database {postgres.dbname}, schema {postgres.schema or 'public'}"
        if postgres
        else f"SQLite under {settings.var_dir}"
    )
    print(f"patient-services: tables ready in {where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
