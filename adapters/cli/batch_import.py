"""What ``hl7 import`` does with a file: its messages, each one's outcome read from its ACK,
the tally and the progress display."""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from adapters.hl7.batch import split_batch
from adapters.hl7.charset import decode_message
from adapters.hl7.processor import Hl7Processor

#: On a pipe or a log file, one progress line every this many seconds.
PLAIN_INTERVAL = 2.0
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


class ImportProgress:
    """A bar with count, rate and ETA on a terminal; a plain line every few seconds
    elsewhere. Log lines written meanwhile go above the bar."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        self._last_plain = 0.0
        dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
        self._progress: Progress | None = None
        self._rerouted: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
        if stream.isatty() and not dumb:
            console = Console(file=stream, force_terminal=True)
            self._progress = Progress(
                TextColumn("hl7 import"), BarColumn(finished_style="green"),
                TaskProgressColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} messages/s"), TimeRemainingColumn(),
                console=console, redirect_stdout=False, redirect_stderr=stream is sys.stderr,
            )  # fmt: skip
            self._task = self._progress.add_task("import", total=total, rate="0")
            self._rerouted = _reroute_log_handlers(stream, _Above(console))
            self._progress.start()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, rate=f"{self.rate:,.0f}")
        elif time.monotonic() - self._last_plain >= PLAIN_INTERVAL or self.done == self.total:
            self.stream.write(
                f"hl7 import: {self.done:,}/{self.total:,} messages, {self.rate:,.0f}/s\n"
            )
            self.stream.flush()
            self._last_plain = time.monotonic()

    def __enter__(self) -> ImportProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            try:
                # The last state, drawn before the bar stops (it redraws 10 times a second).
                rate = f"{self.rate:,.0f}"
                self._progress.update(self._task, completed=self.done, rate=rate, refresh=True)
                self._progress.stop()
            finally:
                for handler, stream in self._rerouted:
                    handler.setStream(stream)


class _Above(io.TextIOBase):
    """Where log handlers write while the bar is shown: each line printed above it."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)


def _reroute_log_handlers(
    stream: TextIO, proxy: io.TextIOBase
) -> list[tuple[logging.StreamHandler[TextIO], TextIO]]:
    rerouted = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
            rerouted.append((handler, stream))
            handler.setStream(proxy)
    return rerouted
