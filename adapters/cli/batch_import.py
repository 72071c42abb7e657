"""What ``hl7 import`` does with a file: its messages, each one's outcome read from its ACK,
the tally and the progress display."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from adapters.hl7.batch import split_batch
from adapters.hl7.charset import decode_message
from adapters.hl7.processor import Hl7Processor
from adapters.progress import ProgressDisplay

_BOM = "\ufeff"
#: An enhanced-mode code counted as the application code it stands for.
_AS_APPLICATION_CODE = {"CA": "AA", "CE": "AE", "CR": "AR"}


def read_batch(raw: bytes) -> list[str]:
    """A file's messages (``split_batch``): FHS/BHS batches or plain runs of messages.

    Decoded as its first message's MSH-18 says (else UTF-8, falling back to Latin-1); what
    comes before that MSH (the batch envelope, or lines that belong to no message, which
    the import then reports as rejected) is ASCII in any charset a feed uses."""
    start = raw.find(b"MSH")
    if start < 0:
        text = decode_message(raw)
    else:
        text = raw[:start].decode("latin-1") + decode_message(raw[start:])
    return split_batch(text.lstrip(_BOM))


def original_mode(message: str) -> str:
    """``message`` with MSH-15 and MSH-16 emptied, so the processor answers with exactly one
    (original-mode) ACK to read the outcome from. An import has no one to send ACKs to; what
    is recorded does not depend on these fields (nor does a resend's identity)."""
    msh, separator, rest = message.partition("\r")
    if not msh.startswith("MSH") or len(msh) < 4:
        return message
    fields = msh.split(msh[3])
    for index in (14, 15):  # fields[n - 1] is MSH-n
        if index < len(fields):
            fields[index] = ""
    return msh[3].join(fields) + separator + rest


@dataclass(frozen=True)
class Outcome:
    """A message's outcome as its ACK says: MSA-1, MSA-2 and the ERR segment's codes."""

    code: str
    control_id: str
    error_code: str | None = None
    hl7_code: str | None = None


def outcome_of(acks: list[str]) -> Outcome:
    """The outcome an ACK states (the application ACK's, when there are several)."""
    found = Outcome("AR", "", "NO_ACK", None)
    for ack in acks:
        segments = ack.split("\r")
        msh = segments[0]
        if not msh.startswith("MSH") or len(msh) < 5:
            continue
        separator, component = msh[3], msh[4]
        fields = {s[:3]: s.split(separator) for s in segments if len(s) > 3}
        msa, err = fields.get("MSA", []), fields.get("ERR", [])
        code = msa[1] if len(msa) > 1 else "AR"
        found = Outcome(
            code=_AS_APPLICATION_CODE.get(code, code),
            control_id=msa[2] if len(msa) > 2 else "",
            error_code=(err[7] or None) if len(err) > 7 else None,
            hl7_code=(err[3].split(component)[0] or None) if len(err) > 3 else None,
        )
    return found


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    #: ``file, message number, outcome`` of every message not accepted.
    problems: list[tuple[Path, int, Outcome]] = field(default_factory=list)

    @property
    def all_accepted(self) -> bool:
        return not self.problems

    def add(self, path: Path, number: int, outcome: Outcome) -> None:
        self.counts[outcome.code] += 1
        if outcome.code != "AA":
            self.problems.append((path, number, outcome))

    def summary(self, *, files: int) -> str:
        total = sum(self.counts.values())
        counts = ", ".join(f"{self.counts[code]} {code}" for code in ("AA", "AE", "AR"))
        lines = [f"hl7 import: {total} message(s) in {files} file(s): {counts}"]
        for path, number, outcome in self.problems:
            control = outcome.control_id or "(none)"
            error = outcome.error_code or "?"
            lines.append(
                f"  {path} message {number} (MSH-10 {control}): {outcome.code} {error}"
                + (f" (HL7 {outcome.hl7_code})" if outcome.hl7_code else "")
            )
        return "\n".join(lines)


def import_file(
    processor: Hl7Processor,
    path: Path,
    messages: list[str],
    tally: Tally,
    advance: Callable[[], None],
) -> None:
    """Each message of one file through the processor, in order (a visit's messages depend
    on the order they come in)."""
    for number, message in enumerate(messages, start=1):
        tally.add(path, number, outcome_of(processor.handle(original_mode(message))))
        advance()


class ImportProgress(ProgressDisplay):
    """The import's progress: ``advance`` after each message of the ``total``."""

    def __init__(self, stream: TextIO, total: int) -> None:
        super().__init__(stream, unit="messages", label="hl7 import:")
        self.total = total
        self.done = 0

    def advance(self) -> None:
        self.done += 1
        self.show(self.done, self.total)
