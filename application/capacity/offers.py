"""A freed place in a slot goes to the waitlist first: the one rule both a release (a visit
cancelled or moved away) and a lapsed offer follow, in the transaction that freed it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from application.shared.commands import Loader, optional
from domain.capacity.identity import waitlist_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.slot import SlotClaims
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.envelope import decision_time

T = TypeVar("T", bound=Aggregate)


def offer_freed_place(
    load: Loader[Any], slot: SlotClaims, at: datetime, offer_for: timedelta,
    keep: Callable[[Aggregate], None], *, waitlist: ScheduleWaitlist | None = None,
) -> bool:  # fmt: skip
    """Offer the place just freed in ``slot`` to the first eligible patient on its schedule's
    waitlist, holding it for them for ``offer_for`` (``keep`` saves what changed). False, and
    nothing changed, when nobody is eligible or the slot has no free place after all."""
    if waitlist is None:
        waitlist = optional(load, waitlist_id_for(slot.schedule_id), ScheduleWaitlist)
    if waitlist is None:
        return False
    now = decision_time()
    entry = waitlist.first_eligible(slot.start, now)
    if entry is None:
        return False
    schedule: ClinicSchedule = load(slot.schedule_id, ClinicSchedule)
    if schedule.find_slot(slot.start) is None:
        return False  # its session was cancelled: nothing to offer
    if len(slot.claims) >= schedule.capacity_per_slot:
        return False  # still full (its overbooking places are not offered)
    # Held until the slot begins at the latest: a place cannot be taken once it has begun.
    expires_at = min(now + offer_for, slot.start)
    waitlist.offer(entry, start=slot.start, end=slot.end, expires_at=expires_at, at=at)
    slot.claim(entry, capacity=schedule.capacity_per_slot,
               allowance=schedule.overbook_allowance, at=at)  # fmt: skip
    keep(waitlist)
    keep(slot)
    return True
