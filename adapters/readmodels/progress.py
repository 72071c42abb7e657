"""The progress display of ``rebuild``: :class:`adapters.progress.ProgressDisplay` fed with
the rebuild's :class:`RebuildProgress` reports, labelled with the read model and generation."""

from __future__ import annotations

from typing import TextIO

from adapters.progress import ProgressDisplay
from adapters.readmodels.rebuild import RebuildProgress


class ProgressBar(ProgressDisplay):
    """``update`` with each :class:`RebuildProgress`, then ``close`` (or use ``with``)
    before printing anything else of one's own."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream, unit="records")

    def update(self, p: RebuildProgress) -> None:
        self.label = f"{p.name} g{p.generation}"
        # The log's position against its head; the rate is of this run's records (a resumed
        # rebuild starts past the first ones).
        self.show(p.position, p.head, rate=p.rate)
