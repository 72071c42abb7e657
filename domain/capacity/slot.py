"""SlotClaims: who holds a place in one slot of a clinic schedule (FHIR Slot).

One aggregate per slot, its id derived from the schedule and the slot's start
(:func:`~domain.capacity.identity.slot_id_for`): concurrent bookings into the same slot all
write it, so the store's version check lets one win each round and the losers decide
again on the new state. Bookings into different slots never meet. A slot holds at most its
capacity plus the schedule's overbooking allowance, except for a claim ``forced`` back by a
correction (a no-show reverted: the patient was there, whoever took the place since).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.capacity.errors import SlotFullError
from domain.capacity.identity import slot_id_for
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainValidationError

#: Why a claim was released, as the release records it.
RELEASE_REASONS = ("cancelled", "no-show", "rescheduled", "entered-in-error")


class SlotClaims(AuditedAggregate):
    class SlotOpened(AuditedAggregate.Created):
        """The slot's first claim: the slot, named, and the visit that claims it."""

        schedule_id: UUID
        start: datetime
        end: datetime
        visit_id: UUID
        #: The places the slot had when claimed (capacity + overbooking allowance).
        places: int

        def apply(self, slot: SlotClaims) -> None:
            slot.schedule_id, slot.start, slot.end = self.schedule_id, self.start, self.end
            slot.claims = [self.visit_id]

    class SlotClaimed(AuditedAggregate.Event):
        visit_id: UUID
        #: The places the slot had when claimed (capacity + overbooking allowance).
        places: int
        #: The claim took a place beyond the slot's capacity (its overbooking allowance).
        overbooked: bool
        #: The claim was restored beyond the places by a correction.
        forced: bool
        #: The claim restores one a no-show released (the no-show was reverted).
        restored: bool

        def apply(self, slot: SlotClaims) -> None:
            slot.claims.append(self.visit_id)

    class SlotReleased(AuditedAggregate.Event):
        visit_id: UUID
        #: cancelled, no-show, rescheduled or entered-in-error.
        why: str

        def apply(self, slot: SlotClaims) -> None:
            slot.claims.remove(self.visit_id)

    if TYPE_CHECKING:  # set by SlotOpened.apply (class annotations would be __init__'s)
        schedule_id: UUID
        start: datetime
        end: datetime
        claims: list[UUID]

    @staticmethod
    def create_id(schedule_id: UUID, start: datetime, **_: Any) -> Any:
        return slot_id_for(schedule_id, start)

    @classmethod
    def open(
        cls, *, schedule_id: UUID, start: datetime, end: datetime, visit_id: UUID,
        places: int, at: datetime,
    ) -> SlotClaims:  # fmt: skip
        """The slot with its first claim (a slot has at least one place)."""
        slot: SlotClaims = cls._create(
            cls.SlotOpened, schedule_id=schedule_id, start=start, end=end, visit_id=visit_id,
            places=places, occurred_at=at,
        )  # fmt: skip
        return slot

    def claim(
        self, visit_id: UUID, *, capacity: int, allowance: int, at: datetime, forced: bool = False
    ) -> None:
        """Claim a place; ``forced``: a reverted no-show's claim, restored even beyond the
        places (recorded as ``restored``, and ``forced`` when it is beyond them)."""
        if visit_id in self.claims:
            raise DomainValidationError("the visit holds this slot already", field="scheduledStart")
        places = capacity + allowance
        if len(self.claims) >= places and not forced:
            raise SlotFullError(
                f"the slot is full: {len(self.claims)} of {places} places are taken",
                field="scheduledStart",
            )
        self.trigger_event(
            self.SlotClaimed, visit_id=visit_id, places=places,
            overbooked=len(self.claims) >= capacity, forced=len(self.claims) >= places,
            restored=forced, occurred_at=at,
        )  # fmt: skip

    def release(self, visit_id: UUID, *, why: str, at: datetime) -> bool:
        """Free the visit's place; False (and nothing recorded) if it holds none."""
        if visit_id not in self.claims:
            return False
        self.trigger_event(self.SlotReleased, visit_id=visit_id, why=why, occurred_at=at)
        return True
