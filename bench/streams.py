"""A command's cost against the length of its aggregate's stream: a budget line of 10 events
against one of 10,000, on SQLite and on PostgreSQL.

    python -m bench.streams [--commands 200] [--long 10000]

Each store gets both lines (the long one written straight through the domain in batches, so
building it takes seconds), then the same posting command is timed on each, one at a time,
in three ways of loading the line:

* **held**: as served (snapshots, and the process holds the aggregates its commands saved):
  the line is taken from the process, brought up to date with the events since, decided on;
* **snapshot**: a process that holds nothing (``HELD_AGGREGATES=0``: what a command meets
  when another process wrote last, or after a restart): the snapshot plus at most
  ``SNAPSHOT_EVERY`` events;
* **replay**: no snapshots (``SNAPSHOT_EVERY=0``): every event replayed, as before snapshots
  (fewer commands: each costs the whole stream).

Prints the median and p99 of each, the long/short ratio (the target: at most 2), and the
median of a read (``get_aggregate``, what ``GET`` of a record costs) on each; writes the
figures as JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog

from bench.visits import KEK, RESULTS, SECRET, database_url, drop_schema, fresh_schema

BUILD_BATCH = 500
REPLAY_COMMANDS = 10


@dataclass
class Row:
    store: str
    mode: str
    events: int
    commands: int
    p50_ms: float
    p99_ms: float
    read_p50_ms: float


@contextmanager
def store(name: str) -> Iterator[Any]:
    from adapters.settings import Settings
    from adapters.storage import ensure_schema

    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield Settings(jwt_secret=SECRET, var_dir=Path(tmp) / "var")
        return
    schema = fresh_schema("streams")
    try:
        settings = Settings.from_env(
            {"DATABASE_URL": database_url(schema), "JWT_SECRET": SECRET, "PRIVACY_KEK": KEK}
        )
        ensure_schema(settings)
        yield settings
    finally:
        drop_schema(schema)


def context() -> Any:
    from application.shared.context import RequestContext

    return RequestContext(actor_id="bench-finance", actor_role="finance", correlation_id="bench")


def build_line(services: Any, centre: str, events: int) -> UUID:
    """A line of ``events`` events: created, approved, then pre-encumbrances."""
    from domain.budget.line import BudgetLine
    from domain.budget.policy import BudgetRules
    from domain.shared.envelope import Envelope, recording
    from domain.shared.money import Money

    at = datetime.now(timezone.utc)
    envelope = Envelope(actor_id="bench-finance", actor_role="finance", command_id=uuid.uuid4(),
                        correlation_id="bench-build", occurred_at=at)  # fmt: skip
    rules = BudgetRules()
    fiscal_year = rules.fiscal_year_of(rules.local_date(at))
    with recording(envelope):
        line = BudgetLine.create(fiscal_year=fiscal_year, cost_centre=centre,
                                 category="supplies", currency="GBP", at=at)  # fmt: skip
        line.approve(amount=Money(Decimal("100000000.00"), "GBP"), approval_ref="BENCH",
                     phasing=None, at=at)  # fmt: skip
        for n in range(events - 2):
            one = Money(Decimal("1.00"), "GBP")
            line.record_pre_encumbrance(reference=f"BUILD-{n}", amount=one, at=at)
            if len(line.pending_events) >= BUILD_BATCH:
                services.save(line)
        services.save(line)
    assert line.version == events
    return line.id


def timed(commands: int, run: Callable[[int], object]) -> list[float]:
    seconds = []
    for n in range(commands):
        started = time.perf_counter()
        run(n)
        seconds.append(time.perf_counter() - started)
    return seconds


def quantile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(round(p * len(ordered))) - 1)] * 1000


def measure(
    settings: Any, name: str, mode: str, lines: dict[int, UUID], commands: int
) -> list[Row]:
    from adapters.composition import open_services
    from application.budget import commands as b
    from application.budget.inputs import MoneyAmount
    from domain.budget.line import BudgetLine

    overrides = {"held": {}, "snapshot": {"held_aggregates": 0}, "replay": {"snapshot_every": 0}}
    services = open_services(replace(settings, **overrides[mode]))
    rows = []
    try:
        for events, line in lines.items():
            count = REPLAY_COMMANDS if mode == "replay" else commands
            tag = f"{mode}-{events}-{uuid.uuid4().hex[:6]}"

            def post(n: int, line: UUID = line, tag: str = tag) -> None:
                posting = b.RecordPreEncumbrance(
                    reference=f"{tag}-{n}", amount=MoneyAmount(amount="1.00", currency="GBP")
                )
                services.execute(posting, context(), target=line)

            post(-1)  # warm: the first load of a mode leaves its snapshot or held line
            samples = timed(count, post)

            def read(_: int, line: UUID = line) -> object:
                return services.get_aggregate(line, BudgetLine)

            reads = timed(count, read)
            rows.append(Row(name, mode, events, count, quantile(samples, 0.5),
                            quantile(samples, 0.99), quantile(reads, 0.5)))  # fmt: skip
    finally:
        services.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.streams", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--commands", type=int, default=200, help="commands timed per line and mode"
    )
    parser.add_argument("--long", type=int, default=10_000, help="events of the long line")
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    rows: list[Row] = []
    for name in args.stores.split(","):
        with store(name) as settings:
            from adapters.composition import open_services

            for mode in ("held", "snapshot", "replay"):
                # Fresh lines for each way of loading, so each starts at 10 and at --long.
                builder = open_services(settings)
                try:
                    started = time.perf_counter()
                    lines = {10: build_line(builder, f"SHORT-{mode}", 10),
                             args.long: build_line(builder, f"LONG-{mode}", args.long)}  # fmt: skip
                    built = time.perf_counter() - started
                finally:
                    builder.close()
                print(f"{name} {mode}: lines of 10 and {args.long} events built in {built:.1f} s",
                      flush=True)  # fmt: skip
                rows.extend(measure(settings, name, mode, lines, args.commands))
    report(args, rows)
    return 0


def report(args: argparse.Namespace, rows: list[Row]) -> None:
    print(f"\na posting on a budget line of 10 vs {args.long} events, one command at a time")
    print(f"{'store':<10}{'loading':<10}{'events':>8}{'commands':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'long/short':>12}{'read p50 ms':>13}")  # fmt: skip
    by = {(r.store, r.mode, r.events): r for r in rows}
    for r in rows:
        short = by[(r.store, r.mode, 10)]
        ratio = "" if r.events == 10 else f"{r.p50_ms / short.p50_ms:>12.2f}"
        print(f"{r.store:<10}{r.mode:<10}{r.events:>8}{r.commands:>10}{r.p50_ms:>9.2f}"
              f"{r.p99_ms:>9.2f}{ratio:>12}{r.read_p50_ms:>13.2f}")  # fmt: skip
    print("long/short: of the p50s (target <= 2 with snapshots); replay: the cost before them")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"streams-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": [asdict(r) for r in rows]}, indent=2))
    print(f"figures written to {out}")


if __name__ == "__main__":
    sys.exit(main())
