"""``serve``, ``project``, ``token`` and ``migrate``: running the service."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

from adapters.cli.help import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SERVER_NOT_STARTED,
    EXIT_USAGE,
    Commands,
    command,
)
from adapters.cli.listening import ListenerNotStarted
from adapters.readmodels.registry import READ_MODEL_NAMES
from adapters.settings import Settings


def add_serve(commands: Commands) -> None:
    serve = command(
        commands,
        "serve",
        "serve the HTTP API (and, by default, the projection workers)",
        """
        Creates the tables if they are missing, then serves the HTTP API: JSON over HTTP,
        with JWT bearer tokens (see `patient-services token`). The interactive API page is
        at /schema, the OpenAPI document at /schema/openapi.json.

        Unless --no-workers is given, the projection workers, which keep the read models
        current, and the complaint deadline watcher run too: in the one server process, or
        with --workers above 1 once, in a `project` process that serve starts beside the
        HTTP workers (again, should it die) and stops with them.
        Options override the environment variables named with them.

        When MLLP_PORT is set, the HL7 v2 MLLP listener runs too (once, however many worker
        processes serve HTTP; see `patient-services mllp`).
        """,
        [
            (EXIT_OK, "stopped (Ctrl-C or SIGTERM)"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "usage or configuration error"),
            (
                EXIT_SERVER_NOT_STARTED,
                "the HTTP server could not start, for example because the port is in use (or "
                "the MLLP listener could not)",
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


def add_project(commands: Commands) -> None:
    project = command(
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
    # Given by `serve --workers N`, which runs `project` as its child: stop when that
    # parent is gone (even SIGKILLed, which would leave the child running otherwise).
    project.add_argument("--stop-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    project.set_defaults(run=_project)


def add_token(commands: Commands) -> None:
    token = command(
        commands,
        "token",
        "print a signed development token",
        """
        Prints a signed token (a JWT, HS256) on stdout, for trying the API in development:
        send it as `Authorization: Bearer <token>`. Its user id becomes the actor of every
        event recorded with it; its roles (clerk, nurse, clinician, manager, auditor,
        privacy_officer, ...) decide what it may do. Unknown roles are refused.

        It is signed with JWT_SECRET (on SQLite without one, a secret generated once into
        VAR_DIR/jwt_secret) and carries JWT_ISSUER and JWT_AUDIENCE when they are set. For
        development only: with an identity provider configured (OIDC_ISSUER or
        JWT_JWKS_URL) the service takes only the provider's tokens, and this refuses.
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


def add_migrate(commands: Commands) -> None:
    migrate = command(
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


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.http.server import IMPORT_STRING as SERVER_PROTOCOL
    from adapters.logging import configure_logging

    overrides = {k: getattr(args, k) for k in ("host", "port", "workers", "projection_workers")}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    # Each uvicorn worker process reads its settings from the environment again. With
    # several, the projection workers run once, in a child process (see _projections_beside).
    in_http_workers = settings.projection_workers and settings.workers == 1
    os.environ["PROJECTION_WORKERS"] = "1" if in_http_workers else "0"
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
    migrate_tables(settings)
    base = f"http://{settings.host}:{settings.port}"
    screens = f"{base}/ui/"
    if settings.development_sign_in:
        screens += f" (development sign-in; to fill them: {_thiscommand()} seed)"
    print(
        f"Serving patient services on {base}\n"
        f"  screens:              {screens}\n"
        f"  interactive API page: {base}/schema\n"
        f"  get a token:          {_thiscommand()} token --sub alice --role clerk\n"
        "  then send:            Authorization: Bearer <token>",
        file=sys.stderr,
        flush=True,
    )
    try:
        with _mllp_listener_beside(settings), _projections_beside(settings):
            # A factory import string (not an app object) so each worker process builds its
            # own app.
            uvicorn.run(
                "adapters.http.asgi:create",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                log_config=None,  # keep the structlog configuration
                access_log=False,
                server_header=False,
                # httptools, answering malformed requests with problem+json and bounding the
                # request line and headers (MAX_REQUEST_HEAD_BYTES, 16 KiB) with a 431.
                http=SERVER_PROTOCOL,
            )
    except ListenerNotStarted as error:
        print(f"patient-services: {error}", file=sys.stderr)
        return EXIT_SERVER_NOT_STARTED
    return 0


@contextmanager
def _mllp_listener_beside(settings: Settings) -> Iterator[None]:
    """The MLLP listener (when MLLP_PORT is set) for as long as uvicorn serves.

    It runs in a thread of *this* process, with its own event loop and application: with
    WORKERS=1 that is the HTTP server's process, with WORKERS>1 uvicorn's supervisor, which
    spawns the HTTP workers (fresh interpreters that never run this function) and stays
    until they stop. Either way exactly one listener runs, whatever WORKERS is, without a
    process of our own to start, watch and stop: it starts before uvicorn (so a port in use
    fails the start) and stops after uvicorn returns, answering the messages in hand first.
    """
    if settings.mllp_port is None:
        yield
        return
    from adapters.cli.listening import listening_line, running_listener
    from adapters.composition import open_services

    services = open_services(settings)
    try:
        with _outliving_uvicorn(), running_listener(settings, services) as listener:
            print(f"  {listening_line(settings, listener.port)}", file=sys.stderr, flush=True)
            yield
    finally:
        services.close()


@contextmanager
def _outliving_uvicorn() -> Iterator[None]:
    """uvicorn takes SIGINT/SIGTERM while it serves, and when it has shut down raises the
    signal again under the handlers it found: these, so the process does not die (SIGTERM's
    default) before what runs beside uvicorn has stopped gracefully."""
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _projections_beside(settings: Settings) -> Iterator[None]:
    """With WORKERS > 1, runs ``patient-services project`` (the projection workers and the
    deadline watcher) once, as a child process, for as long as uvicorn serves. In an HTTP
    worker, a batch of the read models (most of them the access records of the reads just
    served) held the interpreter lock against that process's requests; in this process it
    would hold it against the MLLP listener. A child that dies is started again (the read
    models resume from their tracking rows); a child whose serve dies, even by SIGKILL,
    stops itself (--stop-with-parent). With WORKERS=1 they stay in the one process
    (started by the app, as before); with --no-workers, in none (`project` runs them)."""
    if not settings.projection_workers or settings.workers == 1:
        yield
        return
    child = _ProjectionChild()
    child.start()
    try:
        with _outliving_uvicorn():
            yield
    finally:
        child.stop()


class _ProjectionChild:
    """``patient-services project`` in a child process, kept running until :meth:`stop`."""

    #: How long a stopping child may take (its workers finish their batch) before SIGKILL.
    STOP_SECONDS = 20.0
    #: The wait before a child that died is started again.
    RESTART_SECONDS = 1.0

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher = threading.Thread(target=self._watch, name="projection-child", daemon=True)

    def start(self) -> None:
        self._process = self._spawn()
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # The same interpreter and environment (so the same settings), this package's CLI.
        # A session of its own: a terminal's Ctrl-C reaches serve, which stops it (after
        # uvicorn), not the child first, which would look like a death to restart from.
        command = [sys.executable, "-m", "adapters.cli", "project"]
        return subprocess.Popen(
            [*command, "--stop-with-parent", str(os.getpid())], start_new_session=True
        )

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is None or process.poll() is None:
                self._stopping.wait(0.5)
                continue
            print(
                f"patient-services: the projection workers' process exited ({process.returncode});"
                " starting it again",
                file=sys.stderr, flush=True,
            )  # fmt: skip
            if self._stopping.wait(self.RESTART_SECONDS):
                return
            self._process = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(5)
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(self.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ignore(signum: int, frame: object) -> None:
    """Stands in for SIGINT/SIGTERM's defaults around uvicorn (see above)."""


def _thiscommand() -> str:
    # As the user can type it: `make run` starts .venv/bin/patient-services, not on PATH.
    script = sys.argv[0]
    on_path = shutil.which("patient-services") == os.path.abspath(script)
    if os.path.basename(script) != "patient-services" or on_path:
        return "patient-services"
    relative = os.path.relpath(script)
    return script if relative.startswith("..") else relative


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.auth_tokens import mint_token
    from application.shared.permissions import ROLES

    ttl = timedelta(minutes=args.ttl_minutes) if args.ttl_minutes is not None else None
    if ttl is not None and ttl <= timedelta(0):
        print("patient-services: --ttl-minutes must be positive", file=sys.stderr)
        return 2
    unknown = [role for role in args.roles if role not in ROLES]
    if unknown:
        print(
            f"patient-services: unknown role {', '.join(unknown)}: expected one of "
            f"{', '.join(sorted(ROLES))}",
            file=sys.stderr,
        )
        return 2
    try:
        token = mint_token(settings, args.sub, args.roles, ttl)
    except ValueError as e:  # a subject or role the service would refuse, or a huge ttl
        print(f"patient-services: {e}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    migrate_tables(settings)
    return 0


def migrate_tables(settings: Settings) -> None:
    """Create what is missing and say where (``serve``, ``project`` and ``rebuild`` too)."""
    from adapters.composition import migrate

    migrate(settings)
    postgres = settings.postgres
    where = (
        f"PostgreSQL database {postgres.dbname}, schema {postgres.schema or 'public'}"
        if postgres
        else f"SQLite under {settings.var_dir}"
    )
    print(f"patient-services: tables ready in {where}", file=sys.stderr)


def _stop_when_orphaned(parent_pid: int, stop: Callable[[], None]) -> None:
    """Calls ``stop`` once this process's parent is no longer ``parent_pid`` (it died and
    the process was handed to another, such as init)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _project(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from adapters.composition import start_runtime
    from adapters.logging import configure_logging

    configure_logging(settings)
    migrate_tables(settings)
    runtime = start_runtime(settings, workers=False)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runtime.supervisor.request_stop())
    print(
        "patient-services: projection workers and the deadline watcher running (Ctrl-C stops)",
        file=sys.stderr,
    )
    if args.stop_with_parent is not None:
        _stop_when_orphaned(args.stop_with_parent, runtime.supervisor.request_stop)
    runtime.supervisor.start()
    try:
        runtime.supervisor.wait()
    finally:
        runtime.stop()
    return 0
