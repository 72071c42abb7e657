"""The progress display of the long-running commands (``rebuild``, ``hl7 import``): how many
of how many are done, the rate, the ETA and a label. A bar on a terminal, plain lines
elsewhere (a pipe, a CI log).

On a terminal the bar is drawn by ``rich.progress``, which prints anything written meanwhile
*above* the bar and ends the bar's line when it stops. Log lines need help for that: the
logging handler holds the stream itself (bound when logging was configured), so while the
bar is shown, handlers writing to its stream write through the bar's console instead.

Here, not in a command's package, so that every command may use it (the packages of
``adapters`` import each other one way only).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from types import TracebackType
from typing import Self, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

WIDTH = 30
#: On a pipe or a log file, one line every this many seconds instead of redrawing.
PLAIN_INTERVAL = 2.0
#: On a terminal, at most one redraw every this many seconds (the last state is drawn when
#: the bar stops): a redraw per message would cost an import more than its messages.
REDRAW_INTERVAL = 0.1


class ProgressDisplay:
    """``show`` how far the work is, then ``close`` (or use ``with``) before printing
    anything else of one's own. ``unit`` names what is counted (``records``); ``label``
    starts each line and may change between calls."""

    def __init__(self, stream: TextIO, *, unit: str, label: str = "") -> None:
        self.stream = stream
        self.unit = unit
        self.label = label
        # A terminal that cannot move the cursor gets plain lines too.
        dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
        self.interactive = stream.isatty() and not dumb
        self._started = time.monotonic()
        self._last_drawn = float("-inf")
        self._bar: _TerminalBar | None = None

    def show(self, done: int, total: int, *, rate: float | None = None) -> None:
        """``done`` of ``total``; ``rate`` (per second) defaults to ``done`` since the
        display was made (a resumed job knows better: it did not do the first ones)."""
        if rate is None:
            elapsed = time.monotonic() - self._started
            rate = done / elapsed if elapsed > 0 else 0.0
        state = _State(self.label, done, total, rate, self.unit)
        now = time.monotonic()
        if self.interactive:
            if self._bar is None:
                self._bar = _TerminalBar(self.stream)
            redraw = now - self._last_drawn >= REDRAW_INTERVAL or state.fraction >= 1.0
            self._bar.update(state, redraw=redraw)
        else:
            redraw = now - self._last_drawn >= PLAIN_INTERVAL or state.fraction >= 1.0
            if redraw:
                self.stream.write(state.plain_line() + "\n")
                self.stream.flush()
        if redraw:
            self._last_drawn = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _State:
    """One ``show``, formatted for either display."""

    def __init__(self, label: str, done: int, total: int, rate: float, unit: str) -> None:
        self.label, self.done, self.total, self.rate, self.unit = label, done, total, rate, unit
        self.fraction = min(1.0, done / total) if total else 1.0
        remaining = max(0, total - done)
        self.eta = "?" if not rate else _duration(remaining / rate)
        self.counts = f"{done:,}/{total:,} {unit}"
        self.speed = f"{rate:,.0f} {unit}/s"

    def plain_line(self) -> str:
        filled = int(self.fraction * WIDTH)
        return (
            f"{self.label} {self.counts} [{'#' * filled}{'.' * (WIDTH - filled)}] "
            f"{self.fraction:4.0%}  {self.speed}  ETA {self.eta}"
        )


class _TerminalBar:
    """A live rich progress bar on ``stream``, shown from construction until ``close``."""

    def __init__(self, stream: TextIO) -> None:
        # Forced: ProgressDisplay decided that this is a terminal (rich would also honour
        # FORCE_COLOR and the like, which may be set for a CI log).
        console = Console(file=stream, force_terminal=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            # Green when done: the default finished colour is grey on a 16-colour terminal.
            BarColumn(bar_width=WIDTH, finished_style="green"),
            TaskProgressColumn(),
            TextColumn("{task.fields[counts]}  {task.fields[speed]}  ETA {task.fields[eta]}"),
            console=console,
            auto_refresh=False,  # redrawn by update: news comes only with it
            redirect_stdout=False,  # stdout may go elsewhere (a file) than the bar
            redirect_stderr=stream is sys.stderr,
        )
        self._task: TaskID | None = None
        self._above = _LinesAboveTheBar(console)
        self._rerouted = _reroute_log_handlers(stream, self._above)
        self._progress.start()

    def update(self, state: _State, *, redraw: bool) -> None:
        if self._task is None:
            # Counted as a fraction of 1: a total of 0 is then done, not 0% (rich's view).
            # With its fields: adding a task draws it.
            self._task = self._progress.add_task(
                state.label, total=1.0, counts=state.counts, speed=state.speed, eta=state.eta
            )
        self._progress.update(
            self._task,
            description=state.label,
            completed=state.fraction,
            refresh=redraw,
            counts=state.counts,
            speed=state.speed,
            eta=state.eta,
        )

    def close(self) -> None:
        try:
            self._above.end_line()
            self._progress.stop()  # draws the last state, which stays on screen, line ended
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


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
