"""Waitlist offers on the application (issue 16, item 3): a freed slot is offered to the
first eligible patient and held; past its time the expiry job passes it on, exactly once
however many jobs run; an expired offer cannot be accepted; a patient is not offered a slot
they let pass, nor one outside their window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from adapters.memory import MEMORY_ENV
from application.capacity.commands import CancelSession, CreateSchedule, JoinWaitlist
from application.capacity.offer_expiry import OfferExpiry
from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits import commands as v
from application.visits.waitlist import AcceptOffer
from domain.capacity.identity import slot_id_for, waitlist_id_for
from domain.capacity.slot import SlotClaims
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.errors import DomainError, InvalidTransitionError

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
SLOT = T0 + timedelta(days=2, hours=1)  # Wednesday 09:00 UTC
ADMIN = RequestContext("admin-1", "admin", "w")
CLERK = RequestContext("clerk-1", "clerk", "w")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> PatientServices:
    return PatientServices(env=dict(MEMORY_ENV), clock=clock)


def setup(
    app: PatientServices, *joining: tuple[str, datetime | None], session_cancelled: bool = False
) -> tuple[UUID, UUID]:
    """A one-place slot booked by P-1, the patients joining the waitlist (then, if asked, the
    session cancelled), then P-1 cancels."""
    schedule = app.execute(CreateSchedule(
        service_unit="OPD", start=SLOT, end=SLOT + timedelta(minutes=30), slot_minutes=30,
        capacity_per_slot=1,
    ), ADMIN).id  # fmt: skip
    first = app.execute(v.ScheduleVisit(patient_ref="P-1", visit_class="AMB",
                                        service_unit="OPD", scheduled_start=SLOT,
                                        schedule_id=schedule), CLERK).id  # fmt: skip
    for patient, latest in joining:
        app.execute(JoinWaitlist(patient_ref=patient, latest=latest), CLERK, target=schedule)
    if session_cancelled:
        app.execute(CancelSession(date=SLOT.date(), reason="clinic closed"), ADMIN,
                    target=schedule)  # fmt: skip
    app.execute(v.CancelVisit(reason="moved away"), CLERK, target=first)
    return schedule, first


def waitlist(app: PatientServices, schedule: UUID) -> ScheduleWaitlist:
    return app.get_aggregate(waitlist_id_for(schedule), ScheduleWaitlist)


def entry_of(app: PatientServices, schedule: UUID, patient: str) -> UUID:
    return next(
        e for e, x in waitlist(app, schedule).entries.items() if x["patient_ref"] == patient
    )


def claims(app: PatientServices, schedule: UUID) -> list[UUID]:
    slot: SlotClaims = app.repository.get(slot_id_for(schedule, SLOT))
    return list(slot.claims)


def job(app: PatientServices, schedule: UUID) -> OfferExpiry:
    """The job, its candidates from the waitlist itself (the read model's role)."""
    return OfferExpiry(
        app, lambda now: [(schedule, e) for e in waitlist(app, schedule).due_offers(now)]
    )


def test_a_lapsed_offer_passes_on_exactly_once_and_cannot_be_accepted(
    app: PatientServices, clock: Clock
) -> None:
    schedule, _ = setup(app, ("P-2", None), ("P-3", None))
    second, third = entry_of(app, schedule, "P-2"), entry_of(app, schedule, "P-3")
    assert claims(app, schedule) == [second]  # held for the first to join
    offer = waitlist(app, schedule).entries[second]["offer"]
    assert offer["expires_at"] == T0 + timedelta(hours=2)  # the default offer time

    assert job(app, schedule).check() == 0  # not due yet
    clock.now = T0 + timedelta(hours=2, minutes=1)
    head = app.recorder.max_notification_id()
    assert job(app, schedule).check() == 1
    after_first = app.recorder.max_notification_id()
    assert job(app, schedule).check() == 0  # another process's pass: nothing left to do
    assert app.recorder.max_notification_id() == after_first > head
    assert claims(app, schedule) == [third]
    with pytest.raises(InvalidTransitionError):
        app.execute(AcceptOffer(entry_id=second), CLERK, target=schedule)

    clock.now = T0 + timedelta(hours=4, minutes=2)
    with pytest.raises(InvalidTransitionError, match="expired"):
        app.execute(AcceptOffer(entry_id=third), CLERK, target=schedule)
    assert job(app, schedule).check() == 1
    # Both let it pass: the place is free, and neither is offered that slot again.
    assert claims(app, schedule) == []
    assert all(e["offer"] is None for e in waitlist(app, schedule).entries.values())


def test_an_accepted_offer_books_the_patient_and_nothing_is_left_to_expire(
    app: PatientServices, clock: Clock
) -> None:
    schedule, _ = setup(app, ("P-2", None))
    entry = entry_of(app, schedule, "P-2")
    visit = app.execute(AcceptOffer(entry_id=entry), CLERK, target=schedule)
    assert visit.created and claims(app, schedule) == [visit.id]
    assert app.get_visit(visit.id).patient_ref == "P-2"
    assert entry not in waitlist(app, schedule).entries
    clock.now = T0 + timedelta(days=1)
    assert job(app, schedule).check() == 0
    with pytest.raises(DomainError):
        app.execute(AcceptOffer(entry_id=entry), CLERK, target=schedule)  # off the list


def test_a_patient_whose_window_ends_before_the_slot_is_passed_over(
    app: PatientServices,
) -> None:
    schedule, _ = setup(app, ("P-2", SLOT), ("P-3", None))  # P-2 only before the slot
    assert claims(app, schedule) == [entry_of(app, schedule, "P-3")]
    assert waitlist(app, schedule).entries[entry_of(app, schedule, "P-2")]["offer"] is None


def test_an_offer_made_shortly_before_its_slot_ends_when_the_slot_begins(
    app: PatientServices, clock: Clock
) -> None:
    clock.now = SLOT - timedelta(hours=1)  # the offer time (2 h) would run past the start
    schedule, _ = setup(app, ("P-2", None))
    offer = waitlist(app, schedule).entries[entry_of(app, schedule, "P-2")]["offer"]
    assert offer["expires_at"] == SLOT


def test_a_cancelled_sessions_freed_place_goes_to_nobody(app: PatientServices) -> None:
    schedule, _ = setup(app, ("P-2", None), session_cancelled=True)
    assert claims(app, schedule) == []
    assert waitlist(app, schedule).entries[entry_of(app, schedule, "P-2")]["offer"] is None
