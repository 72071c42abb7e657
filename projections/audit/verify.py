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

from projections.audit.chain import GENESIS_HASH, ChainLink, LogRow, log_rows_of, row_digest
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


#: A chain link as verify reads it: position and hash (hex).
LinkRow = tuple[int, str]


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
    return verify_rows(
        log_rows_of(log), ((link.position, link.hash) for link in chain),
        head=head, chained_up_to=chained_up_to, parked=parked,
    )  # fmt: skip


def verify_rows(
    log: Iterable[LogRow],
    chain: Iterable[LinkRow],
    *,
    head: ChainLink | None = None,
    chained_up_to: int | None = None,
    parked: Collection[int] = (),
) -> VerifyResult:
    """:func:`verify_chain` over plain rows, as the store streams them: the same hashes as
    :func:`~projections.audit.chain.chain_hash`, computed in one loop without an object per
    row (verify reads the whole log: this loop is its speed)."""
    records = iter(log)
    if parked:
        records = (row for row in records if row[0] not in parked)
    links = iter(chain)
    previous = bytes.fromhex(GENESIS_HASH)
    checked = 0
    record = next(records, None)
    last: LinkRow | None = None

    def bad(position: int, problem: Problem) -> VerifyResult:
        newest: LinkRow | None = (head.position, head.hash) if head is not None else None
        if newest is None:
            newest = last
            for newest in links:  # noqa: B007 - read to the end for the chain's head
                pass
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=position, problem=problem,
            head_hash=newest[1] if newest else GENESIS_HASH,
            head_position=newest[0] if newest else 0,
        )  # fmt: skip

    for link in links:
        last = link
        position = link[0]
        if record is None or record[0] > position:
            return bad(position, "removed")
        if record[0] < position:
            return bad(record[0], "inserted")
        digest = row_digest(previous, record)
        if digest.hex() != link[1]:
            return bad(position, "altered")
        previous = digest
        checked += 1
        record = next(records, None)
    if record is not None and chained_up_to is not None and record[0] <= chained_up_to:
        return bad(record[0], "inserted")
    head_hash, head_position = (last[1], last[0]) if last else (GENESIS_HASH, 0)
    if parked:
        skipped = sorted(parked)
        return VerifyResult(
            ok=False, checked=checked, first_bad_position=skipped[0], problem="parked",
            head_hash=head_hash, head_position=head_position, parked_positions=skipped,
        )  # fmt: skip
    return VerifyResult(
        ok=True, checked=checked, first_bad_position=None,
        head_hash=head_hash, head_position=head_position,
    )  # fmt: skip
