"""HL7 v2 over MLLP vs visit commands over HTTP, on one server, in one run.

    python -m bench.hl7 [--visits 1500] [--connections 8] [--rounds 2] [--seconds 10]
                        [--batch-intervals 0,20]

``patient-services serve`` runs in a subprocess on a fresh PostgreSQL schema with
``MLLP_PORT`` set, so the listener and the HTTP API share the store and the machine:

* **MLLP**: ``--connections`` connections replay a day of ADT: each visit arrives (A04);
  about a third are admitted (A01) and half of those transferred (A02); some get an update
  (A08); every one is discharged (A03). The messages of a visit stay on one connection and
  in order, as an engine sends them, and a connection sends the next message only when the
  ACK of the last one is in (MLLP's rule), so ACK latency is the time per message.
* **HTTP**: the same connections post the five visit commands of bench.visits.

Each round runs MLLP then HTTP for ``--seconds`` each, once per
``PROJECTION_BATCH_INTERVAL_MS`` value of ``--batch-intervals`` (each on a fresh server and
schema, so the settings compare in one run). Prints messages/s, ACK latency
p50/p99, every ACK's code counted (anything but AA is an error), and MLLP messages/s ÷ HTTP
commands/s; writes the figures as JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from adapters.hl7.framing import FrameDecoder, frame
from adapters.settings import PROJECTION_BATCH_INTERVAL_MS
from bench.visits import (
    RESULTS,
    Figures,
    cpu_seconds,
    drop_schema,
    free_port,
    fresh_schema,
    mint,
    run_http,
    server_pids,
    start_server,
    summarise,
)


def day_of_adt(visits: int, seed: int, start: datetime) -> list[list[str]]:
    """Per visit, its messages in order (ER7, segments joined by CR)."""
    rng = random.Random(seed)
    journeys = []
    for n in range(visits):
        number = f"B{seed}-{n}"
        at = start + timedelta(seconds=n * 20)
        triggers = ["A04"]
        if rng.random() < 0.35:
            triggers.append("A01")
            if rng.random() < 0.5:
                triggers.append("A02")
        if rng.random() < 0.2:
            triggers.append("A08")
        triggers.append("A03")
        journey = []
        for step, trigger in enumerate(triggers):
            when = (at + timedelta(minutes=10 * step)).strftime("%Y%m%d%H%M%S+0000")
            unit = {"A01": "WARD-1", "A02": "WARD-2"}.get(trigger, "ED")
            journey.append(_adt(trigger, f"{number}-{step}", number, n, unit, when))
        journeys.append(journey)
    return journeys


def _adt(trigger: str, control: str, number: str, patient: int, unit: str, when: str) -> str:
    pv1 = ["PV1", "1", "I" if trigger in ("A01", "A02") else "E", f"{unit}^^^BENCH"]
    pv1 += [""] * 15 + [f"{number}^^^BENCH"] + [""] * 16 + ["01"] + [""] * 8 + [when]
    return "\r".join([
        f"MSH|^~\\&|BENCHPAS|BENCH|PS|BENCH|{when}||ADT^{trigger}^ADT_A01|{control}|P|2.5.1",
        f"EVN|{trigger}|{when}||||{when}",
        f"PID|1||MRN{patient}^^^BENCH^MR||Surname^Given||19700101|F",
        "|".join(pv1),
    ])  # fmt: skip


async def replay(
    port: int, journeys: list[list[str]], connections: int, seconds: float
) -> tuple[list[float], dict[str, int], float]:
    """Send the journeys over ``connections`` MLLP connections until done or ``seconds``
    pass; the ACK latency of each message and the count of each MSA-1 code."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for journey in journeys:
        queue.put_nowait(journey)
    stop_at = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = FrameDecoder()
        try:
            while time.perf_counter() < stop_at and not queue.empty():
                for message in queue.get_nowait():
                    began = time.perf_counter()
                    writer.write(frame(message.encode()))
                    await writer.drain()
                    acks: list[bytes] = []
                    while not acks:
                        data = await reader.read(65536)
                        if not data:
                            raise ConnectionError("the listener closed the connection")
                        acks = decoder.feed(data)
                    latencies.append(time.perf_counter() - began)
                    code = _msa_code(acks[0].decode())
                    codes[code] = codes.get(code, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    begun = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, codes, time.perf_counter() - begun


def _msa_code(ack: str) -> str:
    line = next((s for s in ack.split("\r") if s.startswith("MSA|")), "MSA|?")
    return line.split("|")[1]


def wait_for_mllp(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the MLLP listener did not open port {port} in {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hl7", description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=1500, help="visits per round's day of ADT")
    parser.add_argument("--connections", type=int, default=8, help="MLLP and HTTP connections")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="at most, per path and round")
    parser.add_argument("--workers", type=int, default=2, help="HTTP worker processes")
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument(
        "--batch-intervals",
        default=str(PROJECTION_BATCH_INTERVAL_MS),
        help="PROJECTION_BATCH_INTERVAL_MS values to compare, comma-separated (e.g. 20,100; "
        "default: the setting's default)",
    )
    args = parser.parse_args(argv)

    os.environ["PATIENT_REF_SECRET"] = "bench-patient-ref-secret-bench-patient-ref"
    intervals = [int(value) for value in args.batch_intervals.split(",")]
    token = mint("bench", ["clerk", "nurse", "clinician"])
    start = datetime.now(timezone.utc) - timedelta(days=1)
    rounds: list[dict[str, Any]] = []
    for number in range(1, args.rounds + 1):
        # Each setting in turn within a round, each on a server and store of its own (the
        # NOTIFY channel is the database's, so two servers side by side would wake each
        # other's read models).
        for interval in intervals:
            entry = run_round(args, day_of_adt(args.visits, number, start), token, interval)
            rounds.append({"round": number, **entry})
    report(args, rounds)
    return 0


def run_round(
    args: argparse.Namespace, journeys: list[list[str]], token: str, interval: int
) -> dict[str, Any]:
    schema = fresh_schema("hl7")
    port, mllp_port = free_port(), free_port()
    os.environ["MLLP_PORT"] = str(mllp_port)
    os.environ["PROJECTION_BATCH_INTERVAL_MS"] = str(interval)
    server = start_server(schema, port, args.workers, args.pool_size)
    try:
        wait_for_mllp(mllp_port)
        # The listener runs in serve's own process; its children are the HTTP workers
        # and the projection process (the read models follow each message).
        listener, *children = server_pids(server)
        cpu_before = cpu_seconds([listener]), cpu_seconds(children)
        latencies, codes, elapsed = asyncio.run(
            replay(mllp_port, journeys, args.connections, args.seconds)
        )
        cpu = cpu_seconds([listener]) - cpu_before[0], cpu_seconds(children) - cpu_before[1]
        errors = sum(n for code, n in codes.items() if code != "AA")
        mllp = summarise(f"MLLP ({args.connections} connections)", latencies, errors, elapsed)
        http, cpu_ms = run_http(
            port, server, args.seconds, args.connections, token, f"HTTP ({args.workers} workers)"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except Exception:  # noqa: BLE001 - a stuck server is killed
            server.kill()
        drop_schema(schema)
    per_message = [seconds / max(mllp.commands, 1) * 1000 for seconds in cpu]
    return {
        "interval_ms": interval, "mllp": mllp, "codes": codes, "http": http,
        "http_cpu_ms": cpu_ms, "listener_cpu_ms": per_message[0],
        "workers_cpu_ms": per_message[1],
    }  # fmt: skip


def report(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> None:
    print(
        f"\nHL7 over MLLP vs HTTP commands on PostgreSQL, {args.connections} connections, "
        f"{os.cpu_count()} cores (every ACK after commit)"
    )
    print(
        f"{'round':<7}{'batch ms':>9}  {'path':<26}{'messages':>9}{'errors':>7}{'/s':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}"
    )
    for entry in rounds:
        for figures in (entry["mllp"], entry["http"]):
            f: Figures = figures
            print(
                f"{entry['round']:<7}{entry['interval_ms']:>9}  {f.name:<26}{f.commands:>9}"
                f"{f.errors:>7}{f.per_second:>7.0f}{f.p50_ms:>8.1f}{f.p99_ms:>8.1f}"
            )
        print(
            f"       ACK codes: {entry['codes']}; CPU per message: listener "
            f"{entry['listener_cpu_ms']:.2f} ms, HTTP/projection workers "
            f"{entry['workers_cpu_ms']:.2f} ms; HTTP server CPU per command "
            f"{entry['http_cpu_ms']:.2f} ms"
        )
    for interval in sorted({e["interval_ms"] for e in rounds}):
        these = [e for e in rounds if e["interval_ms"] == interval]
        rates = [e["mllp"].per_second for e in these]
        ratios = [e["mllp"].per_second / e["http"].per_second for e in these]
        print(
            f"PROJECTION_BATCH_INTERVAL_MS={interval}: MLLP messages/s, median of rounds "
            f"{statistics.median(rates):.0f} (target >= 300); ÷ HTTP commands/s "
            f"{statistics.median(ratios):.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"hl7-{stamp}.json"
    out.write_text(json.dumps({
        "args": vars(args),
        "rounds": [
            {"round": e["round"], "batch_interval_ms": e["interval_ms"],
             "mllp": asdict(e["mllp"]), "codes": e["codes"], "http": asdict(e["http"]),
             "http_cpu_ms_per_command": e["http_cpu_ms"],
             "listener_cpu_ms_per_message": e["listener_cpu_ms"],
             "workers_cpu_ms_per_message": e["workers_cpu_ms"]}
            for e in rounds
        ],
    }, indent=2))  # fmt: skip
    print(f"figures written to {out}")


if __name__ == "__main__":
    sys.exit(main())
