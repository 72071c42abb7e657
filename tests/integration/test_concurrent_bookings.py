"""Bookings racing into one slot and one patient's calendar, on real SQLite and PostgreSQL
(issue 16, item 2): N concurrent bookings into a slot of k places give exactly k successes and
N − k ``SLOT_FULL``; concurrent overlapping bookings of one patient give exactly one success
and the rest ``DOUBLE_BOOKING``. Each thread has its own application (its own connection), as
API processes do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import UUID

from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.capacity.commands import CreateSchedule
from application.service import PatientServices
from application.shared.context import RequestContext
from application.visits.commands import ScheduleVisit
from domain.capacity.identity import slot_id_for
from domain.capacity.slot import SlotClaims
from domain.shared.errors import DomainError

ADMIN = RequestContext("admin-1", "admin", "race")
CLERK = RequestContext("clerk-1", "clerk", "race")
SESSION = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)


def race(settings: Settings, n: int, command: Callable[[int], ScheduleVisit]) -> list[object]:
    apps = [PatientServices(env=eventsourcing_env(settings)) for _ in range(n)]
    barrier = threading.Barrier(n, timeout=30)
    outcomes: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = apps[i].execute(command(i), CLERK).id
        except DomainError as refused:
            outcomes[i] = refused.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for app in apps:
            app.close()
    return outcomes


def test_n_bookings_into_a_slot_of_k_places_give_k_successes(
    services: PatientServices, store_settings: Settings
) -> None:
    capacity, allowance, racers = 3, 1, 10
    schedule = services.execute(
        CreateSchedule(service_unit="OPD", start=SESSION, end=SESSION + timedelta(hours=1),
                       slot_minutes=30, capacity_per_slot=capacity,
                       overbook_allowance=allowance),
        ADMIN,
    ).id  # fmt: skip

    outcomes = race(store_settings, racers, lambda i: ScheduleVisit(
        patient_ref=f"P-{i}", visit_class="AMB", service_unit="OPD", scheduled_start=SESSION,
        schedule_id=schedule,
    ))  # fmt: skip

    booked = [o for o in outcomes if isinstance(o, UUID)]
    assert len(booked) == capacity + allowance, outcomes
    assert sorted(o for o in outcomes if not isinstance(o, UUID)) == ["SLOT_FULL"] * (
        racers - capacity - allowance
    )
    fresh = PatientServices(env=eventsourcing_env(store_settings))
    try:
        slot: SlotClaims = fresh.repository.get(slot_id_for(schedule, SESSION))
        assert sorted(slot.claims) == sorted(booked)
    finally:
        fresh.close()


def test_overlapping_bookings_of_one_patient_racing_give_one_success(
    services: PatientServices, store_settings: Settings
) -> None:
    racers = 6
    outcomes = race(store_settings, racers, lambda i: ScheduleVisit(
        patient_ref="P-SAME", visit_class="AMB", service_unit=f"UNIT-{i}",
        scheduled_start=SESSION + timedelta(minutes=i),
    ))  # fmt: skip
    assert sum(isinstance(o, UUID) for o in outcomes) == 1, outcomes
    assert sorted(o for o in outcomes if not isinstance(o, UUID)) == ["DOUBLE_BOOKING"] * (
        racers - 1
    )


def test_racing_acceptances_of_one_offer_book_it_once(
    services: PatientServices, store_settings: Settings
) -> None:
    from application.capacity.commands import JoinWaitlist
    from application.visits.commands import CancelVisit
    from application.visits.waitlist import AcceptOffer
    from domain.capacity.identity import waitlist_id_for
    from domain.capacity.waitlist import ScheduleWaitlist

    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(days=3)
    schedule = services.execute(
        CreateSchedule(service_unit="OPD", start=start, end=start + timedelta(minutes=30),
                       slot_minutes=30, capacity_per_slot=1),
        ADMIN,
    ).id  # fmt: skip
    first = services.execute(ScheduleVisit(patient_ref="P-1", visit_class="AMB",
                                           service_unit="OPD", scheduled_start=start,
                                           schedule_id=schedule), CLERK).id  # fmt: skip
    services.execute(JoinWaitlist(patient_ref="P-2"), CLERK, target=schedule)
    services.execute(CancelVisit(reason="moved"), CLERK, target=first)
    waitlist = services.get_aggregate(waitlist_id_for(schedule), ScheduleWaitlist)
    (entry,) = waitlist.entries

    apps = [PatientServices(env=eventsourcing_env(store_settings)) for _ in range(4)]
    barrier = threading.Barrier(len(apps), timeout=30)
    outcomes: list[object] = [None] * len(apps)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = apps[i].execute(AcceptOffer(entry_id=entry), CLERK, target=schedule).id
        except DomainError as refused:
            outcomes[i] = refused.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(apps))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for app in apps:
            app.close()
    booked = [o for o in outcomes if isinstance(o, UUID)]
    assert len(booked) == 1, outcomes
    # The losers decided again on the new state: the entry is off the list.
    assert sorted(o for o in outcomes if not isinstance(o, UUID)) == ["VALIDATION"] * 3
    fresh = PatientServices(env=eventsourcing_env(store_settings))
    try:
        slot: SlotClaims = fresh.repository.get(slot_id_for(schedule, start))
        assert slot.claims == booked
    finally:
        fresh.close()
