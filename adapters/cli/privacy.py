"""``privacy rotate-kek``: wrap every live data key under the current KEK."""

from __future__ import annotations

import argparse
import sys

from adapters.cli.help import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Commands, command
from adapters.settings import Settings


def add_privacy(commands: Commands) -> None:
    privacy = command(
        commands,
        "privacy",
        "the data keys that seal personal free text",
        """
        Complaint narratives, findings, response texts and reasons are stored sealed under
        one data key per complainant; the data keys are wrapped by the key-encryption key
        (KEK) of PRIVACY_KEK.
        """,
        [
            (EXIT_OK, "done"),
            (EXIT_FAILED, "a data key could not be unwrapped, or the database is unreachable"),
            (EXIT_USAGE, "usage or configuration error"),
        ],
    ).add_subparsers(required=True, metavar="ACTION")
    rotate = command(
        privacy,
        "rotate-kek",
        "rewrap every live data key under the current PRIVACY_KEK",
        """
        Run with the new KEK in PRIVACY_KEK and the old one in PRIVACY_PREVIOUS_KEKS (both
        base64, 32 bytes; several previous ones comma-separated). Every live data key the
        old KEK wrapped is unwrapped and wrapped again under the new one, in one transaction;
        destroyed keys stay destroyed. Serving processes may keep running: they unwrap with
        either KEK meanwhile. Afterwards drop the old KEK from PRIVACY_PREVIOUS_KEKS and
        destroy it: copies of the old wrapped keys (backups, WAL) are then useless.
        """,
        [
            (EXIT_OK, "every live key is wrapped by the current KEK (prints how many moved)"),
            (EXIT_FAILED, "a data key is wrapped by a KEK that is not configured"),
            (EXIT_USAGE, "usage or configuration error"),
        ],
    )
    rotate.set_defaults(run=_rotate_kek)


def _rotate_kek(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.privacy.sealing import KeyRing
    from adapters.privacy.vault import UnknownKeyError, open_vault

    current, previous = settings.resolve_keks()
    vault = open_vault(KeyRing(current, previous), settings.postgres, settings.var_dir)
    try:
        moved = vault.rewrap()
    except UnknownKeyError as e:
        print(f"patient-services: {e}: add the KEK that wrapped it to "
              "PRIVACY_PREVIOUS_KEKS", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    finally:
        vault.close()
    print(f"rewrapped {moved} data key(s) under the current KEK", file=sys.stderr)
    return EXIT_OK
