"""ScheduleWaitlist: the patients waiting for a place in one clinic schedule, and the offers
made to them when a place frees.

When a booking releases a slot (cancelled, rescheduled away), the first eligible patient
(by priority, 1 the most urgent, then by when they joined; the slot inside their window and
still to come, not one they let pass) is offered it in the same transaction, and the place is
held for the offer: a racing booking finds the slot full. An offer is accepted (the patient
is booked into the slot) before it expires, or it expires and passes to the next eligible
patient (or frees the place). Both are decided on this aggregate's version, so an offer is
accepted or passed on exactly once, whoever races.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.capacity.identity import waitlist_entry_id_for, waitlist_id_for
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainValidationError, InvalidTransitionError

Entry = dict[str, Any]
MOST_URGENT, LEAST_URGENT = 1, 5


class ScheduleWaitlist(AuditedAggregate):
    class WaitlistOpened(AuditedAggregate.Created):
        schedule_id: UUID

        def apply(self, waitlist: ScheduleWaitlist) -> None:
            waitlist.schedule_id = self.schedule_id
            waitlist.entries, waitlist.joined = {}, 0

    class PatientWaitlisted(AuditedAggregate.Event):
        entry_id: UUID
        patient_ref: str
        #: 1 (most urgent) to 5.
        priority: int
        #: The window the patient can come in (either end open when null).
        earliest: datetime | None
        latest: datetime | None

        def apply(self, waitlist: ScheduleWaitlist) -> None:
            waitlist.joined += 1
            waitlist.entries[self.entry_id] = {
                "patient_ref": self.patient_ref, "priority": self.priority,
                "earliest": self.earliest, "latest": self.latest, "seq": waitlist.joined,
                "since": self.occurred_at, "offer": None, "passed": [],
            }  # fmt: skip

    class SlotOffered(AuditedAggregate.Event):
        entry_id: UUID
        start: datetime
        end: datetime
        expires_at: datetime

        def apply(self, waitlist: ScheduleWaitlist) -> None:
            waitlist.entries[self.entry_id]["offer"] = {
                "start": self.start, "end": self.end, "expires_at": self.expires_at,
            }  # fmt: skip

    class OfferAccepted(AuditedAggregate.Event):
        """The patient took the slot: booked as ``visit_id``, and off the waitlist."""

        entry_id: UUID
        visit_id: UUID

        def apply(self, waitlist: ScheduleWaitlist) -> None:
            waitlist.entries.pop(self.entry_id)

    class OfferExpired(AuditedAggregate.Event):
        """The offer lapsed (or the patient declined it): the patient waits on, and is not
        offered that slot again."""

        entry_id: UUID
        #: Declined before it was due (a clerk recorded the patient's answer).
        declined: bool

        def apply(self, waitlist: ScheduleWaitlist) -> None:
            entry = waitlist.entries[self.entry_id]
            entry["passed"] = [*entry["passed"], entry["offer"]["start"]]
            entry["offer"] = None

    if TYPE_CHECKING:  # set by WaitlistOpened.apply (class annotations would be __init__'s)
        schedule_id: UUID
        entries: dict[UUID, Entry]
        joined: int

    @staticmethod
    def create_id(schedule_id: UUID, **_: Any) -> Any:
        return waitlist_id_for(schedule_id)

    @classmethod
    def open(cls, *, schedule_id: UUID, at: datetime) -> ScheduleWaitlist:
        waitlist: ScheduleWaitlist = cls._create(
            cls.WaitlistOpened, schedule_id=schedule_id, occurred_at=at
        )
        return waitlist

    def add(
        self, *, patient_ref: str, priority: int, earliest: datetime | None,
        latest: datetime | None, at: datetime,
    ) -> UUID:  # fmt: skip
        if not MOST_URGENT <= priority <= LEAST_URGENT:
            raise DomainValidationError("must be 1 (most urgent) to 5", field="priority")
        if earliest is not None and latest is not None and latest <= earliest:
            raise DomainValidationError("must be after earliest", field="latest")
        entry_id = waitlist_entry_id_for(self.id, patient_ref)
        if entry_id in self.entries:
            raise InvalidTransitionError("the patient is on this waitlist already")
        self.trigger_event(
            self.PatientWaitlisted, entry_id=entry_id, patient_ref=patient_ref,
            priority=priority, earliest=earliest, latest=latest, occurred_at=at,
        )  # fmt: skip
        return entry_id

    def first_eligible(self, start: datetime, now: datetime) -> UUID | None:
        """Who is offered a slot starting at ``start`` that frees at ``now``: the most urgent,
        longest waiting patient without an open offer whose window holds it."""
        if start <= now:
            return None
        eligible = [
            (entry["priority"], entry["seq"], entry_id)
            for entry_id, entry in self.entries.items()
            if entry["offer"] is None and start not in entry["passed"]
            and (entry["earliest"] is None or entry["earliest"] <= start)
            and (entry["latest"] is None or start < entry["latest"])
        ]  # fmt: skip
        return min(eligible)[2] if eligible else None

    def offer(self, entry_id: UUID, *, start: datetime, end: datetime, expires_at: datetime,
              at: datetime) -> None:  # fmt: skip
        self.trigger_event(
            self.SlotOffered, entry_id=entry_id, start=start, end=end, expires_at=expires_at,
            occurred_at=at,
        )  # fmt: skip

    def open_offer(self, entry_id: UUID) -> dict[str, Any]:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise DomainValidationError("is not on this waitlist", field="entryId")
        if entry["offer"] is None:
            raise InvalidTransitionError("the patient holds no open offer")
        offer: dict[str, Any] = entry["offer"]
        return offer

    def accept(self, entry_id: UUID, *, visit_id: UUID, now: datetime, at: datetime) -> None:
        if now >= self.open_offer(entry_id)["expires_at"]:
            raise InvalidTransitionError("the offer has expired")
        self.trigger_event(self.OfferAccepted, entry_id=entry_id, visit_id=visit_id,
                           occurred_at=at)  # fmt: skip

    def expire(
        self, entry_id: UUID, *, now: datetime, at: datetime, declined: bool = False
    ) -> dict[str, Any]:
        """Let the offer lapse (refused before it is due, unless the patient declined it);
        returns the offer."""
        offer = self.open_offer(entry_id)
        if not declined and now < offer["expires_at"]:
            raise InvalidTransitionError("the offer has not expired yet")
        self.trigger_event(self.OfferExpired, entry_id=entry_id, declined=declined,
                           occurred_at=at)  # fmt: skip
        return offer

    def due_offers(self, now: datetime) -> list[UUID]:
        return [
            entry_id for entry_id, entry in self.entries.items()
            if entry["offer"] is not None and entry["offer"]["expires_at"] <= now
        ]  # fmt: skip
