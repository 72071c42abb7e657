"""``rebuild`` and ``parked``: rebuilding a read model and the records it set aside."""

from __future__ import annotations

import argparse
import sys

from adapters.cli.help import EXIT_FAILED, EXIT_OK, EXIT_PARKED, EXIT_USAGE, Commands, command
from adapters.cli.serving import migrate_tables
from adapters.readmodels.registry import READ_MODEL_NAMES
from adapters.settings import Settings


def add_rebuild(commands: Commands) -> None:
    rebuild = command(
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


def add_parked(commands: Commands) -> None:
    parked = command(
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
    parked_list = command(
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
    parked_retry = command(
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


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.composition import open_read_database, read_models
    from adapters.logging import configure_logging
    from adapters.readmodels.progress import ProgressBar
    from adapters.readmodels.rebuild import RebuildBusyError, rebuild

    factories = read_models(settings)
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
    migrate_tables(settings)
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


def _parked_list(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.composition import open_read_database, read_models
    from adapters.readmodels import tracking as tr
    from adapters.readmodels.registry import prepare_read_models

    factories = read_models(settings)
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
    from adapters.composition import open_read_database
    from adapters.readmodels import tracking as tr

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
