"""The spend book of a budget line: each posting, what of it is still open, and its releases.

Spend goes through three stages, each posting named by a reference unique per line and stage:
a pre-encumbrance (requisition), a commitment (purchase order, relieving its requisition) and
an actual (invoice or payroll, relieving its purchase order). A posting stays open until the
next stage relieves it, it is released (a commitment) or reversed.

The line holds them in one :class:`SpendBook`, which only its spend events' ``apply`` update,
and reads them as its own attributes (``line.postings``, ``line.committed_minor``: see
:class:`FromBook`). The book also keeps, per stage, what its postings still hold open (the
totals ``available`` subtracts) and everything the stage ever moved, in or out: that bounds
any one period's net movement, which the read model stores. Every total is in integer minor
units, so every sum is exact. The rules of the spend commands are in
:mod:`domain.budget.spending`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypedDict, TypeVar, overload
from uuid import UUID

from domain.budget import vocabulary as v


class Posting(TypedDict):
    amount: int
    #: What is still open: not yet relieved by the next stage, released or reversed.
    open: int
    #: The reference of the posting of the stage before that this one relieves.
    relieves: str | None
    #: The event that recorded the posting (a reversal names it).
    event_id: UUID
    reversed: bool


class Release(TypedDict):
    """A release named by the caller (its release reference): of which commitment, how much."""

    reference: str
    amount: int


#: stage → reference → posting.
Book = dict[str, dict[str, Posting]]


def empty_book() -> Book:
    return {stage: {} for stage in v.STAGES}


def no_movements() -> dict[str, int]:
    """stage → everything it ever moved, in or out (minor units), before any posting."""
    return dict.fromkeys(v.STAGES, 0)


def new_posting(amount: int, relieves: str | None, event_id: UUID) -> Posting:
    """A posting as recorded: all of it open."""
    return {
        "amount": amount, "open": amount, "relieves": relieves, "event_id": event_id,
        "reversed": False,
    }  # fmt: skip


class Posted(Protocol):
    """What a posting event says of the posting it records."""

    @property
    def reference(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def event_id(self) -> UUID: ...


@dataclass
class SpendBook:
    """Every posting and release of a line, and the totals they make (minor units)."""

    postings: Book = field(default_factory=empty_book)
    releases: dict[str, Release] = field(default_factory=dict)
    #: stage → everything it ever moved, in or out: bounds a period's net movement.
    moved_minor: dict[str, int] = field(default_factory=no_movements)
    pre_encumbered_minor: int = 0
    committed_minor: int = 0
    actual_minor: int = 0

    def post(self, stage: str, posted: Posted, relieves: str | None, relieved: int) -> None:
        """Open the posting of ``stage``; it relieves ``relieved`` of ``relieves``, a posting
        of the stage before."""
        self.postings[stage][posted.reference] = new_posting(
            posted.amount_minor, relieves, posted.event_id
        )
        self._add_open(stage, posted.amount_minor)
        relieved_stage = v.RELIEVES[stage]
        if relieves is not None and relieved and relieved_stage is not None:
            self._relieve(relieved_stage, relieves, relieved)

    def release(self, reference: str, amount: int, release_reference: str | None) -> None:
        self._relieve(v.COMMITMENT, reference, amount)
        if release_reference is not None:
            self.releases[release_reference] = {"reference": reference, "amount": amount}

    def reverse(self, stage: str, reference: str, amount: int) -> None:
        self._relieve(stage, reference, amount)
        self.postings[stage][reference]["reversed"] = True

    def _relieve(self, stage: str, reference: str, amount: int) -> None:
        self.postings[stage][reference]["open"] -= amount
        self._add_open(stage, -amount)

    def _add_open(self, stage: str, amount: int) -> None:
        self.moved_minor[stage] += abs(amount)
        if stage == v.PRE_ENCUMBRANCE:
            self.pre_encumbered_minor += amount
        elif stage == v.COMMITMENT:
            self.committed_minor += amount
        else:
            self.actual_minor += amount


T = TypeVar("T")


class HoldsBook(Protocol):
    """A line, as :class:`FromBook` reads it."""

    spend: SpendBook


class FromBook(Generic[T]):
    """An attribute of the line's :class:`SpendBook` (``line.spend``), read as the line's own:
    ``committed_minor = FromBook[int]("committed_minor")``. Callers and the rules read the
    line's figures by the names they always had; only the events' ``apply``, through the
    book's methods, change them."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, line: None, owner: type | None = None) -> FromBook[T]: ...
    @overload
    def __get__(self, line: HoldsBook, owner: type | None = None) -> T: ...
    def __get__(self, line: HoldsBook | None, owner: type | None = None) -> T | FromBook[T]:
        # Read on the class (introspection, documentation tools), the descriptor answers
        # for itself rather than failing on a missing book.
        if line is None:
            return self
        value: T = getattr(line.spend, self.name)
        return value
