"""Which data keys a request opened personal text with, and when, so that its response can
be held to the erasure rule: no plaintext goes out after an erasure of its subject answered.

An erasure answers :data:`GRACE_SECONDS` after its keys were destroyed (the privacy route
waits). A response that goes out within that long of the last time its keys were known to
be live therefore goes out before the erasure's answer; one that would go out later is
checked again first (:mod:`adapters.http.kit.fresh_keys`). Only elapsed time within each
process is compared, so the processes' clocks need not agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: How long an erasure waits before it answers, and how long after its keys were last
#: known to be live a response may go out without checking them again.
GRACE_SECONDS = 2.0


class KeyUses:
    """The live keys a request has opened text with, each with when it was last known live."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        #: Keys found destroyed: text the request showed as erased.
        self.erased: set[str] = set()

    def note(self, key_ids: Iterable[str], at: float) -> None:
        for key_id in key_ids:
            self._seen.setdefault(key_id, at)

    @property
    def any(self) -> bool:
        """Whether the request read any sealed text (open or erased)."""
        return bool(self._seen or self.erased)

    def stale(self, now: float) -> list[str]:
        """The keys last known live :data:`GRACE_SECONDS` ago or longer."""
        return sorted(k for k, at in self._seen.items() if now - at >= GRACE_SECONDS)

    def confirmed(self, key_ids: Iterable[str], at: float) -> None:
        for key_id in key_ids:
            self._seen[key_id] = at


_uses: ContextVar[KeyUses | None] = ContextVar("patient_services_key_uses", default=None)


def opened_with(live: Iterable[str], erased: Iterable[str], at: float) -> None:
    """Note that text was opened with the ``live`` keys, known live at ``at`` (the
    :func:`time.monotonic` taken *before* they were looked up: the erasure may have come
    any time after that), and shown as erased for the ``erased`` ones."""
    uses = _uses.get()
    if uses is not None:
        uses.note(live, at)
        uses.erased.update(erased)


def showed_erased_text() -> bool:
    """Whether the current request read text whose key is destroyed. Its answer must then
    not be a 304: the copy the client holds under the same version may be from before."""
    uses = _uses.get()
    return uses is not None and bool(uses.erased)


@contextmanager
def tracked() -> Iterator[KeyUses]:
    """Note the keys the code run inside opens text with (worker threads the request hands
    work to see the same record: a context is copied with the reference)."""
    uses = KeyUses()
    token = _uses.set(uses)
    try:
        yield uses
    finally:
        _uses.reset(token)
