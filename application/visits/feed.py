"""One feed message (an HL7 v2 ADT or SIU message) applied to one visit as one transaction.

A message names a visit and says what happened to it; what that means in commands depends on
where the visit stands. An admit (A01) of a visit we have never seen registers it and admits
it; of a pre-admitted (scheduled) one it records the arrival first; of one already in the
department it only admits. An update (A08) carries the whole picture, not a diff, so only the
details that differ are corrected. :class:`ApplyVisitMessage` holds the message's commands as
data and decides them against the visit as it is: every step, or none, is saved together with
the record of the message (its source identity), so a message is never half applied and a
resend records nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application.shared.commands import Command, Loader, Ref
from application.shared.errors import NotFoundError
from application.shared.policies import Policies
from application.visits.bookings import VisitBefore, follow_bookings
from application.visits.commands import (
    INTEGRATION,
    CancelAdmission,
    CorrectVisitDetails,
    MarkEnteredInError,
    RegisterArrival,
    RegisterWalkIn,
    RescheduleVisit,
    ScheduleVisit,
    VisitCommand,
)
from application.visits.values import VisitDetailChanges
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ADMITTED, SCHEDULED


class ApplyVisitMessage(Command, kw_only=True, frozen=True):
    """The commands of one feed message for the visit ``visit_id``.

    - ``creation``: registers the visit when it does not exist yet (its id must be
      ``visit_id``); without it a message for an unknown visit is refused ``NOT_FOUND``
      (a transfer that arrived before its admission).
    - ``arrival``: recorded first when the visit is still scheduled (pre-admitted).
    - ``details``: the details the message states; those that differ are corrected.
    - ``reschedule``: the booking's times, applied when they differ from the visit's.
    - ``cancel_registration``: an admitted visit's admission is cancelled; any other
      visit was registered in error (HL7 A11 cancels "the admit or the visit").
    - ``steps``: then applied in order.
    """

    roles: ClassVar[frozenset[str]] = frozenset({INTEGRATION})

    visit_id: UUID
    #: What the message was (``ADT^A01``): the audit trail names refused attempts by it.
    message_type: Ref
    creation: RegisterWalkIn | ScheduleVisit | None = None
    arrival: RegisterArrival | None = None
    details: VisitDetailChanges | None = None
    reschedule: RescheduleVisit | None = None
    cancel_registration: bool = False
    steps: list[Any] = msgspec.field(default_factory=list)

    def audit_target(self) -> UUID | None:
        return self.visit_id

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        visit = self._existing(load)
        before = VisitBefore.of(visit) if visit is not None else None
        if visit is None:
            visit = self.creation.create(at, policies)  # type: ignore[union-attr]
            assert visit.id == self.visit_id, "a feed creates the visit its message names"
        elif self.arrival is not None and visit.status == SCHEDULED:
            self.arrival.apply(visit, at, policies)
        if self.details is not None:
            changed = _changed(visit, self.details)
            if changed is not None:
                CorrectVisitDetails(changes=changed, reason=self.reason).apply(visit, at, policies)
        if self.reschedule is not None and (
            (visit.scheduled_start, visit.scheduled_end)
            != (self.reschedule.scheduled_start, self.reschedule.scheduled_end)
        ):
            self.reschedule.apply_loading(visit, load, at, policies)
        if self.cancel_registration:
            reason = self.reason or self.message_type
            if visit.status == ADMITTED:
                CancelAdmission(reason=reason).apply(visit, at, policies)
            else:
                MarkEnteredInError(reason=reason).apply(visit, at, policies)
        for step in self.steps:
            assert isinstance(step, VisitCommand), "a feed step is a visit command"
            step.apply(visit, at, policies)
        return [
            visit,
            *follow_bookings(load, visit, before, at, offer_for=policies.visit.waitlist_offer),
        ]

    def _existing(self, load: Loader[Any]) -> PatientVisit | None:
        try:
            visit: PatientVisit = load(self.visit_id, PatientVisit)
        except NotFoundError:
            if self.creation is None:
                raise
            return None
        return visit


def _changed(visit: PatientVisit, stated: VisitDetailChanges) -> VisitDetailChanges | None:
    """The stated details that differ from the visit's, or None when none does."""
    differing = {
        name: value for name, value in stated.given().items() if getattr(visit, name) != value
    }
    return VisitDetailChanges(**differing) if differing else None
