"""Visit commands over HTTP vs the bare ``Application.save()`` of the same events.

    python -m bench.visits [--seconds 20] [--connections 32] [--workers 1]
                           [--batch-intervals 20,100]

Both phases run in one process invocation against PostgreSQL (each in a fresh schema),
so the ratio compares like with like on the same machine at the same moment:

* **bare save**: ``--connections`` threads each walk visits through the same five
  commands in memory and ``save()`` after each one — one event per transaction, no
  HTTP, no auth, no idempotency record, no reload;
* **HTTP**: ``patient-services serve`` in a subprocess, ``--connections`` keep-alive
  connections each walking visits through ``POST /visits``, ``/arrive``, ``/triage``,
  ``/clinician-contact``, ``/discharge``, each with its own ``Idempotency-Key``, as a
  well-behaved client would send.

The two paths alternate for ``--rounds`` rounds (the server stays up), so the drift of a
shared machine hits both alike. ``--batch-intervals`` starts one server per value of
``PROJECTION_BATCH_INTERVAL_MS`` (each on its own schema) and measures each in every round.
Prints commands/s, p50/p99 latency, the HTTP/bare ratio of
each round and their median, and the server's CPU time per command; writes the figures as
JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from bench.http_client import Connection

SECRET = "bench-secret-bench-secret-bench-secret"
PG: dict[str, Any] = dict(host="127.0.0.1", port=5432, user="postgres", dbname="test")
RESULTS = Path(__file__).parent / "results"
#: The events table of a store named as bench's stores are (``APPLICATION_NAME`` + _events).
APPLICATION_EVENTS_TABLE = "patient_services_events"


@dataclass
class Figures:
    name: str
    commands: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float


def summarise(name: str, latencies: list[float], errors: int, seconds: float) -> Figures:
    ordered = sorted(latencies)

    def rank(p: float) -> float:  # nearest rank
        return ordered[max(0, int(round(p * len(ordered))) - 1)] * 1000 if ordered else float("nan")

    return Figures(
        name, len(ordered), errors, seconds, len(ordered) / seconds, rank(0.50), rank(0.99)
    )


def fresh_schema(label: str) -> str:
    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(schema: str) -> None:
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


#: The key-encryption key of the benchmark's stores (PostgreSQL needs one set).
KEK = "YmVuY2gtb25seS1rZXktZW5jcnlwdGlvbi1rZXkhISE"


def database_url(schema: str) -> str:
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{PG['dbname']}?schema={schema}"


# ---- bare save ------------------------------------------------------------------------
def bare_services(schema: str, pool_size: int):  # type: ignore[no-untyped-def]
    from adapters.settings import Settings
    from adapters.storage import ensure_schema, eventsourcing_env
    from application.service import PatientServices

    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url(schema),
            "JWT_SECRET": SECRET,
            "POSTGRES_POOL_SIZE": str(pool_size),
        }
    )
    ensure_schema(settings)
    return PatientServices(env=eventsourcing_env(settings))


def run_bare(app, seconds: float, threads: int) -> Figures:  # type: ignore[no-untyped-def]
    from domain.shared.envelope import Envelope, recording
    from domain.visits.visit import PatientVisit

    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        now = datetime.now(timezone.utc)
        envelope = Envelope(
            actor_id="bench", actor_role="clerk", command_id=uuid.uuid4(),
            correlation_id="bench", occurred_at=now,
        )  # fmt: skip
        steps = [
            lambda v: v.register_arrival(at=now),
            lambda v: v.record_triage(acuity_scale="ESI", acuity_level=3, at=now),
            lambda v: v.start_clinician_contact(clinician_ref="dr-1", at=now),
            lambda v: v.discharge(disposition="home", at=now),
        ]
        with recording(envelope):
            while time.perf_counter() < stop_at:
                visit = PatientVisit.schedule(
                    patient_ref=f"P{i}", visit_class="EMER", service_unit="ED",
                    scheduled_start=now, at=now,
                )  # fmt: skip
                for step in [None, *steps]:
                    if step is not None:
                        step(visit)
                    started = time.perf_counter()
                    try:
                        app.save(visit)
                    except Exception:  # noqa: BLE001 - counted, the run goes on
                        errors[i] += 1
                        break
                    latencies[i].append(time.perf_counter() - started)

    begun = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - begun
    return summarise(
        "bare Application.save()", [x for xs in latencies for x in xs], sum(errors), elapsed
    )


# ---- pgbench: the locked insert alone ---------------------------------------------------
#: One command's write as the recorder sends it, without the application: take the table
#: lock, notify, insert one event row (about the size of a visit event), commit. (No colon
#: in the text: pgbench reads ``:name`` as a variable.)
PGBENCH_SCRIPT = """BEGIN;
SET LOCAL lock_timeout = '0s';
LOCK TABLE {table} IN EXCLUSIVE MODE;
NOTIFY "pgbench_anchor";
INSERT INTO {table} (originator_id, originator_version, topic, state)
  VALUES (gen_random_uuid(), 1, 'bench.PgbenchAnchor', decode(repeat('7b', 600), 'hex'));
COMMIT;
"""


#: Connections left free for the servers' pools to grow into while pgbench runs.
PGBENCH_SPARE_CONNECTIONS = 10


def run_pgbench(schema: str, seconds: float, clients: int) -> Figures | None:
    """``pgbench`` running :data:`PGBENCH_SCRIPT` against the bare schema's events table
    with ``clients`` connections: the ceiling of one-event transactions under the table
    lock on this machine. None (said so in the report) where pgbench is not installed."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        return None
    table = f'"{schema}"."{APPLICATION_EVENTS_TABLE}"'
    # The servers' pools stay open beside it: take only the connections the server has left
    # (the lock serialises the inserts, so a few clients fewer do not lower the ceiling).
    with psycopg.connect(**PG, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity)"
        ).fetchone()
    clients = max(1, min(clients, (row[0] if row else clients) - PGBENCH_SPARE_CONNECTIONS))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT.format(table=table))
    try:
        done = subprocess.run(
            [
                pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                "-T", str(max(1, round(seconds))), "-f", script.name, "-r",
                "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], PG["dbname"],
            ],
            capture_output=True, text=True,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = re.search(r"^tps = ([0-9.]+)", done.stdout, re.MULTILINE)
    count = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", done.stdout)
    if tps is None or count is None:
        raise RuntimeError(f"pgbench printed no rate:\n{done.stdout}\n{done.stderr}")
    mean = float(latency.group(1)) if latency else float("nan")
    # pgbench prints the mean latency, not percentiles: both columns show the mean.
    return Figures(
        f"pgbench locked insert, {clients} clients", int(count.group(1)),
        int(failed.group(1)) if failed else 0, seconds, float(tps.group(1)), mean, mean,
    )  # fmt: skip


# ---- HTTP -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    schema: str, port: int, workers: int, pool_size: int, batch_interval_ms: int | None = None
) -> subprocess.Popen[bytes]:
    interval = {} if batch_interval_ms is None else {
        "PROJECTION_BATCH_INTERVAL_MS": str(batch_interval_ms)
    }  # fmt: skip
    env = {
        **os.environ,
        **interval,
        "DATABASE_URL": database_url(schema),
        "JWT_SECRET": SECRET,
        "PRIVACY_KEK": KEK,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "POSTGRES_POOL_SIZE": str(pool_size),
    }
    command = [
        sys.executable,
        "-m",
        "adapters.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    # A file, not a pipe: nobody reads a pipe during the run, and a full one would stall the server.
    RESULTS.mkdir(exist_ok=True)
    log = open(RESULTS / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited; see {RESULTS}/server-{port}.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("server did not become ready in 60 s")


def mint(sub: str, roles: list[str]) -> str:
    from adapters.auth_tokens import mint_token
    from adapters.settings import Settings

    settings = Settings.from_env({"JWT_SECRET": SECRET, "DATABASE_URL": "postgresql://x@h/d"})
    return mint_token(settings, sub, roles, timedelta(hours=2))


async def drive_http(
    port: int, seconds: float, connections: int, token: str
) -> tuple[list[float], int]:
    decoder = msgspec.json.Decoder(dict)
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    auth = f"Bearer {token}"

    async def one_connection(i: int) -> None:
        nonlocal errors
        conn = Connection("127.0.0.1", port)
        await conn.open()
        try:
            while time.perf_counter() < stop_at:
                start = datetime.now(timezone.utc).isoformat()
                journey = [
                    (
                        "/api/v1/visits",
                        {
                            "patientRef": f"P{i}",
                            "visitClass": "EMER",
                            "serviceUnit": "ED",
                            "scheduledStart": start,
                        },
                    ),
                    ("/arrive", {}),
                    ("/triage", {"acuityScale": "ESI", "acuityLevel": 3}),
                    ("/clinician-contact", {"clinicianRef": "dr-1"}),
                    ("/discharge", {"disposition": "home"}),
                ]
                visit_path = ""
                for path, body in journey:
                    headers = {"Authorization": auth, "Idempotency-Key": uuid.uuid4().hex}
                    began = time.perf_counter()
                    reply = await conn.request(
                        "POST",
                        (visit_path + path) if visit_path else path,
                        msgspec.json.encode(body),
                        headers,
                    )
                    if reply.status not in (200, 201):
                        errors += 1
                        break
                    latencies.append(time.perf_counter() - began)
                    if not visit_path:
                        visit_path = f"/api/v1/visits/{decoder.decode(reply.body)['id']}"
        finally:
            await conn.close()

    await asyncio.gather(*(one_connection(i) for i in range(connections)))
    return latencies, errors


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), to report server CPU per command."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(server: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [server.pid, *kids]


def run_http(
    port: int,
    server: subprocess.Popen[bytes],
    seconds: float,
    connections: int,
    token: str,
    label: str,
) -> tuple[Figures, float]:
    pids = server_pids(server)
    cpu_before = cpu_seconds(pids)
    begun = time.perf_counter()
    latencies, errors = asyncio.run(drive_http(port, seconds, connections, token))
    elapsed = time.perf_counter() - begun
    cpu = cpu_seconds(pids) - cpu_before
    figures = summarise(label, latencies, errors, elapsed)
    return figures, (cpu / figures.commands * 1000 if figures.commands else float("nan"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.visits", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="measured seconds per phase and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="bare/HTTP rounds, interleaved")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections / threads"
    )
    # 2: the service scales out as stateless processes, and on this 2-core machine two
    # measured best (one leaves a core to PostgreSQL and the load generator but caps the
    # server at one core; three thrash).
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--pool-size", type=int, default=10, help="PostgreSQL pool per process")
    parser.add_argument(
        "--batch-intervals",
        default="",
        help="PROJECTION_BATCH_INTERVAL_MS values, comma-separated, one server each "
        "(default: the setting's default, one server)",
    )
    args = parser.parse_args(argv)
    intervals: list[int | None] = [
        int(value) for value in args.batch_intervals.split(",") if value.strip()
    ] or [None]

    schemas = [fresh_schema("bare")]
    servers: list[tuple[int | None, int, subprocess.Popen[bytes]]] = []
    app = None
    rounds: list[tuple[Figures, Figures, float]] = []
    anchors: list[Figures | None] = []
    label = f"HTTP ({args.workers} worker{'s' if args.workers > 1 else ''})"
    try:
        app = bare_services(schemas[0], args.pool_size)
        token = mint("bench", ["clerk", "nurse", "clinician"])
        # Before and after the servers: their pools leave PostgreSQL too few connections
        # for pgbench's clients.
        anchors.append(run_pgbench(schemas[0], args.seconds, args.connections))
        run_bare(app, 2.0, args.connections)  # warm-up: imports, pool
        http_schemas = {interval: fresh_schema("http") for interval in intervals}
        schemas += http_schemas.values()
        # Interleaved rounds: the machine's drift (a shared VM) hits both paths alike. With
        # several intervals, one server at a time (each on its own schema, started again in
        # each round): two servers' pools would not fit in PostgreSQL's connections.
        for _ in range(args.rounds):
            for interval, schema in http_schemas.items():
                port = free_port()
                server = start_server(schema, port, args.workers, args.pool_size, interval)
                servers = [(interval, port, server)]
                asyncio.run(drive_http(port, 2.0, args.connections, token))  # warm-up
                bare = run_bare(app, args.seconds, args.connections)
                path = label if interval is None else f"{label}, interval {interval} ms"
                http, cpu_ms = run_http(port, server, args.seconds, args.connections, token, path)
                rounds.append((bare, http, cpu_ms))
                stop_servers(servers)
        anchors.append(run_pgbench(schemas[0], args.seconds, args.connections))
    finally:
        if app is not None:
            app.close()
        stop_servers(servers)
        for schema in schemas:
            drop_schema(schema)

    report(args, rounds, anchors, per_round=len(intervals))
    return 0


def stop_servers(servers: list[tuple[int | None, int, subprocess.Popen[bytes]]]) -> None:
    for _, _, server in servers:
        if server.poll() is not None:
            continue
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def report(
    args: argparse.Namespace,
    rounds: list[tuple[Figures, Figures, float]],
    anchors: list[Figures | None],
    per_round: int = 1,
) -> None:
    print(
        f"\nvisit commands on PostgreSQL: {args.connections} concurrent, {args.rounds} rounds of "
        f"{args.seconds:.0f} s per path, {os.cpu_count()} cores"
    )
    print(
        f"{'round':<7}{'path':<42}{'commands':>9}{'errors':>7}{'cmd/s':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'/bare':>7}{'CPU ms':>8}"
    )

    def line(i: int | str, f: Figures, bare: Figures, cpu_ms: float | None) -> None:
        ratio = "" if f is bare else f"{f.per_second / bare.per_second:>7.0%}"
        cpu = "" if cpu_ms is None else f"{cpu_ms:>8.2f}"
        print(
            f"{i!s:<7}{f.name:<42}{f.commands:>9}{f.errors:>7}{f.per_second:>7.0f}{f.p50_ms:>8.1f}{f.p99_ms:>8.1f}{ratio:>7}{cpu}"
        )

    for i, (bare, http, cpu_ms) in enumerate(rounds):
        round_number = i // per_round + 1
        line(round_number, bare, bare, None)
        line(round_number, http, bare, cpu_ms)
    for when, anchor in zip(("before", "after"), anchors, strict=False):
        if anchor is not None:
            line(when, anchor, anchor, None)
    print("CPU ms: the server's CPU time per command; pgbench: before and after the rounds")
    ceilings = [a.per_second for a in anchors if a is not None]
    if not ceilings:
        print("pgbench is not installed: no locked-insert ceiling in this run")
    by_path: dict[str, list[float]] = {}
    for bare, http, _ in rounds:
        by_path.setdefault(http.name, []).append(http.per_second / bare.per_second)
    for name, path_ratios in by_path.items():
        rates = [h.per_second for _, h, _ in rounds if h.name == name]
        print(
            f"{name}: median {statistics.median(rates):.0f} cmd/s, "
            f"{statistics.median(path_ratios):.0%} of bare save "
            "(targets: >= 1,000 cmd/s and >= 150%)"
            + (
                f", {statistics.median(rates) / statistics.median(ceilings):.0%} of the "
                f"pgbench ceiling ({statistics.median(ceilings):.0f}/s)"
                if ceilings else ""
            )
        )  # fmt: skip
    ratios = [r for path_ratios in by_path.values() for r in path_ratios]
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"visits-{stamp}.json"
    figures = {
        "args": vars(args),
        "rounds": [
            {"bare": asdict(b), "http": asdict(h), "server_cpu_ms_per_command": c}
            for b, h, c in rounds
        ],
        "median_ratio": statistics.median(ratios),
        "median_ratio_by_path": {k: statistics.median(v) for k, v in by_path.items()},
        "pgbench_locked_insert": [None if a is None else asdict(a) for a in anchors],
    }
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures written to {out}")


if __name__ == "__main__":
    sys.exit(main())
