"""The progress display of ``rebuild``: a bar with rate and ETA on a terminal, plain lines
elsewhere (a pipe, a CI log).

On a terminal the bar is drawn by ``rich.progress``, which prints anything written meanwhile
*above* the bar and ends the bar's line when it stops. Log lines need help for that: the
logging handler holds the stream itself (bound when logging was configured), so while the
bar is shown, handlers writing to its stream write through the bar's console instead.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

from adapters.readmodels.rebuild import RebuildProgress

WIDTH = 30
#: On a pipe or a log file, one line every this many seconds instead of redrawing.
PLAIN_INTERVAL = 2.0


class ProgressBar:
    """``update`` with each :class:`RebuildProgress`, then ``close`` (or use ``with``)
    before printing anything else of one's own."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        # A terminal that cannot move the cursor gets plain lines too.
        dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
        self.interactive = stream.isatty() and not dumb
        self._last_plain = 0.0
        self._bar: _TerminalBar | None = None

    def update(self, p: RebuildProgress) -> None:
        if self.interactive:
            if self._bar is None:
                self._bar = _TerminalBar(self.stream)
            self._bar.update(p)
        elif time.monotonic() - self._last_plain >= PLAIN_INTERVAL or p.fraction >= 1.0:
            self.stream.write(_plain_line(p) + "\n")
            self.stream.flush()
            self._last_plain = time.monotonic()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _TerminalBar:
    """A live rich progress bar on ``stream``, shown from construction until ``close``."""

    def __init__(self, stream: TextIO) -> None:
        # Forced: ProgressBar decided that this is a terminal (rich would also honour
        # FORCE_COLOR and the like, which may be set for a CI log).
        console = Console(file=stream, force_terminal=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            # Green when done: the default finished colour is grey on a 16-colour terminal.
            BarColumn(bar_width=WIDTH, finished_style="green"),
            TaskProgressColumn(),
            TextColumn(
                "{task.fields[counts]}  {task.fields[rate]} records/s  ETA {task.fields[eta]}"
            ),
            console=console,
            auto_refresh=False,  # redrawn at each update: a batch is the only news
            redirect_stdout=False,  # stdout may go elsewhere (a file) than the bar
            redirect_stderr=stream is sys.stderr,
        )
        self._task: TaskID | None = None
        self._above = _LinesAboveTheBar(console)
        self._rerouted = _reroute_log_handlers(stream, self._above)
        self._progress.start()

    def update(self, p: RebuildProgress) -> None:
        counts, rate, eta = f"{p.position:,}/{p.head:,}", f"{p.rate:,.0f}", _eta(p)
        if self._task is None:
            # Created empty; the update below sets how far it is (rich counts in floats
            # there, in ints here).
            self._task = self._progress.add_task(
                f"{p.name} g{p.generation}", total=1.0, counts=counts, rate=rate, eta=eta
            )
        self._progress.update(
            self._task, completed=p.fraction, refresh=True, counts=counts, rate=rate, eta=eta
        )

    def close(self) -> None:
        try:
            self._above.end_line()
            self._progress.stop()  # the last state stays on screen, its line ended
        finally:
            for handler, stream in self._rerouted:
                handler.setStream(stream)


class _LinesAboveTheBar(io.TextIOBase):
    """What log handlers write to while the bar is shown: each whole line is printed above
    the bar with its colours, unwrapped (the terminal wraps it, so a copied line stays one)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Nothing to do: a partial line waits for its end (or for :meth:`end_line`)."""

    def end_line(self) -> None:
        if self._partial:
            self.write("\n")


def _reroute_log_handlers(
    stream: TextIO, proxy: io.TextIOBase
) -> list[tuple[logging.StreamHandler[TextIO], TextIO]]:
    """Point the root logger's handlers that write to ``stream`` at ``proxy``; returns them
    with their stream, to put back."""
    rerouted = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
            rerouted.append((handler, stream))
            handler.setStream(proxy)
    return rerouted


def _plain_line(p: RebuildProgress) -> str:
    filled = int(p.fraction * WIDTH)
    return (
        f"{p.name} g{p.generation} [{'#' * filled}{'.' * (WIDTH - filled)}] "
        f"{p.fraction:4.0%}  {p.position:,}/{p.head:,}  {p.rate:,.0f} records/s  ETA {_eta(p)}"
    )


def _eta(p: RebuildProgress) -> str:
    return "?" if p.eta_seconds is None else _duration(p.eta_seconds)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
