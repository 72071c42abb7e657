"""Verify: the stored log and the stored chain merged in position order, first problem named.

``altered`` (a position in both whose recomputed hash differs from the stored one),
``removed`` (a chained position missing from the log), ``inserted`` (a log row the chain does
not have, at or below the chain head), or ``parked`` (the chain lacks records its worker
could not apply: not tampering, but the trail is not complete until a rebuild applies them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Literal

import msgspec

from projections.audit.chain import GENESIS_HASH, ChainLink, chain_hash
from projections.shared.records import StoredRecord

#: The problems verify names (see above); ``parked`` is not tampering.
Problem = Literal["altered", "removed", "inserted", "parked"]


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The outcome of :func:`verify_chain` (the JSON of ``GET /audit/verify``)."""

    #: Whether the whole chain checked out against the log (false for any problem, parked included).
    ok: bool
    #: Chained entries found intact, in order, before the first problem (all, if ok).
    checked: int
    #: The log position of the first problem (null when ok).
    first_bad_position: int | None
    #: The stored chain's newest hash: record it elsewhere (a ticket, a notary) to anchor
    #: the chain, since someone who rewrites the log and the chain together is not caught.
    head_hash: str
    #: The position of the stored chain's newest entry (0 for an empty chain).
    head_position: int
    #: What is wrong first: altered, removed, inserted, or parked (not tampering); null when ok.
    problem: Problem | None = None
    #: Log positions the chain skips because the audit worker parked them.
    parked_positions: list[int] = msgspec.field(default_factory=list)


def _last(links: Iterable[ChainLink], last: ChainLink | None) -> ChainLink | None:
    for link in links:
        last = link
    return last


def verify_chain(
    log: Iterable[StoredRecord],
    chain: Iterable[ChainLink],
    *,
    head: ChainLink | None = None,
    chained_up_to: int | None = None,
    parked: Collection[int] = (),
) -> VerifyResult:
    """Check the chain against the log; both ordered by position.

    ``chained_up_to`` is the position up to which every log row must be chained (the
    projection's tracked position; by default the last link's): a log row after the last
    link but not after it is ``inserted`` (or the chain's tail was cut off); rows after it are
    not chained yet and are not looked at. ``head`` is the chain's last link when the caller
    knows it (else the chain is read to its end after a problem, to report it).

    ``parked`` are positions the worker set aside: the chain runs past them (each link
    chains to the one before it), so they are skipped in the log, and the result is
    ``parked`` rather than ok unless tampering is found first."""
    records = (record for record in log if record.position not in parked)
    links = iter(chain)
    previous = GENESIS_HASH
    checked = 0
    record = next(records, None)
    last: ChainLink | None = None

    def bad(position: int, problem: Problem) -> VerifyResult:
        newest = head or _last(links, last)
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=position, problem=problem,
            head_hash=newest.hash if newest else GENESIS_HASH,
            head_position=newest.position if newest else 0,
        )  # fmt: skip

    for link in links:
        last = link
        if record is None or record.position > link.position:
            return bad(link.position, "removed")
        if record.position < link.position:
            return bad(record.position, "inserted")
        computed = chain_hash(previous, record)
        if computed != link.hash:
            return bad(link.position, "altered")
        previous = computed
        checked += 1
        record = next(records, None)
    if record is not None and chained_up_to is not None and record.position <= chained_up_to:
        return bad(record.position, "inserted")
    if parked:
        skipped = sorted(parked)
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=skipped[0], problem="parked",
            head_hash=last.hash if last else GENESIS_HASH,
            head_position=last.position if last else 0, parked_positions=skipped,
        )  # fmt: skip
    return VerifyResult(
        ok=True, checked=checked, first_bad_position=None,
        head_hash=last.hash if last else GENESIS_HASH,
        head_position=last.position if last else 0,
    )  # fmt: skip
