"""Live flow board: SSE subscribers one server process keeps within 1 s, and their cost.

How many ``board/events`` streams one process keeps within a second of the writes, and what
they cost the polling board's p99.

    python -m bench.board_subscribers [--ladder 50,100,200,...] [--writes 10] [--seconds 10]

``patient-services serve`` runs in a subprocess with ``WORKERS=1`` on SQLite in a fresh
``VAR_DIR`` (the JWT secret it generates there mints the bench's tokens), then:

1. **ladder**: for each N of ``--ladder``, N concurrent ``GET /api/v1/flow/board/events?unit=ED``
   streams are open (those of the step before, plus new ones) and each has had its first
   board; ``--writes`` walk-ins are recorded, one every ``--interval`` s, each for a new
   patientRef, and for every (subscriber, write) pair the delay is measured from the POST's
   201 to the subscriber's receipt of the first ``board`` event whose data names that
   patientRef. A pair not delivered within ``--settle`` s after the last write counts as
   late beyond any bound. A step meets the target when every stream opened and p99 <= 1 s;
   the ladder stops after the first step that misses it (unless ``--keep-going``).
2. **cost**: ``GET /api/v1/flow/board?unit=ED`` as a nurse on ``--connections`` keep-alive
   connections for ``--seconds`` (:func:`bench.projections.run_board`), first with
   ``--cost-subscribers`` streams open, then with none, on the same store.

The streams are raw asyncio sockets (HTTP/1.1, chunked body, SSE framing by hand), all on
one event loop in a thread of its own, so the main thread can drive the polling load beside
them. Measured against httpx (``AsyncClient.stream``, unbounded limits) on the same 400
streams and 6 writes: the same delays (p99 626 vs 633 ms), but 0.8 s vs 2.2 s of client CPU;
the load generator shares the 2 cores with the server, so the lighter client is used. Prints
a table per part and writes the figures as JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import msgspec

from bench.http_client import Connection
from bench.projections import rank, run_board
from bench.visits import RESULTS, cpu_seconds, free_port, server_pids

HOST = "127.0.0.1"
UNIT = "ED"
STREAM_PATH = f"/api/v1/flow/board/events?unit={UNIT}"
BOARD_PATH = f"/api/v1/flow/board?unit={UNIT}"
TARGET_SECONDS = 1.0
TARGET_SUBSCRIBERS = 200
#: Settings a developer's shell may hold that would take the server off SQLite or off the
#: secret it generates under VAR_DIR.
FOREIGN_SETTINGS = (
    "DATABASE_URL", "JWT_SECRET", "OIDC_ISSUER", "JWT_JWKS_URL", "PROMETHEUS_MULTIPROC_DIR",
)  # fmt: skip

T = TypeVar("T")


# ---- the server -------------------------------------------------------------------------
def raise_fd_limit(needed: int) -> int:
    """Raise the soft limit on open files towards ``needed`` (at most the hard limit); the
    server started afterwards inherits it. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def start_sqlite_server(
    var_dir: Path, port: int, stream_max_seconds: int
) -> subprocess.Popen[bytes]:
    """``serve`` with one process (HTTP and the projection workers) on SQLite in ``var_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    env.update(
        VAR_DIR=str(var_dir), WORKERS="1", LOG_LEVEL="WARNING", LOG_FORMAT="json",
        BOARD_STREAM_MAX_SECONDS=str(stream_max_seconds),
    )  # fmt: skip
    command = [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)]
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"server-{port}.log"
    with log.open("wb") as out:  # a file, not a pipe nobody reads
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while server.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/ready", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server did not become ready; see {log}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def tokens(var_dir: Path) -> tuple[str, str]:
    """A nurse's token (the streams, the polling board) and a clerk's (the walk-ins)."""
    from adapters.auth_tokens import mint_token
    from adapters.settings import Settings

    settings = Settings.from_env({"VAR_DIR": str(var_dir)})
    ttl = timedelta(hours=2)
    return (
        mint_token(settings, "bench-board-nurse", ["nurse"], ttl),
        mint_token(settings, "bench-board-clerk", ["clerk"], ttl),
    )


# ---- the subscribers --------------------------------------------------------------------
@dataclass
class Write:
    """One walk-in, and when each subscriber received the first board naming it."""

    number: int
    ref: str
    #: Searched for in the board's data (the closing quote: P-1 is not P-10).
    needle: bytes = b""
    #: perf_counter when the 201 was read (nan until then, or for a refused POST).
    posted_at: float = math.nan
    status: int = 0
    post_seconds: float = math.nan
    received: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.needle = f'"patientRef":"{self.ref}"'.encode()


@dataclass(eq=False)
class Subscriber:
    number: int
    first_board: asyncio.Event = field(default_factory=asyncio.Event)
    boards: int = 0
    seen: set[int] = field(default_factory=set)
    #: Why the stream ended (None while it is open, or once closed by the bench).
    ended: str | None = None
    task: asyncio.Task[None] | None = None


async def sse_messages(
    reader: asyncio.StreamReader, chunked: bool
) -> AsyncIterator[tuple[bytes, float]]:
    """An event stream's messages (without the blank line ending each), each with the time
    the read that completed it returned. Litestar ends lines with CRLF; the body is chunked
    (uvicorn), or runs until the connection closes."""
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                return
            data = (await reader.readexactly(size + 2))[:-2]
        else:
            data = await reader.read(1 << 16)
            if not data:
                return
        at = time.perf_counter()
        buffer += data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            yield buffer[:end], at
            buffer = buffer[end + 4 :]


class Subscribers:
    """Board streams on one event loop in a thread of its own; the main thread drives it
    with :meth:`run` (and runs the polling load on its own loop meanwhile)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.streams: list[Subscriber] = []
        self.writes: list[Write] = []
        #: The size of the last board event received (the board grows with the walk-ins).
        self.board_bytes = 0
        self._numbers = itertools.count()
        self._write_numbers = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="subscribers", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def boards(self) -> int:
        return sum(s.boards for s in self.streams)

    async def resize(self, n: int, timeout: float) -> float:
        """Close or open streams until ``n`` are open; waits until each new one has had its
        first board (or ended). Returns the seconds that took."""
        began = time.perf_counter()
        while len(self.streams) > n:
            await self._close(self.streams.pop())
        new = [Subscriber(next(self._numbers)) for _ in range(n - len(self.streams))]
        for sub in new:
            sub.task = asyncio.create_task(self._stream(sub))
        self.streams.extend(new)
        waiting = asyncio.gather(*(sub.first_board.wait() for sub in new))
        try:
            await asyncio.wait_for(waiting, timeout)
        except TimeoutError:
            pass  # reported: these have no first board
        return time.perf_counter() - began

    async def _close(self, sub: Subscriber) -> None:
        if sub.task is not None:
            sub.task.cancel()
            await asyncio.gather(sub.task, return_exceptions=True)

    async def close_all(self) -> None:
        """Cancel everything on the loop (streams, an interrupted step); sockets close."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.streams.clear()

    def close(self) -> None:
        try:
            self.run(self.close_all(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    async def _stream(self, sub: Subscriber) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            writer.write(
                f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1].decode()
            if status != "200":
                sub.ended = f"HTTP {status}"
                return
            async for message, at in sse_messages(reader, b"chunked" in head.lower()):
                self._on_message(sub, message, at)
            sub.ended = "closed by the server"
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as e:
            sub.ended = f"{type(e).__name__}: {e}"
        finally:
            sub.first_board.set()  # no one waits for a stream that has ended
            if writer is not None:
                writer.close()

    def _on_message(self, sub: Subscriber, message: bytes, at: float) -> None:
        if b"event: board\r\n" not in message[:48]:  # "id: <position>\r\nevent: board"
            return
        sub.boards += 1
        sub.first_board.set()
        self.board_bytes = len(message)
        for write in self.writes:
            if write.number not in sub.seen and write.needle in message:
                write.received[sub.number] = at
                sub.seen.add(write.number)

    async def record_writes(
        self, token: str, count: int, interval: float, settle: float, label: str
    ) -> list[Write]:
        """``count`` walk-ins, one every ``interval`` s; then up to ``settle`` s for every
        open stream to receive every one."""
        self.writes = []
        conn = Connection(HOST, self.port)
        await conn.open()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            start = time.perf_counter()
            for k in range(count):
                await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
                write = Write(next(self._write_numbers), f"P-{label}-{k}")
                self.writes.append(write)  # before the POST: a board may beat its 201 here
                arrival = datetime.now(timezone.utc) - timedelta(seconds=5)
                body = msgspec.json.encode({
                    "patientRef": write.ref, "visitClass": "EMER", "serviceUnit": UNIT,
                    "arrivalAt": arrival.isoformat(),
                })  # fmt: skip
                began = time.perf_counter()
                reply = await conn.request("POST", "/api/v1/visits/walk-ins", body, headers)
                write.status = reply.status
                write.post_seconds = time.perf_counter() - began
                if reply.status == 201:
                    write.posted_at = began + write.post_seconds
            deadline = time.perf_counter() + settle
            while time.perf_counter() < deadline and not self._all_delivered():
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        return self.writes

    def _all_delivered(self) -> bool:
        open_streams = [s.number for s in self.streams if s.ended is None]
        return all(
            all(number in w.received for number in open_streams)
            for w in self.writes
            if w.status == 201
        )


# ---- part 1: the ladder -----------------------------------------------------------------
@dataclass
class Step:
    subscribers: int
    connected: int  # streams that had their first board
    ended: int  # streams that ended during the step (errors, closed by the server)
    open_seconds: float
    writes: int
    refused_writes: int
    pairs: int
    delivered: int
    within_target: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    boards_per_stream_per_write: float
    board_bytes: int  # the last board event received
    post_p50_ms: float
    post_max_ms: float
    server_cpu: float  # share of one core, during the writes and the settle
    client_cpu: float  # this process (both threads)
    end_reasons: list[str]
    #: Each write's slowest delivery and its POST (ms): the pairs of a write are one burst.
    per_write_max_ms: list[float]

    @property
    def met(self) -> bool:
        return (
            self.connected == self.subscribers
            and self.refused_writes == 0
            and self.p99_ms <= TARGET_SECONDS * 1000
        )


def measure_step(
    pool: Subscribers, server: subprocess.Popen[bytes], n: int, args: argparse.Namespace,
    clerk: str,
) -> Step:  # fmt: skip
    open_seconds = pool.run(pool.resize(n, args.open_timeout))
    connected = sum(1 for s in pool.streams if s.boards and s.ended is None)
    time.sleep(args.quiet)  # the new streams' access records saved, their boards sent
    pids = server_pids(server)
    cpu_before, client_before, boards_before = cpu_seconds(pids), _own_cpu(), pool.boards()
    began = time.perf_counter()
    writes = pool.run(
        pool.record_writes(clerk, args.writes, args.interval, args.settle, f"N{n}"),
        timeout=args.writes * args.interval + args.settle + 60,
    )
    elapsed = time.perf_counter() - began
    server_cpu = (cpu_seconds(pids) - cpu_before) / elapsed
    client_cpu = (_own_cpu() - client_before) / elapsed
    boards = pool.boards() - boards_before
    posted = [w for w in writes if w.status == 201]
    by_write = [
        [max(0.0, w.received[s.number] - w.posted_at) if s.number in w.received else math.inf
         for s in pool.streams]
        for w in posted
    ]  # fmt: skip
    delays = sorted(d for ds in by_write for d in ds)
    post = sorted(w.post_seconds for w in writes)
    ended = [s.ended for s in pool.streams if s.ended is not None]
    return Step(
        subscribers=n, connected=connected, ended=len(ended), open_seconds=open_seconds,
        writes=len(writes), refused_writes=len(writes) - len(posted), pairs=len(delays),
        delivered=sum(1 for d in delays if d != math.inf),
        within_target=sum(1 for d in delays if d <= TARGET_SECONDS),
        p50_ms=rank(delays, 0.5), p99_ms=rank(delays, 0.99),
        max_ms=delays[-1] * 1000 if delays else math.nan,
        boards_per_stream_per_write=boards / max(1, n) / max(1, len(writes)),
        board_bytes=pool.board_bytes,
        post_p50_ms=rank(post, 0.5), post_max_ms=post[-1] * 1000 if post else math.nan,
        server_cpu=server_cpu, client_cpu=client_cpu, end_reasons=sorted(set(ended))[:5],
        per_write_max_ms=[max(ds, default=math.nan) * 1000 for ds in by_write],
    )  # fmt: skip


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# ---- part 2: the polling board's p99 beside the streams -----------------------------------
def measure_cost(
    pool: Subscribers, server: subprocess.Popen[bytes], port: int, args: argparse.Namespace,
    nurse: str,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for n in (args.cost_subscribers, 0):
        pool.run(pool.resize(n, args.open_timeout))
        time.sleep(args.quiet)
        print(f"cost: board polling with {n} subscribers ...", file=sys.stderr, flush=True)
        boards_before = pool.boards()
        board, _, size = run_board(port, server, BOARD_PATH, args.seconds, args.connections, nurse)
        pushed = pool.boards() - boards_before
        rows.append({"subscribers": n, "body_bytes": size, "boards_pushed": pushed,
                     "open": sum(1 for s in pool.streams if s.ended is None),
                     **asdict(board)})  # fmt: skip
    return rows


# ---- main -------------------------------------------------------------------------------
def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM: the same clean-up as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.board_subscribers", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--ladder", default="50,100,200,300,400,600,800,1000",
        help="subscriber counts, comma-separated (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--writes", type=int, default=10, help="walk-ins per step")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between walk-ins")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="wait for deliveries after the last write"
    )
    parser.add_argument(
        "--quiet", type=float, default=2.5,
        help="seconds after opening streams before the writes (their access records flush)",
    )  # fmt: skip
    parser.add_argument(
        "--open-timeout", type=float, default=60.0, help="for the streams' first boards"
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="do not stop at the first missed step"
    )
    parser.add_argument(
        "--seed-visits", type=int, default=0,
        help="walk-ins recorded before the ladder (a fuller board; each step adds --writes)",
    )  # fmt: skip
    parser.add_argument("--cost-subscribers", type=int, default=TARGET_SUBSCRIBERS)
    parser.add_argument("--connections", type=int, default=8, help="polling connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="polling load, each")
    args = parser.parse_args(argv)
    ladder = [int(n) for n in args.ladder.split(",") if n.strip()]

    needed = max([*ladder, args.cost_subscribers]) + args.connections + 256
    limit = raise_fd_limit(needed)
    if limit < needed:
        print(f"open files limited to {limit}; {needed} needed", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-board-"))
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    pool: Subscribers | None = None
    steps: list[Step] = []
    cost: list[dict[str, Any]] = []
    try:
        print(f"starting the server (port {port}, VAR_DIR {var_dir}) ...", file=sys.stderr)
        server = start_sqlite_server(var_dir, port, stream_max_seconds=3600)
        nurse, clerk = tokens(var_dir)
        pool = Subscribers(port, nurse)
        if args.seed_visits:
            print(f"seeding {args.seed_visits} walk-ins ...", file=sys.stderr, flush=True)
            pool.run(pool.record_writes(clerk, args.seed_visits, 0.0, 0.0, "SEED"))
        run_board(port, server, BOARD_PATH, 2.0, args.connections, nurse)  # warm-up
        for n in ladder:
            print(f"ladder: {n} subscribers ...", file=sys.stderr, flush=True)
            step = measure_step(pool, server, n, args, clerk)
            steps.append(step)
            print(f"  p99 {step.p99_ms:.0f} ms, {step.within_target}/{step.pairs} within 1 s",
                  file=sys.stderr, flush=True)  # fmt: skip
            if not step.met and not args.keep_going:
                break
        cost = measure_cost(pool, server, port, args, nurse)
    finally:
        if pool is not None:
            pool.close()
        if server is not None:
            stop_server(server)
        shutil.rmtree(var_dir, ignore_errors=True)
    report(args, steps, cost)
    return 0


# ---- the report -------------------------------------------------------------------------
def _ms(value: float) -> str:
    return "lost" if value == math.inf else f"{value:.0f}"


def report(args: argparse.Namespace, steps: list[Step], cost: list[dict[str, Any]]) -> None:
    print(
        f"\nlive flow board (GET {STREAM_PATH}): one server process (WORKERS=1, SQLite), "
        f"{os.cpu_count()} cores; per step {args.writes} walk-ins to {UNIT}, one every "
        f"{args.interval:g} s (after {args.seed_visits} seeded); delay = the POST's 201 to "
        f"the board event naming the patient"
    )
    print(
        f"{'subs':>5}{'open':>6}{'opened':>7}{'ended':>6}{'board':>6}{'boards/':>8}{'p50':>6}{'p99':>7}"
        f"{'max':>7}{'<= 1 s':>8}{'POST ms':>11}{'server':>8}{'client':>8}  target"
    )
    print(
        f"{'':>5}{'s':>6}{'':>7}{'':>6}{'KB':>6}{'write':>8}{'ms':>6}{'ms':>7}{'ms':>7}{'':>8}"
        f"{'p50/max':>11}{'CPU':>8}{'CPU':>8}"
    )
    for s in steps:
        share = s.within_target / s.pairs if s.pairs else math.nan
        post = f"{s.post_p50_ms:.0f}/{s.post_max_ms:.0f}"
        print(
            f"{s.subscribers:>5}{s.open_seconds:>6.1f}{s.connected:>7}{s.ended:>6}"
            f"{s.board_bytes / 1000:>6.1f}"
            f"{s.boards_per_stream_per_write:>8.1f}{_ms(s.p50_ms):>6}{_ms(s.p99_ms):>7}"
            f"{_ms(s.max_ms):>7}{share:>8.1%}{post:>11}{s.server_cpu:>8.0%}"
            f"{s.client_cpu:>8.0%}  {'met' if s.met else 'MISSED'}"
        )
        if s.end_reasons:
            print(f"      streams ended: {'; '.join(s.end_reasons)}")
    print(
        "open s: seconds to open the step's new streams until each had its first board; "
        "board KB: the last board event's size; boards/write: board events per stream per "
        "walk-in; <= 1 s: share of (subscriber, write) pairs delivered within 1 s (lost: "
        "not within --settle); CPU: share of one core during the writes"
    )
    met = [s.subscribers for s in itertools.takewhile(lambda s: s.met, steps)]
    largest = max(met) if met else 0
    if largest >= TARGET_SUBSCRIBERS:
        verdict = "met"
    elif len(met) == len(steps):
        verdict = "not reached by the ladder"
    else:
        verdict = "MISSED"
    print(
        f"largest N meeting the target (every stream open, p99 <= 1 s): {largest or 'none'}; "
        f"target >= {TARGET_SUBSCRIBERS}: {verdict}"
    )

    if cost:
        print(
            f"\nGET {BOARD_PATH} ({cost[0]['body_bytes']:,} bytes), {args.connections} "
            f"connections, {args.seconds:g} s each, same store"
        )
        print(
            f"{'subscribers':>11}{'requests':>9}{'errors':>7}{'req/s':>7}{'p50 ms':>8}"
            f"{'p99 ms':>8}{'p99.9 ms':>9}{'server CPU ms/req':>18}{'boards pushed':>14}"
        )
        for row in cost:
            print(
                f"{row['subscribers']:>11}{row['requests']:>9}{row['errors']:>7}"
                f"{row['per_second']:>7.0f}{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}"
                f"{row['p999_ms']:>9.1f}{row['cpu_ms_per_request']:>18.2f}"
                f"{row['boards_pushed']:>14}"
            )
        with_, without = cost[0], cost[-1]
        print(
            f"board p99 with {with_['subscribers']} subscribers / with none: "
            f"{with_['p99_ms']:.1f} / {without['p99_ms']:.1f} ms = "
            f"{with_['p99_ms'] / without['p99_ms']:.2f}x"
        )

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"board-subscribers-{stamp}.json"
    figures = {"args": vars(args), "cores": os.cpu_count(), "ladder": [asdict(s) for s in steps],
               "largest_meeting_target": largest, "cost": cost}  # fmt: skip
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"figures written to {out}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: streams closed, server stopped", file=sys.stderr)
        sys.exit(130)
