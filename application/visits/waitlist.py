"""Accepting a waitlist offer: the patient is booked into the slot held for them.

One transaction: the visit is scheduled into the offered slot (the place the offer held
becomes the visit's claim), the patient's bookings hold it (``DOUBLE_BOOKING`` if the patient
has an overlapping booking since: the offer stays open), and the entry leaves the waitlist. An
offer past its time is refused (``INVALID_TRANSITION``), whether or not the expiry job has
passed it on yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.shared.commands import AggregateCommand, Loader, Ref
from application.shared.policies import Policies
from application.visits.bookings import follow_bookings
from application.visits.commands import BOOKING_ATTEMPTS, CLERK
from application.visits.values import VisitClass
from domain.capacity.identity import waitlist_id_for
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.envelope import decision_time
from domain.visits.visit import PatientVisit


class AcceptOffer(AggregateCommand, kw_only=True, frozen=True):
    """``POST /schedules/{id}/waitlist/accept``: 201, naming the new visit."""

    roles = frozenset({CLERK})
    creates: ClassVar[bool] = True
    max_attempts: ClassVar[int] = BOOKING_ATTEMPTS
    aggregate_type = ClinicSchedule
    #: The patient's entry on the waitlist (from `GET /schedules/{id}/waitlist`).
    entry_id: UUID
    visit_class: VisitClass = "AMB"
    #: The reason for the visit, as a code.
    reason_code: Ref | None = None

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        assert target is not None, "a command on a schedule needs its target"
        schedule: ClinicSchedule = load(target, ClinicSchedule)
        waitlist: ScheduleWaitlist = load(waitlist_id_for(target), ScheduleWaitlist)
        offer = waitlist.open_offer(self.entry_id)
        patient = waitlist.entries[self.entry_id]["patient_ref"]
        visit = PatientVisit.schedule(
            patient_ref=patient, visit_class=self.visit_class, service_unit=schedule.service_unit,
            scheduled_start=offer["start"], scheduled_end=offer["end"],
            reason_code=self.reason_code, at=at,
        )  # fmt: skip
        waitlist.accept(self.entry_id, visit_id=visit.id, now=decision_time(), at=at)
        follows = follow_bookings(
            load, visit, None, at, offer_for=policies.visit.waitlist_offer, schedule=schedule,
            taking_over=self.entry_id,
        )  # fmt: skip
        return [visit, waitlist, *follows]
