"""Read side on PostgreSQL: projection catch-up rate and flow-board latency, in one run.

    python -m bench.projections [--events 210000] [--rounds 3] [--seconds 15] [--keep]

In a fresh schema (dropped afterwards unless ``--keep``):

1. **populate** a store of ``--events`` events of interleaved PatientVisit traffic through
   the domain's commands and ``PatientServices.save()`` (many aggregates per save; see
   :mod:`bench.traffic`), and report that rate;
2. **catch-up**, ``--rounds`` rounds, interleaved so a shared machine's drift hits all alike:
   each read model (``flow``, ``audit``) caught up from zero by
   ``ProjectionWorker(batch_size=2000).catch_up`` (round 1 fills the active generation the
   server then uses; later rounds a scratch generation, dropped after), and the library's
   ``ProjectionRunner`` (one event per transaction, an audit INSERT + the tracking insert;
   :mod:`bench.library_runner`) for ``--library-seconds``;
3. **rebuild** of each read model into a new generation with ``--extra-batch-sizes``
   (records/s as ``patient-services rebuild`` shows it), then ``audit verify`` over the
   whole log once a round (records/s);
4. **board**: ``patient-services serve`` in a subprocess on that schema, then
   ``--connections`` keep-alive connections sending ``GET /api/v1/flow/board?unit=<the
   busiest unit>`` as a nurse for ``--seconds``, ``--rounds`` times.

Prints the figures beside the targets (catch-up >= 20,000 records/s; audit verify >= 100,000
records/s; board p99 <= 20 ms) and writes them as JSON under ``bench/results/`` (git-ignored).
``--profile`` adds a cProfile of one more catch-up of each read model.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg

from bench.http_client import Connection
from bench.visits import (
    KEK,
    PG,
    RESULTS,
    SECRET,
    cpu_seconds,
    database_url,
    drop_schema,
    free_port,
    fresh_schema,
    mint,
    server_pids,
    start_server,
)

if TYPE_CHECKING:  # imported at run time inside the functions, after the settings
    from adapters.readmodels.database import ReadDatabase

CATCH_UP_TARGET = 20_000  # records/s
#: The board is measured as browsers ask for it (gzip) and as a client that cannot inflate.
ENCODINGS: tuple[str | None, ...] = ("gzip", None)
P99_TARGET_MS = 20.0
#: Scratch generations for the rounds after the first (far above any real one).
SCRATCH_GENERATION = 1000


#: ``audit verify``: records of the log rechecked per second.
VERIFY_TARGET = 100_000


# ---- setup ------------------------------------------------------------------------------
def settings_for(schema: str, pool_size: int):  # type: ignore[no-untyped-def]
    from adapters.settings import Settings

    return Settings.from_env(
        {
            "DATABASE_URL": database_url(schema),
            "JWT_SECRET": SECRET,
            "PRIVACY_KEK": KEK,
            "POSTGRES_POOL_SIZE": str(pool_size),
        }
    )


def populate_store(settings, args: argparse.Namespace) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from adapters.storage import ensure_schema, eventsourcing_env
    from application.service import PatientServices
    from bench.traffic import populate

    ensure_schema(settings)
    app = PatientServices(env=eventsourcing_env(settings))
    last = [time.monotonic()]

    def progress(stats) -> None:  # type: ignore[no-untyped-def]
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            print(f"  populating: {stats.events:,} events", file=sys.stderr, flush=True)

    try:
        stats = populate(
            app, events=args.events, live=args.live, chunk=args.chunk, seed=args.seed,
            progress=progress,
        )  # fmt: skip
    finally:
        app.close()
    return {
        "events": stats.events,
        "visits": stats.visits,
        "command_records": stats.command_records,
        "rounds": stats.rounds,
        "saves": stats.saves,
        "refused": stats.refused,
        "seconds": stats.seconds,
        "save_seconds": stats.save_seconds,
        "per_second": stats.rate,
        "chunk": args.chunk,
        "by_type": dict(stats.by_type.most_common()),
        "active_by_unit": dict(sorted(stats.active_by_unit.items())),
    }


def reset_read_models(database, names: list[str], schema: str) -> None:  # type: ignore[no-untyped-def]
    """For ``--schema``: forget every generation of the read models and the library's view,
    so each is measured from zero again."""
    from adapters.readmodels import tracking as tr
    from adapters.readmodels.registry import read_model_factories
    from bench.library_runner import PROJECTION_NAME

    factories = read_model_factories()
    with database.worker_connection() as conn, conn.transaction() as tx:
        tr.create_tracking_tables(tx)
        for name in names:
            model = factories[name]()
            rows = tx.execute("SELECT generation FROM read_model_tracking WHERE name = ?", (name,))
            for (generation,) in rows:
                model.drop_tables(tx, tr.table_prefix(name, generation))
                tr.forget_generation(tx, name, generation)
            tx.execute("DELETE FROM read_model_generations WHERE name = ?", (name,))
    with psycopg.connect(**PG, autocommit=True) as conn:
        for table in (f"{PROJECTION_NAME}_entries", f"{PROJECTION_NAME}_tracking"):
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')


# ---- catch-up ---------------------------------------------------------------------------
@dataclass
class CatchUp:
    model: str
    batch_size: int
    generation: int
    records: int
    applied: int
    batches: int
    seconds: float
    per_second: float


def time_catch_up(
    database: ReadDatabase,
    name: str,
    factory: Callable[[], Any],
    batch_size: int,
    generation: int | None,
    profile: cProfile.Profile | None = None,
) -> CatchUp:
    """``ProjectionWorker.catch_up`` from zero (its loop, to count what was applied too)."""
    from adapters.readmodels import tracking as tr
    from adapters.readmodels.worker import MAX_BATCH_SIZE, ProjectionWorker

    # As the live workers run: batches double while behind, up to MAX_BATCH_SIZE.
    worker = ProjectionWorker(
        database, factory, generation=generation, batch_size=batch_size,
        max_batch_size=max(batch_size, MAX_BATCH_SIZE),
    )  # fmt: skip
    with database.worker_connection() as conn:
        if not conn.try_lead(worker.lock_name):
            raise RuntimeError(f"{worker.lock_name} is led by another worker")
        read = applied = batches = 0
        last_generation = generation or 0
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        while (outcome := worker.step(conn)).read:
            read += outcome.read
            applied += outcome.applied
            batches += 1
            last_generation = outcome.generation
        elapsed = time.perf_counter() - started
        if profile is not None:
            profile.disable()
        if generation is not None:  # a scratch generation: measured, then dropped
            with conn.transaction() as tx:
                worker.model.drop_tables(tx, tr.table_prefix(name, generation))
                tr.forget_generation(tx, name, generation)
    return CatchUp(name, batch_size, last_generation, read, applied, batches, elapsed,
                   read / elapsed if elapsed else 0.0)  # fmt: skip


@dataclass
class Rebuilt:
    model: str
    batch_size: int
    generation: int
    records: int
    seconds: float
    per_second: float


def time_rebuild(database, name: str, factory: Callable[[], Any], batch_size: int) -> Rebuilt:  # type: ignore[no-untyped-def]
    from adapters.readmodels.rebuild import rebuild

    result = rebuild(database, factory, batch_size=batch_size, drop_grace=0.0)
    return Rebuilt(name, batch_size, result.generation, result.records, result.seconds,
                   result.records / result.seconds if result.seconds else 0.0)  # fmt: skip


# ---- the board --------------------------------------------------------------------------
@dataclass
class Board:
    requests: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    cpu_ms_per_request: float  # the server's
    db_cpu_ms_per_request: float  # PostgreSQL's (all its processes)
    client_cpu_ms_per_request: float  # this load generator's


def rank(ordered: list[float], p: float) -> float:
    """Nearest rank, in ms."""
    if not ordered:
        return float("nan")
    return ordered[max(0, int(round(p * len(ordered))) - 1)] * 1000


async def drive_board(
    port: int, path: str, seconds: float, connections: int, token: str,
    accept_encoding: str | None = None,
) -> tuple[list[float], int, int]:  # fmt: skip
    """Closed loop on ``connections`` keep-alive connections. With ``accept_encoding``
    (``gzip``, as browsers send) the body is received compressed and not inflated: the
    latency is the server's answer to the last byte; inflating is the client's own work."""
    latencies: list[float] = []
    errors = 0
    body_bytes = 0
    headers = {"Authorization": f"Bearer {token}"}
    if accept_encoding:
        headers["Accept-Encoding"] = accept_encoding
    stop_at = time.perf_counter() + seconds

    async def one_connection() -> None:
        nonlocal errors, body_bytes
        conn = Connection("127.0.0.1", port)
        await conn.open()
        try:
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                try:
                    reply = await conn.request("GET", path, b"", headers)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    await conn.close()
                    conn = Connection("127.0.0.1", port)
                    await conn.open()
                    continue
                if reply.status != 200:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - began)
                body_bytes = len(reply.body)
        finally:
            await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, errors, body_bytes


def run_board(
    port: int, server: subprocess.Popen[bytes], path: str, seconds: float, connections: int,
    token: str, accept_encoding: str | None = None,
) -> tuple[Board, list[float], int]:  # fmt: skip
    pids = server_pids(server)
    db_pids = postgres_pids()
    cpu_before, db_before, client_before = cpu_seconds(pids), cpu_seconds(db_pids), _own_cpu()
    begun = time.perf_counter()
    latencies, errors, body_bytes = asyncio.run(
        drive_board(port, path, seconds, connections, token, accept_encoding)
    )
    elapsed = time.perf_counter() - begun
    cpu = cpu_seconds(pids) - cpu_before
    db_cpu = cpu_seconds(db_pids) - db_before
    client_cpu = _own_cpu() - client_before
    ordered = sorted(latencies)
    n = len(ordered)
    board = Board(
        n, errors, elapsed, n / elapsed, rank(ordered, 0.5), rank(ordered, 0.99),
        rank(ordered, 0.999), *(x / n * 1000 if n else float("nan")
                                 for x in (cpu, db_cpu, client_cpu)),
    )  # fmt: skip
    return board, ordered, body_bytes


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (Linux /proc), to report its CPU per request."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def wait_caught_up(port: int, names: list[str], timeout: float = 300.0) -> dict[str, Any]:
    """Poll ``/ready`` until every named read model reports no lag."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as reply:
            status = msgspec.json.decode(reply.read())
        lags = {m["name"]: m["lagEvents"] for m in status.get("readModels") or []}
        if all(lags.get(name) == 0 for name in names):
            return status
        time.sleep(0.5)
    raise RuntimeError(f"read models not caught up after {timeout:.0f} s: {status}")


def _board_key(encoding: str | None) -> str:
    return "board" if encoding == "gzip" else "board_identity"


def first_reply(
    port: int, path: str, token: str, accept_encoding: str = "identity"
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": accept_encoding},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            body = reply.read()
            if reply.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return reply.status, body
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def measure_board(
    args: argparse.Namespace, server: subprocess.Popen[bytes], port: int, unit: str,
    names: list[str],
) -> dict[str, Any]:  # fmt: skip
    figures: dict[str, Any] = {"ready": wait_caught_up(port, names), "board_unit": unit}
    path = f"/api/v1/flow/board?unit={unit}"
    token = mint("bench-nurse", ["nurse"])
    status, body = first_reply(port, path, token)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
    figures["board_body_bytes"] = len(body)
    # The gzip answer must be the same board (its minutes may be a second apart).
    _, inflated = first_reply(port, path, token, "gzip")
    same = [u["unit"] for u in msgspec.json.decode(inflated)["units"]]
    if same != [u["unit"] for u in msgspec.json.decode(body)["units"]]:
        raise RuntimeError("the gzip board differs from the plain one")
    for encoding in ENCODINGS:  # warm-up
        asyncio.run(drive_board(port, path, 2.0, args.connections, token, encoding))
    for encoding in ENCODINGS:
        figures[_board_key(encoding)] = []
    pooled: dict[str | None, list[float]] = {encoding: [] for encoding in ENCODINGS}
    for round_ in range(1, args.rounds + 1):
        for encoding in ENCODINGS:  # interleaved, so drift hits both alike
            print(f"round {round_}: board ({encoding or 'identity'}) ...", file=sys.stderr,
                  flush=True)  # fmt: skip
            board, ordered, size = run_board(
                port, server, path, args.seconds, args.connections, token, encoding
            )
            figures[_board_key(encoding)].append({**asdict(board), "body_bytes": size})
            pooled[encoding].extend(ordered)
    for encoding, latencies in pooled.items():
        latencies.sort()
        figures[_board_key(encoding) + "_pooled"] = {
            "requests": len(latencies),
            "p50_ms": rank(latencies, 0.5),
            "p99_ms": rank(latencies, 0.99),
            "p999_ms": rank(latencies, 0.999),
        }
    # The floor this machine and load generator set: the same connections on GET /health (no
    # token, no database, a few bytes), so the board's latency can be read against it.
    print("health floor ...", file=sys.stderr, flush=True)
    floor, _, _ = run_board(port, server, "/health", args.seconds, args.connections, token)
    figures["health_floor"] = asdict(floor)
    return figures


# ---- the cost of access records -----------------------------------------------------------
#: The board's p99 with access recording may be at most this many times the p99 without.
ACCESS_COST_TARGET = 1.5


def unrecorded_app():  # type: ignore[no-untyped-def]
    """uvicorn factory: the app as ``serve`` builds it, but without the access recorder,
    for the figure without recording (the composition root's parameter; no setting can)."""
    from adapters.http.app import create_app
    from adapters.logging import configure_logging
    from adapters.settings import Settings

    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    return create_app(settings, access_recording=False)


def serve_unrecorded(port: int, workers: int) -> None:
    """What ``serve`` runs, on :func:`unrecorded_app` (run in a subprocess)."""
    import uvicorn

    from adapters.http.server import IMPORT_STRING

    uvicorn.run(
        "bench.projections:unrecorded_app", factory=True, host="127.0.0.1", port=port,
        workers=workers, log_config=None, access_log=False, server_header=False,
        http=IMPORT_STRING,
    )  # fmt: skip


def start_unrecorded_server(
    schema: str, port: int, workers: int, pool_size: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(schema),
        "JWT_SECRET": SECRET,
        "PRIVACY_KEK": KEK,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "POSTGRES_POOL_SIZE": str(pool_size),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    code = f"import bench.projections as b; b.serve_unrecorded({port}, {workers})"
    log = open(RESULTS / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited; see {RESULTS}/server-{port}.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server without access recording did not become ready in 60 s")


def access_counts(port: int) -> dict[str, float]:
    """``access_records_saved_total`` and ``access_records_dropped_total`` of a server."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    counts = {"saved": 0.0, "dropped": 0.0}
    for line in text.splitlines():
        for key in counts:
            if line.startswith(f"access_records_{key}_total"):
                counts[key] += float(line.rsplit(" ", 1)[1])
    return counts


def measure_access_cost(
    args: argparse.Namespace, recorded: subprocess.Popen[bytes], port: int, unit: str,
    names: list[str], schema: str,
) -> dict[str, Any]:  # fmt: skip
    """The board (gzip, as browsers ask) on the server that records accesses (``serve``)
    and on one built without the recorder, rounds interleaved (the order alternating), each
    after the read models have caught up with the accesses of the round before."""
    other = free_port()
    print(f"starting the server without access recording (port {other}) ...", file=sys.stderr,
          flush=True)  # fmt: skip
    unrecorded = start_unrecorded_server(schema, other, args.workers, args.pool_size)
    path = f"/api/v1/flow/board?unit={unit}"
    token = mint("bench-nurse", ["nurse"])
    rounds: dict[str, list[dict[str, Any]]] = {"with": [], "without": []}
    saved_before = access_counts(port)
    try:
        asyncio.run(drive_board(other, path, 2.0, args.connections, token, "gzip"))  # warm-up
        for round_ in range(1, args.rounds + 1):
            order = ("with", "without") if round_ % 2 else ("without", "with")
            for which in order:
                target, server = (port, recorded) if which == "with" else (other, unrecorded)
                time.sleep(2.0)  # the last round's accesses flushed (ACCESS_FLUSH_MS = 1 s)
                wait_caught_up(port, names)
                print(f"round {round_}: board, {which} access recording ...", file=sys.stderr,
                      flush=True)  # fmt: skip
                board, _, _ = run_board(
                    target, server, path, args.seconds, args.connections, token, "gzip"
                )
                rounds[which].append(asdict(board))
    finally:
        unrecorded.terminate()
        try:
            unrecorded.wait(timeout=15)
        except subprocess.TimeoutExpired:
            unrecorded.kill()
    time.sleep(2.0)
    saved_after = access_counts(port)
    p99 = {which: statistics.median(b["p99_ms"] for b in rounds[which]) for which in rounds}
    return {"access_cost": {
        "rounds": rounds, "p99_ms": p99, "ratio": p99["with"] / p99["without"],
        "requests_with": sum(b["requests"] for b in rounds["with"]),
        "saved": saved_after["saved"] - saved_before["saved"],
        "dropped": saved_after["dropped"] - saved_before["dropped"],
    }}  # fmt: skip


def report_access_cost(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    cost = figures.get("access_cost")
    if not cost:
        return
    print(
        f"\nboard p99 with and without access recording (gzip, {args.connections} "
        f"connections, rounds interleaved)"
    )
    print(f"{'round':<7}{'with: req/s':>12}{'p99 ms':>8}{'CPU ms':>8}"
          f"{'without: req/s':>16}{'p99 ms':>8}{'CPU ms':>8}")  # fmt: skip
    pairs = zip(cost["rounds"]["with"], cost["rounds"]["without"], strict=True)
    for i, (w, wo) in enumerate(pairs, 1):
        print(f"{i:<7}{w['per_second']:>12.0f}{w['p99_ms']:>8.1f}{w['cpu_ms_per_request']:>8.2f}"
              f"{wo['per_second']:>16.0f}{wo['p99_ms']:>8.1f}"
              f"{wo['cpu_ms_per_request']:>8.2f}")  # fmt: skip
    print(
        f"access records saved during the rounds with recording: {cost['saved']:,.0f} for "
        f"{cost['requests_with']:,} requests; dropped: {cost['dropped']:,.0f}"
    )
    print(
        f"  board p99, median of rounds: {cost['p99_ms']['with']:.1f} ms with, "
        f"{cost['p99_ms']['without']:.1f} ms without: ratio {cost['ratio']:.2f} "
        f"(<= {ACCESS_COST_TARGET}): {_verdict(cost['ratio'] <= ACCESS_COST_TARGET)}"
    )


# ---- the board as the system had it at past times (issue 13) ------------------------------
#: An as-of board for one unit on the 210k-event store.
AS_OF_TARGET_MS = 200.0


def recorded_range(schema: str) -> tuple[datetime, datetime]:
    """The first and last recorded times (the stored events' ``timestamp``) of the log."""
    statement = (
        "SELECT convert_from(state, 'UTF8')::json #>> '{{timestamp,_data_}}'"
        f' FROM "{schema}".patient_services_events'
        " WHERE topic LIKE '%PatientVisit%' ORDER BY notification_id {} LIMIT 1"
    )
    with psycopg.connect(database_url(schema).split("?")[0]) as conn:
        first, last = (conn.execute(statement.format(order)).fetchone() for order in ("", "DESC"))
    assert first is not None and last is not None
    return datetime.fromisoformat(first[0]), datetime.fromisoformat(last[0])


def measure_as_of_boards(
    port: int, server: subprocess.Popen[bytes], unit: str, schema: str, times: int = 12,
    repeats: int = 5,
) -> dict[str, Any]:  # fmt: skip
    """``GET /api/v1/flow/board?unit=<unit>&asOf=<time>`` one request at a time, for
    ``times`` recorded times spread over the log (from a tenth of the way in to its end) and
    now, each ``repeats`` times (the first request of each time is its own cold read):
    p50/p99 against :data:`AS_OF_TARGET_MS`, the visits on each board, and the CPU time per
    request of the server and of PostgreSQL (on a shared machine, the steadier figure)."""
    token = mint("bench-nurse", ["nurse"])
    pids, db_pids = server_pids(server), postgres_pids()
    cpu_before, db_before = cpu_seconds(pids), cpu_seconds(db_pids)
    first, last = recorded_range(schema)
    span = last - first
    moments = [first + span * (0.1 + 0.9 * i / (times - 1)) for i in range(times)]
    moments.append(datetime.now(timezone.utc))
    latencies: list[float] = []
    visits: list[int] = []
    for moment in moments:
        stamp = moment.isoformat().replace("+00:00", "Z")
        path = f"/api/v1/flow/board?unit={unit}&asOf={stamp}"
        for attempt in range(repeats):
            began = time.perf_counter()
            status, body = first_reply(port, path, token)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
            if attempt == 0:
                board = msgspec.json.decode(body)
                visits.append(sum(len(u[k]) for u in board["units"]
                                  for k in ("arrived", "triaged", "withClinician", "admitted",
                                            "onLeave")))  # fmt: skip
    cpu, db_cpu = cpu_seconds(pids) - cpu_before, cpu_seconds(db_pids) - db_before
    latencies.sort()
    return {"as_of_board": {
        "unit": unit, "times": len(moments), "repeats": repeats, "requests": len(latencies),
        "recorded_from": first.isoformat(), "recorded_to": last.isoformat(),
        "p50_ms": rank(latencies, 0.5), "p99_ms": rank(latencies, 0.99),
        "max_ms": latencies[-1] * 1000, "visits_per_board": visits,
        "cpu_ms_per_request": cpu / len(latencies) * 1000,
        "db_cpu_ms_per_request": db_cpu / len(latencies) * 1000,
    }}  # fmt: skip


def report_as_of_boards(figures: dict[str, Any]) -> None:
    found = figures.get("as_of_board")
    if not found:
        return
    print(
        f"\nGET /api/v1/flow/board?unit={found['unit']}&asOf=<time>, one request at a time: "
        f"{found['times']} times from {found['recorded_from']} to {found['recorded_to']} and "
        f"now, {found['repeats']} requests each; visits on the boards: "
        f"{min(found['visits_per_board'])}-{max(found['visits_per_board'])}"
    )
    print(
        f"  p50 {found['p50_ms']:.1f} ms, p99 {found['p99_ms']:.1f} ms, max "
        f"{found['max_ms']:.1f} ms (<= {AS_OF_TARGET_MS:.0f} ms): "
        f"{_verdict(found['p99_ms'] <= AS_OF_TARGET_MS)}; CPU per request: server "
        f"{found['cpu_ms_per_request']:.1f} ms, PostgreSQL {found['db_cpu_ms_per_request']:.1f} ms"
    )


# ---- main -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.projections", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=210_000, help="events to populate")
    parser.add_argument("--live", type=int, default=4000, help="visits in flight at once")
    parser.add_argument("--chunk", type=int, default=500, help="aggregates per save")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=2000, help="catch-up batch size")
    parser.add_argument(
        "--extra-batch-sizes", default="500,5000",
        help="rebuilds with these batch sizes (comma-separated; empty: none)",
    )  # fmt: skip
    parser.add_argument(
        "--rebuild-limit", type=float, default=60.0,
        help="skip a model's extra rebuilds if its catch-up took longer (seconds)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--library-seconds", type=float, default=20.0, help="library runner, per round"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="board load, per round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--pool-size", type=int, default=10, help="PostgreSQL pool per process")
    parser.add_argument("--unit", help="the board's unit (default: the busiest at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument(
        "--schema", help="reuse this populated schema (kept; its read models are reset)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one more catch-up of each model"
    )
    args = parser.parse_args(argv)

    from adapters.readmodels.database import open_read_database
    from adapters.readmodels.registry import read_model_factories
    from adapters.storage import eventsourcing_env

    factories = read_model_factories()
    names = ["flow", "audit"]
    schema = args.schema or fresh_schema("read")
    keep = args.keep or args.schema is not None
    settings = settings_for(schema, args.pool_size)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    store_file = RESULTS / f"projections-store-{schema}.json"
    figures: dict[str, Any] = {"args": vars(args), "schema": schema, "cores": os.cpu_count()}
    server: subprocess.Popen[bytes] | None = None
    database = None
    try:
        # 1. the store
        if args.schema is None:
            print(f"populating {args.events:,} events in schema {schema} ...", file=sys.stderr)
            population = populate_store(settings, args)
            if keep:
                store_file.write_text(json.dumps(population, indent=2))
        else:
            population = json.loads(store_file.read_text()) if store_file.exists() else {}
        figures["population"] = population
        database = open_read_database(settings)
        if args.schema is not None:
            reset_read_models(database, names, schema)
        head = database.head_position()
        figures["head_position"] = head

        # 2. catch-up rounds, with the library's runner interleaved
        env = eventsourcing_env(settings)
        catch_ups: list[CatchUp] = []
        library: list[dict[str, Any]] = []
        for round_ in range(1, args.rounds + 1):
            for name in names:
                generation = None if round_ == 1 else SCRATCH_GENERATION + round_
                print(f"round {round_}: {name} catch-up ...", file=sys.stderr, flush=True)
                result = time_catch_up(database, name, factories[name], args.batch_size, generation)
                print(f"  {result.per_second:,.0f} records/s", file=sys.stderr, flush=True)
                catch_ups.append(result)
            if args.library_seconds > 0:
                from bench.library_runner import measure_library_runner

                print(f"round {round_}: library ProjectionRunner ...", file=sys.stderr)
                lib = measure_library_runner(env, args.library_seconds)
                print(f"  {lib.per_second:,.0f} events/s", file=sys.stderr, flush=True)
                library.append(asdict(lib))
        figures["catch_up"] = [asdict(c) for c in catch_ups]
        figures["library_runner"] = library

        # 3. rebuilds at other batch sizes, if cheap
        rebuilds: list[Rebuilt] = []
        skipped: list[str] = []
        extra = [int(b) for b in args.extra_batch_sizes.split(",") if b.strip()]
        for name in names:
            slowest = max(c.seconds for c in catch_ups if c.model == name)
            if extra and slowest > args.rebuild_limit:
                skipped.append(name)
                continue
            for batch_size in extra:
                print(f"rebuild {name}, batch {batch_size} ...", file=sys.stderr, flush=True)
                rebuilds.append(time_rebuild(database, name, factories[name], batch_size))
        figures["rebuilds"] = [asdict(r) for r in rebuilds]
        figures["rebuilds_skipped"] = skipped

        # 3b. audit verify: the whole chain recomputed from the stored log, once a round
        from adapters.readmodels.audit.store import verify

        verifies: list[dict[str, Any]] = []
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}: audit verify ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            checked = verify(database)
            seconds = time.perf_counter() - began
            verifies.append({"ok": checked.ok, "checked": checked.checked, "seconds": seconds,
                             "per_second": checked.checked / seconds})  # fmt: skip
            print(f"  {checked.checked / seconds:,.0f} records/s", file=sys.stderr, flush=True)
        figures["verify"] = verifies

        profiles: dict[str, str] = {}
        if args.profile:
            for name in names:
                profile = cProfile.Profile()
                time_catch_up(
                    database, name, factories[name], args.batch_size, SCRATCH_GENERATION,
                    profile,
                )  # fmt: skip
                path = RESULTS / f"projections-{stamp}-{name}.prof"
                profile.dump_stats(path)
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
                profiles[name] = out.getvalue()
            figures["profiles"] = {name: str(RESULTS / f"projections-{stamp}-{name}.prof")
                                   for name in names}  # fmt: skip

        # 4. the board (a failure here still reports the figures above)
        if args.seconds > 0:
            active = population.get("active_by_unit") or {}
            unit = args.unit or (max(active, key=lambda u: active[u]) if active else "ED-A")
            port = free_port()
            print(f"starting the server (port {port}) ...", file=sys.stderr, flush=True)
            server = start_server(schema, port, args.workers, args.pool_size)
            try:
                figures.update(measure_board(args, server, port, unit, names))
                figures.update(measure_access_cost(args, server, port, unit, names, schema))
                figures.update(measure_as_of_boards(port, server, unit, schema))
            except Exception as e:  # noqa: BLE001 - reported with the other figures
                figures["board_error"] = f"{type(e).__name__}: {e}"
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        if database is not None:
            database.close()
        if not keep:
            drop_schema(schema)
            store_file.unlink(missing_ok=True)

    results = RESULTS / f"projections-{stamp}.json"
    results.write_text(json.dumps(figures, indent=2, default=str))
    report(args, figures, population)
    report_access_cost(args, figures)
    report_as_of_boards(figures)
    for name, text in profiles.items():
        print(f"\ncProfile of one {name} catch-up (batch {args.batch_size}), by own time:")
        print(text)
    print(f"figures written to {results}" + (f"; schema {schema} kept" if keep else ""))
    return 0


# ---- the report -------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(args: argparse.Namespace, figures: dict[str, Any], population: dict[str, Any]) -> None:
    print(f"\nread side on PostgreSQL, {figures['cores']} cores, schema {figures['schema']}")
    if population.get("seconds"):
        print(
            f"store: {population['events']:,} events ({population['visits']:,} visits, "
            f"{population['command_records']:,} command records), head position "
            f"{figures['head_position']:,}; populated in {population['seconds']:.1f} s = "
            f"{population['per_second']:,.0f} events/s ({population['chunk']} aggregates per "
            f"save; {population['save_seconds']:.1f} s in save()); refused steps: "
            f"{population['refused']}"
        )
        units = ", ".join(f"{u} {n}" for u, n in population["active_by_unit"].items())
        print(f"active visits by unit at the end: {units}")
    else:
        print(f"store: reused, head position {figures['head_position']:,}")

    print(
        f"\ncatch-up from zero, batches from {args.batch_size} doubling to 20,000 while behind"
        " (records read per second)"
    )
    print(f"{'read model':<30}" + "".join(f"{'round ' + str(i):>11}" for i in
          range(1, args.rounds + 1)) + f"{'median':>11}{'target':>10}")  # fmt: skip
    medians: dict[str, float] = {}
    for name in ("flow", "audit"):
        rows = [c for c in figures["catch_up"] if c["model"] == name]
        rates = [c["per_second"] for c in rows]
        medians[name] = statistics.median(rates)
        applied = rows[0]["applied"]
        label = f"{name} ({applied:,} applied)"
        print(f"{label:<30}" + "".join(f"{r:>11,.0f}" for r in rates)
              + f"{medians[name]:>11,.0f}{'>= 20,000':>10}")  # fmt: skip
    if figures.get("verify"):
        rates = [v["per_second"] for v in figures["verify"]]
        checked = figures["verify"][0]["checked"]
        ok = all(v["ok"] for v in figures["verify"])
        label = f"audit verify ({checked:,}, {'ok' if ok else 'NOT OK'})"
        print(f"{label:<30}" + "".join(f"{r:>11,.0f}" for r in rates)
              + f"{statistics.median(rates):>11,.0f}{'>= 100,000':>11}")  # fmt: skip
    if figures["library_runner"]:
        rates = [lib["per_second"] for lib in figures["library_runner"]]
        medians["library"] = statistics.median(rates)
        print(f"{'library ProjectionRunner':<30}" + "".join(f"{r:>11,.0f}" for r in rates)
              + f"{medians['library']:>11,.0f}")  # fmt: skip
        print(
            f"  (one event per transaction: audit INSERT + tracking insert; "
            f"{args.library_seconds:.0f} s per round, after a 2 s warm-up)"
        )
        for name in ("flow", "audit"):
            print(f"  {name} / library: {medians[name] / medians['library']:.1f}x")

    for name in figures["rebuilds_skipped"]:
        print(f"\nrebuilds of {name} skipped: its catch-up took over {args.rebuild_limit:.0f} s")
    if figures["rebuilds"]:
        print("\nrebuild into a new generation (patient-services rebuild; records/s)")
        for r in figures["rebuilds"]:
            print(
                f"  {r['model']:<6} batch {r['batch_size']:>5}: {r['per_second']:>8,.0f}"
                f"  ({r['records']:,} records in {r['seconds']:.1f} s)"
            )

    p99s: dict[str, float] = {}
    if "board_error" in figures:
        print(f"\nboard: not measured: {figures['board_error']}")
    elif "board" in figures:
        unit = figures["board_unit"]
        for encoding in ENCODINGS:
            key = _board_key(encoding)
            label = "Accept-Encoding: gzip" if encoding else "no Accept-Encoding"
            rounds = figures[key]
            print(
                f"\nGET /api/v1/flow/board?unit={unit} ({figures['board_body_bytes']:,} bytes; "
                f"{label}: {rounds[0]['body_bytes']:,} bytes sent), {args.connections} "
                f"connections, {args.workers} server workers, {args.seconds:.0f} s per round"
            )
            print(
                f"{'round':<7}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
                f"{'p99.9 ms':>9}{'CPU ms: server':>15}{'db':>6}{'client':>7}"
            )
            for i, b in enumerate(rounds, 1):
                print(
                    f"{i:<7}{b['requests']:>9}{b['errors']:>7}{b['per_second']:>8.0f}"
                    f"{b['p50_ms']:>8.1f}{b['p99_ms']:>8.1f}{b['p999_ms']:>9.1f}"
                    f"{b['cpu_ms_per_request']:>15.2f}{b['db_cpu_ms_per_request']:>6.2f}"
                    f"{b['client_cpu_ms_per_request']:>7.2f}"
                )
            pooled = figures[key + "_pooled"]
            print(
                f"{'all':<7}{pooled['requests']:>9}{'':>7}{'':>8}{pooled['p50_ms']:>8.1f}"
                f"{pooled['p99_ms']:>8.1f}{pooled['p999_ms']:>9.1f}"
            )
            p99s[label] = statistics.median(b["p99_ms"] for b in rounds)
        print(
            "CPU ms: CPU time per request of the server, of PostgreSQL and of this load "
            "generator (2 cores = 2,000 ms per second)"
        )
        floor = figures.get("health_floor")
        if floor:
            print(
                f"floor: GET /health on the same {args.connections} connections: "
                f"{floor['per_second']:,.0f} req/s, p50 {floor['p50_ms']:.1f} ms, "
                f"p99 {floor['p99_ms']:.1f} ms, p99.9 {floor['p999_ms']:.1f} ms"
            )

    print("\ntargets")
    for name in ("flow", "audit"):
        print(
            f"  {name} catch-up, median of rounds: {medians[name]:,.0f} records/s "
            f"(>= 20,000): {_verdict(medians[name] >= CATCH_UP_TARGET)}"
        )
    if figures.get("verify"):
        median = statistics.median(v["per_second"] for v in figures["verify"])
        print(f"  audit verify, median of rounds: {median:,.0f} records/s (>= 100,000): "
              f"{_verdict(median >= VERIFY_TARGET)}")  # fmt: skip
    for label, p99 in p99s.items():
        print(
            f"  board p99 ({label}), median of rounds: {p99:.1f} ms (<= 20 ms): "
            f"{_verdict(p99 <= P99_TARGET_MS)}"
        )


if __name__ == "__main__":
    sys.exit(main())
