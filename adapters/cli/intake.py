"""``mllp`` and ``hl7 import``: HL7 v2 intake from the command line (and the listener
``serve`` runs beside the HTTP server)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from adapters.cli.help import (
    EXIT_FAILED,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_SERVER_NOT_STARTED,
    EXIT_USAGE,
    Commands,
    command,
)
from adapters.cli.listening import ListenerNotStarted, listening_line, running_listener
from adapters.cli.serving import migrate_tables
from adapters.settings import Settings


def add_mllp(commands: Commands) -> None:
    mllp = command(
        commands,
        "mllp",
        "run the HL7 v2 MLLP listener, without HTTP",
        """
        Creates the tables if they are missing, then listens for HL7 v2 messages over MLLP
        on MLLP_HOST:MLLP_PORT (TLS when MLLP_TLS_CERT_FILE and MLLP_TLS_KEY_FILE are set;
        client certificates required with MLLP_TLS_CLIENT_CA_FILE) and answers each with
        its ACK once it is committed. Runs until Ctrl-C or SIGTERM, then finishes the
        messages in hand before it exits.

        `serve` runs the same listener when MLLP_PORT is set; use `mllp` to run it in a
        process of its own (with `serve` left without MLLP_PORT).
        """,
        [
            (EXIT_OK, "stopped (Ctrl-C or SIGTERM)"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "no port (MLLP_PORT or --port), or another configuration error"),
            (EXIT_SERVER_NOT_STARTED, "the port cannot be bound (for example, it is in use)"),
        ],
    )
    mllp.add_argument("--host", help="interface to bind (default: MLLP_HOST or 127.0.0.1)")
    mllp.add_argument("--port", type=int, help="TCP port (default: MLLP_PORT)")
    mllp.set_defaults(run=_mllp)


def add_hl7(commands: Commands) -> None:
    hl7 = command(
        commands,
        "hl7",
        "HL7 v2 intake from files",
        """
        HL7 v2 messages taken from files rather than over MLLP. `import` loads batch files
        through the same processing as the MLLP listener.
        """,
        [
            (EXIT_OK, "success"),
            (EXIT_FAILED, "the command failed (for example, the database cannot be reached)"),
            (EXIT_USAGE, "usage or configuration error"),
            (EXIT_NOT_ACCEPTED, "`import`: a message was not accepted"),
        ],
    ).add_subparsers(required=True, metavar="ACTION")
    hl7_import = command(
        hl7,
        "import",
        "load HL7 v2 batch files",
        """
        Loads each FILE's messages in order, as the MLLP listener would take them: an FHS/BHS
        batch or a plain run of messages, one message per MSH segment. A progress bar shows
        how far it is (on stderr); then a summary counts the messages accepted (AA),
        refused by a rule (AE, nothing recorded) and rejected (AR, nothing recorded), and
        names each refused or rejected message by file, position and control id (MSH-10)
        with its error code, never its contents.

        Importing a file again records nothing new: a message already recorded (same
        sender, MSH-3/MSH-4, and MSH-10) counts as accepted. Set LOG_LEVEL=WARNING to see
        only the bar and the summary.
        """,
        [
            (EXIT_OK, "every message was accepted (or had been before)"),
            (EXIT_FAILED, "the database cannot be reached"),
            (EXIT_USAGE, "a FILE cannot be read, or a configuration error"),
            (EXIT_NOT_ACCEPTED, "some message was refused (AE) or rejected (AR)"),
        ],
    )
    hl7_import.add_argument("files", metavar="FILE", nargs="+", type=Path, help="a batch file")
    hl7_import.set_defaults(run=_import)


# ---- the listener ------------------------------------------------------------------------
def _mllp(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.composition import open_services
    from adapters.logging import configure_logging

    overrides = {"mllp_host": args.host, "mllp_port": args.port}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    if settings.mllp_port is None:
        print("patient-services: set MLLP_PORT (or --port) to listen on", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    migrate_tables(settings)
    stopping = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stopping.set())
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    services = open_services(settings)
    try:
        with running_listener(settings, services) as thread:
            print(f"patient-services: {listening_line(settings, thread.port)} (Ctrl-C stops)",
                  file=sys.stderr, flush=True)  # fmt: skip
            while not stopping.wait(0.5) and thread.is_alive():
                pass
        if not stopping.is_set():  # the listener's loop ended by itself: a fault, logged
            print("patient-services: the MLLP listener stopped unexpectedly", file=sys.stderr)
            return EXIT_FAILED
    except ListenerNotStarted as error:
        print(f"patient-services: {error}", file=sys.stderr)
        return EXIT_SERVER_NOT_STARTED
    finally:
        services.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK


# ---- the import --------------------------------------------------------------------------
def _import(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.cli.batch_import import ImportProgress, Tally, import_file, read_batch
    from adapters.composition import hl7_processor, open_services
    from adapters.logging import configure_logging

    batches: list[tuple[Path, list[str]]] = []
    for path in args.files:
        try:
            batches.append((path, read_batch(path.read_bytes())))
        except OSError as error:
            print(f"patient-services: cannot read {path}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
    configure_logging(settings)
    migrate_tables(settings)
    services = open_services(settings)
    tally = Tally()
    try:
        processor = hl7_processor(settings, services)
        total = sum(len(messages) for _, messages in batches)
        with ImportProgress(sys.stderr, total) as progress:
            for path, messages in batches:
                import_file(processor, path, messages, tally, progress.advance)
    finally:
        services.close()
    print(tally.summary(files=len(batches)))
    return EXIT_OK if tally.all_accepted else EXIT_NOT_ACCEPTED
