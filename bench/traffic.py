"""Realistic PatientVisit traffic, written straight through ``Application.save()`` (no HTTP).

A pool of ``live`` visits moves forward in rounds: each round every visit whose hold has run
out takes its next step, and the aggregates touched are saved ``chunk`` at a time (many
aggregates per transaction). So consecutive log positions belong to different visits, as
they do under live traffic: the worst case for a projection that folds per visit. A visit
whose plan is done leaves the pool and a new one takes its place, so the pool stays near
``live`` visits and ends mid-flow: the flow board has a few hundred visits per unit.

The mix (per visit, decided when it is created, run through the domain's command methods
inside ``recording(envelope)`` exactly as the application does):

* ED walk-ins (70 %) in three EDs: triage, clinician contact, then discharge or a decision to
  admit, boarding, admission to one of four wards, sometimes a transfer or a leave of
  absence, discharge, administrative close; some leave without being seen; a few admissions,
  discharges and LWBS are cancelled (compensations) and redone; some details corrected;
* scheduled clinic visits (30 %) in two clinics: arrive, see a clinician, go home; some are
  rescheduled, cancelled or become no-shows;
* about 1 % of visits are marked entered-in-error part way through;
* about a quarter of commands carry an idempotency key (a ``CommandRecord`` saved with the
  events), and a tenth come from an HL7 feed (role ``integration``, a source message id).

Business time runs on a simulated clock (``delta`` per round) that ends near now.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from application.shared.idempotency import CommandIdentity, CommandRecord
from domain.shared.envelope import Envelope, recording
from domain.shared.errors import DomainError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ACTIVE_STATES, ON_LEAVE, VisitPolicy

ED_UNITS = ("ED-A", "ED-B", "ED-C")
WARDS = ("WARD-1", "WARD-2", "WARD-3", "WARD-4")
CLINICS = ("CLINIC-1", "CLINIC-2")
POLICY = VisitPolicy()
#: Simulated time per round.
DELTA = timedelta(minutes=10)
#: Events per live visit per round, measured with the default mix (sets the clock's start).
EVENTS_PER_VISIT_PER_ROUND = 0.35

Act = Callable[[PatientVisit, datetime], None]
Ready = Callable[[PatientVisit, datetime], bool]


@dataclass
class Step:
    role: str
    act: Act
    hold: int = 0  # rounds to wait after this step
    reason: str | None = None
    ready: Ready | None = None  # not before this holds (checked each round)


@dataclass
class Journey:
    create: Callable[[datetime], PatientVisit]
    create_role: str
    steps: deque[Step]
    hold: int
    visit: PatientVisit | None = None


@dataclass
class Population:
    events: int = 0
    visits: int = 0
    command_records: int = 0
    saves: int = 0
    rounds: int = 0
    refused: int = 0
    seconds: float = 0.0
    save_seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)
    #: Visits in an active state (or on leave) by current location unit, at the end.
    active_by_unit: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# ---- plans ------------------------------------------------------------------------------
def _ed_journey(rng: random.Random, n: int) -> Journey:
    unit = rng.choice(ED_UNITS)
    mode = rng.choice(("walk-in", "walk-in", "ambulance", "referral"))

    def create(at: datetime) -> PatientVisit:
        return PatientVisit.register_walk_in(
            patient_ref=f"P{n:08d}", visit_class="EMER", service_unit=unit,
            arrival_mode=mode, at=at,
        )  # fmt: skip

    level = rng.choice((1, 2, 3, 3, 3, 4, 4, 5))
    steps: list[Step] = [
        Step("nurse", lambda v, at: v.record_triage(acuity_scale="ESI", acuity_level=level, at=at),
             hold=rng.randint(0, 3)),
    ]  # fmt: skip
    if rng.random() < 0.02:
        steps.append(
            Step(
                "clerk",
                lambda v, at: v.correct_details(changes={"reason_code": "R-chest-pain"}, at=at),
                reason="reason code missed at the desk",
            )
        )
    if rng.random() < 0.08:
        steps.append(Step("nurse", lambda v, at: v.record_left_without_being_seen(at=at), hold=1))
        if rng.random() < 0.15:
            why = "patient was in the toilet"
            steps.append(
                Step("nurse", lambda v, at: v.cancel_left_without_being_seen(reason=why, at=at),
                     reason=why)
            )  # fmt: skip
        else:
            if rng.random() < 0.6:
                steps.append(Step("manager", lambda v, at: v.close(at=at)))
            return Journey(create, "clerk", _maybe_in_error(rng, steps), rng.randint(0, 2))
    if rng.random() < 0.15:
        bay = f"{unit}-BAY{rng.randint(1, 30):02d}"
        steps.append(Step("nurse", lambda v, at: v.transfer(to_unit=unit, to_bed=bay, at=at),
                          hold=rng.randint(0, 2)))  # fmt: skip
    steps.append(
        Step("clinician", lambda v, at: v.start_clinician_contact(clinician_ref=f"dr-{n % 97}",
             at=at), hold=rng.randint(1, 4))
    )  # fmt: skip
    if rng.random() < 0.3:
        _admitted_path(rng, steps)
    else:
        disposition = rng.choice(("home", "home", "home", "aadvice", "lbtc", "other-hcf", "oth"))
        steps.append(
            Step("clinician", lambda v, at: v.discharge(disposition=disposition, at=at),
                 hold=rng.randint(0, 2))
        )  # fmt: skip
    if rng.random() < 0.03:
        reason = "discharge recorded on the wrong visit"
        redo = steps[-1]
        steps.append(
            Step("clinician", lambda v, at: v.cancel_discharge(reason=reason, at=at),
                 hold=1, reason=reason)
        )  # fmt: skip
        steps.append(redo)
    if rng.random() < 0.6:
        steps.append(Step("manager", lambda v, at: v.close(at=at)))
    return Journey(create, "clerk", _maybe_in_error(rng, steps), rng.randint(0, 2))


def _admitted_path(rng: random.Random, steps: list[Step]) -> None:
    ward = rng.choice(WARDS)
    bed = f"{ward}-{rng.randint(1, 40):02d}"
    steps.append(
        Step("clinician", lambda v, at: v.record_decision_to_admit(target_unit=ward, at=at),
             hold=rng.randint(1, 8))  # boarding in the ED
    )  # fmt: skip
    admit = Step("clinician", lambda v, at: v.admit(unit=ward, bed=bed, at=at),
                 hold=rng.randint(8, 50))  # fmt: skip
    steps.append(admit)
    if rng.random() < 0.04:
        reason = "admitted to the wrong ward"
        steps[-1] = Step(admit.role, admit.act, hold=1)
        steps.append(
            Step("clinician", lambda v, at: v.cancel_admission(reason=reason, at=at),
                 hold=1, reason=reason)
        )  # fmt: skip
        steps.append(admit)
    if rng.random() < 0.2:
        other = rng.choice([w for w in WARDS if w != ward])
        other_bed = f"{other}-{rng.randint(1, 40):02d}"
        steps.append(
            Step("nurse", lambda v, at: v.transfer(to_unit=other, to_bed=other_bed, at=at),
                 hold=rng.randint(4, 25))
        )  # fmt: skip
    if rng.random() < 0.05:
        steps.append(Step("nurse", lambda v, at: v.start_leave_of_absence(at=at), hold=2))
        steps.append(
            Step("nurse", lambda v, at: v.end_leave_of_absence(at=at), hold=rng.randint(2, 10))
        )
    disposition = rng.choice(("home", "home", "snf", "rehab", "other-hcf"))
    steps.append(
        Step("clinician", lambda v, at: v.discharge(disposition=disposition, at=at),
             hold=rng.randint(0, 3))
    )  # fmt: skip


def _clinic_journey(rng: random.Random, n: int, now: datetime) -> Journey:
    unit = rng.choice(CLINICS)
    lead = rng.randint(2, 8)  # rounds from booking to the appointment
    start = now + lead * DELTA

    def create(at: datetime) -> PatientVisit:
        return PatientVisit.schedule(
            patient_ref=f"P{n:08d}", visit_class="AMB", service_unit=unit,
            scheduled_start=start, scheduled_end=start + timedelta(minutes=30),
            reason_code="R-follow-up", at=at,
        )  # fmt: skip

    steps: list[Step] = []
    if rng.random() < 0.04:
        later = start + 3 * DELTA
        steps.append(
            Step("clerk", lambda v, at: v.reschedule(scheduled_start=later,
                 scheduled_end=later + timedelta(minutes=30), at=at), hold=lead + 2)
        )  # fmt: skip
        lead = 0
    r = rng.random()
    if r < 0.10:
        reason = "patient request"
        steps.append(
            Step("clerk", lambda v, at: v.cancel(reason=reason, at=at, policy=POLICY),
                 reason=reason)
        )  # fmt: skip
    elif r < 0.17:
        steps.append(
            Step("clerk", lambda v, at: v.mark_no_show(at=at, policy=POLICY),
                 ready=lambda v, at: v.scheduled_start is not None
                 and at >= v.scheduled_start + POLICY.no_show_grace)
        )  # fmt: skip
    else:
        steps.append(Step("clerk", lambda v, at: v.register_arrival(arrival_mode="walk-in", at=at),
                          hold=rng.randint(0, 3)))  # fmt: skip
        steps.append(
            Step("clinician", lambda v, at: v.start_clinician_contact(clinician_ref=f"dr-{n % 31}",
                 at=at), hold=rng.randint(1, 4))
        )  # fmt: skip
        steps.append(Step("clinician", lambda v, at: v.discharge(disposition="home", at=at),
                          hold=rng.randint(0, 2)))  # fmt: skip
        if rng.random() < 0.5:
            steps.append(Step("manager", lambda v, at: v.close(at=at)))
    return Journey(create, "clerk", _maybe_in_error(rng, steps), max(0, lead - 1))


def _maybe_in_error(rng: random.Random, steps: list[Step]) -> deque[Step]:
    if steps and rng.random() < 0.01:
        reason = "registered against the wrong patient"
        cut = rng.randint(0, len(steps) - 1)
        steps = steps[:cut] + [
            Step("clerk", lambda v, at: v.mark_entered_in_error(reason=reason, at=at),
                 reason=reason)
        ]  # fmt: skip
    return deque(steps)


# ---- running it -------------------------------------------------------------------------
class _Envelopes:
    """One envelope per command, as the application makes them; a tenth from a feed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.messages = 0

    def __call__(self, role: str, at: datetime, reason: str | None) -> Envelope:
        if self.rng.random() < 0.1:
            self.messages += 1
            return Envelope(
                actor_id="adt-feed", actor_role="integration", command_id=uuid4(),
                correlation_id=f"hl7-{self.messages}", occurred_at=at,
                source_system="hl7-adt", source_message_id=f"MSG{self.messages:09d}",
                reason=reason,
            )  # fmt: skip
        return Envelope(
            actor_id=f"{role}-{self.rng.randint(1, 40)}", actor_role=role, command_id=uuid4(),
            correlation_id=uuid4().hex, occurred_at=at, reason=reason,
        )  # fmt: skip


def _command_record(envelope: Envelope, visit: PatientVisit, created: bool) -> CommandRecord:
    key = uuid4().hex
    identity = CommandIdentity(
        scope=f"user:{envelope.actor_id}",
        key=key,
        fingerprint=CommandIdentity.fingerprint_of(key, str(visit.id), str(visit.version)),
    )
    return CommandRecord.accept(
        identity, aggregate_id=visit.id, version=visit.version, created=created
    )


def populate(
    app: Application[Any] | None,
    *,
    events: int,
    live: int = 4000,
    chunk: int = 500,
    seed: int = 7,
    progress: Callable[[Population], None] = lambda _: None,
) -> Population:
    """Save at least ``events`` events of visit traffic (``app=None``: generate only)."""
    rng = random.Random(seed)
    envelope_for = _Envelopes(rng)
    stats = Population()
    rounds_expected = events / (live * EVENTS_PER_VISIT_PER_ROUND)
    real_now = datetime.now(timezone.utc)
    clock = real_now - DELTA * (rounds_expected + 2)
    pool: list[Journey] = []
    begun = time.perf_counter()
    numbered = 0
    while stats.events < events:
        stats.rounds += 1
        clock += DELTA
        # Top the pool up gradually, so visits do not all move in step.
        for _ in range(min(live - len(pool), max(1, live // 10))):
            numbered += 1
            if rng.random() < 0.7:
                pool.append(_ed_journey(rng, numbered))
            else:
                pool.append(_clinic_journey(rng, numbered, clock))
        rng.shuffle(pool)
        pending: list[Aggregate] = []
        kept: list[Journey] = []
        for journey in pool:
            if journey.hold > 0:
                journey.hold -= 1
                kept.append(journey)
                continue
            at = min(clock + DELTA * rng.random() * 0.9, datetime.now(timezone.utc))
            if journey.visit is None:
                envelope = envelope_for(journey.create_role, at, None)
                with recording(envelope):
                    journey.visit = journey.create(at)
                stats.visits += 1
                created = True
            else:
                step = journey.steps[0]
                if step.ready is not None and not step.ready(journey.visit, at):
                    kept.append(journey)
                    continue
                journey.steps.popleft()
                envelope = envelope_for(step.role, at, step.reason)
                try:
                    with recording(envelope):
                        step.act(journey.visit, at)
                except DomainError:
                    stats.refused += 1  # a plan the rules refuse (should stay near 0)
                    if journey.steps:
                        kept.append(journey)
                    continue
                journey.hold = step.hold
                created = False
            pending.append(journey.visit)
            if rng.random() < 0.25:
                pending.append(_command_record(envelope, journey.visit, created))
                stats.command_records += 1
            if journey.steps:
                kept.append(journey)
            if len(pending) >= chunk:
                _save(app, pending, stats)
                pending = []
        _save(app, pending, stats)
        pool = kept
        progress(stats)
    stats.seconds = time.perf_counter() - begun
    for journey in pool:
        visit = journey.visit
        if visit is None or (visit.status not in ACTIVE_STATES and visit.status != ON_LEAVE):
            continue
        location = visit.current_location
        if location is not None:
            stats.active_by_unit[location["unit"]] += 1
    return stats


def _save(app: Application[Any] | None, aggregates: list[Aggregate], stats: Population) -> None:
    if not aggregates:
        return
    started = time.perf_counter()
    if app is None:
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                stats.by_type[type(event).__qualname__] += 1
                stats.events += 1
    else:
        for recording_ in app.save(*aggregates):
            stats.by_type[type(recording_.domain_event).__qualname__] += 1
            stats.events += 1
    stats.saves += 1
    stats.save_seconds += time.perf_counter() - started
