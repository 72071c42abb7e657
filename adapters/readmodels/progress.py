"""A progress bar with rate and ETA for ``rebuild`` (a few lines: no dependency needed)."""

from __future__ import annotations

import time
from typing import TextIO

from adapters.readmodels.rebuild import RebuildProgress

WIDTH = 30
#: On a pipe or a log file, one line every this many seconds instead of redrawing.
PLAIN_INTERVAL = 2.0


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_plain = 0.0
        self._drawn = False

    def update(self, p: RebuildProgress) -> None:
        filled = int(p.fraction * WIDTH)
        eta = "?" if p.eta_seconds is None else _duration(p.eta_seconds)
        line = (
            f"{p.name} g{p.generation} [{'#' * filled}{'.' * (WIDTH - filled)}] "
            f"{p.fraction:4.0%}  {p.position:,}/{p.head:,}  {p.rate:,.0f} records/s  ETA {eta}"
        )
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
            self._drawn = True
        elif time.monotonic() - self._last_plain >= PLAIN_INTERVAL or p.fraction >= 1.0:
            self.stream.write(line + "\n")
            self._last_plain = time.monotonic()
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
