"""What every command's ``--help`` shares: the exit statuses, the description and a
formatter that reflows them to the terminal's width."""

from __future__ import annotations

import argparse
import textwrap
from typing import TypeAlias

#: Exit codes. 2 is also what argparse exits with on a usage error.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: ``serve``: uvicorn's own code when it cannot start (it exits with it).
EXIT_SERVER_NOT_STARTED = 3
#: ``audit verify`` answers 1 for "tampered", so "could not verify" needs a code of its own:
#: neither 1 (it is no evidence of tampering) nor 2 (argparse's usage error).
EXIT_AUDIT_TAMPERED = 1
EXIT_AUDIT_UNVERIFIED = 3
#: ``audit verify``: the chain is intact as far as it goes, but records are parked.
EXIT_AUDIT_INCOMPLETE = 4
#: ``parked list`` / ``parked retry``: records are (still) parked.
EXIT_PARKED = 4
#: ``hl7 import``: some message was refused (AE) or rejected (AR).
EXIT_NOT_ACCEPTED = 4

#: The help texts below are reflowed to the terminal's width (see _HelpFormatter): a blank
#: line separates paragraphs; each exit status is one (code, meaning) pair.
DESCRIPTION = """
An event-sourced backend for patient visits, complaints and budgets, with an audit trail of
every change.

Settings are environment variables (DATABASE_URL, VAR_DIR, HOST, PORT, JWT_SECRET, ...; the
README's "Configuration" section lists them all). Without DATABASE_URL everything is stored
in SQLite under VAR_DIR (default ./var).

Run `patient-services COMMAND --help` for what a command does, its options and its exit
status.
"""

ExitStatus = tuple[int, str]
#: What ``add_subparsers`` returns: the group each command is added to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

COMMON_EXITS: list[ExitStatus] = [
    (EXIT_OK, "success"),
    (EXIT_FAILED, "the command failed (for example, the database cannot be reached)"),
    (EXIT_USAGE, "usage or configuration error; `audit verify` has codes of its own (see its"
     " --help)"),
]  # fmt: skip


class HelpFormatter(argparse.HelpFormatter):
    """Reflows descriptions and epilogs to the terminal's width, as argparse does for option
    help, but keeps paragraphs apart and gives indented lines (the exit statuses) a hanging
    indent, so a status that wraps stays readable."""

    # _fill_text is the hook argparse's own RawDescriptionHelpFormatter overrides.
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for paragraph in textwrap.dedent(text).strip("\n").split("\n\n"):
            lines: list[str] = []
            prose: list[str] = []
            for line in paragraph.splitlines():
                if not line.startswith(" "):
                    prose.append(line)
                    continue
                lines += _fill(" ".join(prose), width, indent, indent) if prose else []
                prose = []
                lead = indent + line[: len(line) - len(line.lstrip())]
                lines += _fill(line.strip(), width, lead, lead + "   ")
            lines += _fill(" ".join(prose), width, indent, indent) if prose else []
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def _fill(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest)


def exit_status(exits: list[ExitStatus]) -> str:
    return "exit status:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in exits)


def command(
    group: Commands,
    name: str,
    summary: str,
    description: str,
    exits: list[ExitStatus],
) -> argparse.ArgumentParser:
    """A (sub)command whose --help says what it does and how it exits; ``summary`` is its
    line in the parent's list of commands."""
    return group.add_parser(
        name,
        help=summary,
        description=description,
        epilog=exit_status(exits),
        formatter_class=HelpFormatter,
    )
