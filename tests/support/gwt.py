"""Given-when-then on events, for any aggregate (examples use PatientVisit).

*Given* a list of past events (made by running real commands inside ``recording``),
*when* one command runs under a fresh envelope, *then* exactly these new events, or this
error and no event at all::

    visit = given(path_to(TRIAGED))
    outcome = when(visit, "start_clinician_contact", at=at(40), role="clinician",
                   clinician_ref="dr-1")
    then(outcome, Expect(PatientVisit.ClinicianContactStarted, clinician_ref="dr-1"))

    then_refused(visit, "record_triage", InvalidTransitionError, "INVALID_TRANSITION",
                 at=at(40), acuity_scale="ESI", acuity_level=2)
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from domain.shared.base import AuditedAggregate, event_id_for
from domain.shared.envelope import Envelope, recording
from domain.shared.errors import DomainError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    DISCHARGED,
    ENTERED_IN_ERROR,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    WITH_CLINICIAN,
    VisitPolicy,
)

#: The day of the visit: Monday 2 March 2026, 09:00 UTC (GMT in Europe/London, no DST).
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
#: When the visit was booked: well before the 24 h late-cancellation window.
BOOKED = START - timedelta(days=10)
POLICY = VisitPolicy()

#: Attributes of the aggregate that are bookkeeping, not the visit's state.
BOOKKEEPING = ("_version", "_modified_on", "_pending_events", "flow_log")


def at(minutes: float) -> datetime:
    """A time on the day of the visit, ``minutes`` after the scheduled start."""
    return START + timedelta(minutes=minutes)


def make_envelope(
    occurred_at: datetime,
    *,
    role: str = "clerk",
    actor_id: str = "staff-1",
    reason: str | None = None,
    on_behalf_of: str | None = None,
    source_system: str | None = None,
    source_message_id: str | None = None,
) -> Envelope:
    return Envelope(
        actor_id=actor_id,
        actor_role=role,
        command_id=uuid4(),
        correlation_id=f"corr-{uuid4().hex[:8]}",
        occurred_at=occurred_at,
        on_behalf_of=on_behalf_of,
        source_system=source_system,
        source_message_id=source_message_id,
        reason=reason,
    )


# ---- given --------------------------------------------------------------------------
def given(events: Sequence[Any]) -> Any:
    """The aggregate rebuilt from past events (replay, as the repository does): no pending
    events, so whatever a command leaves pending afterwards is new."""
    visit: Any = None
    for event in events:
        visit = event.mutate(visit)
    assert isinstance(visit, AuditedAggregate), "the given events must start with a creation"
    assert not visit.pending_events
    return visit


def state_of(visit: PatientVisit) -> dict[str, Any]:
    """The visit's state for "the state before": everything but bookkeeping."""
    return {k: copy.deepcopy(v) for k, v in vars(visit).items() if k not in BOOKKEEPING}


# ---- when ---------------------------------------------------------------------------
@dataclass
class Outcome:
    #: The aggregate after the command (named for the visits most tests are about).
    visit: Any
    envelope: Envelope
    given_version: int
    #: A copy of the aggregate before the command (None for a creation), to replay onto.
    before: Any
    events: list[Any] = field(default_factory=list)

    @property
    def aggregate(self) -> Any:
        return self.visit


def _is_visit(target: Any) -> bool:
    return isinstance(target, PatientVisit) or target is PatientVisit


def _call(target: Any, command: str, at: datetime, kwargs: dict[str, Any]) -> Any:
    method = getattr(target, command)
    # Visit commands default to the default VisitPolicy; other aggregates' tests pass theirs.
    if _is_visit(target) and "policy" in inspect.signature(method).parameters:
        kwargs.setdefault("policy", POLICY)
    return method(**kwargs, at=at)


def when(
    target: Any,
    command: str,
    *,
    at: datetime,
    role: str = "clerk",
    envelope: Envelope | None = None,
    **kwargs: Any,
) -> Outcome:
    """Run ``target.<command>(**kwargs, at=at)`` under a fresh envelope, as the application
    would (its ``occurred_at`` is ``at``, its ``reason`` the command's). ``target`` is the
    class for a creating command."""
    envelope = envelope or make_envelope(at, role=role, reason=kwargs.get("reason"))
    before = copy.deepcopy(target) if isinstance(target, AuditedAggregate) else None
    given_version = before.version if before is not None else 0
    with recording(envelope):
        result = _call(target, command, at, kwargs)
    visit = result if isinstance(result, AuditedAggregate) else target
    assert isinstance(visit, AuditedAggregate)
    return Outcome(visit, envelope, given_version, before, list(visit.collect_events()))


# ---- then ---------------------------------------------------------------------------
class Expect:
    """One expected event: its exact class and the values of some of its fields."""

    def __init__(self, event_class: type, **fields: Any) -> None:
        self.event_class = event_class
        self.fields = fields

    def __repr__(self) -> str:
        return f"Expect({self.event_class.__name__}, {self.fields})"


def then(outcome: Outcome, *expected: Expect) -> list[Any]:
    """Exactly these new events, in order, each stamped with the command's envelope, the
    next version and the event id derived from that version. Fields an ``Expect`` does not
    name must still equal the envelope (``occurred_at`` defaults to the envelope's)."""
    events = outcome.events
    assert [type(e) for e in events] == [e.event_class for e in expected], (
        f"expected {[e.event_class.__name__ for e in expected]}, "
        f"got {[type(e).__name__ for e in events]}"
    )
    envelope_fields = outcome.envelope.as_event_fields()
    for offset, (event, expectation) in enumerate(zip(events, expected, strict=True)):
        version = outcome.given_version + offset + 1
        assert event.originator_id == outcome.visit.id
        assert event.originator_version == version
        assert event.event_id == event_id_for(outcome.visit.id, version)
        for name, value in {**envelope_fields, **expectation.fields}.items():
            assert getattr(event, name) == value, (
                f"{type(event).__name__}.{name} is {getattr(event, name)!r}, expected {value!r}"
            )
    # Replaying the new events onto the state before rebuilds the live visit exactly.
    rebuilt: Any = copy.deepcopy(outcome.before)
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert rebuilt == outcome.visit
    return events


def then_refused(
    visit: Any,
    command: str,
    error: type[DomainError],
    code: str,
    *,
    at: datetime,
    role: str = "clerk",
    **kwargs: Any,
) -> DomainError:
    """The command raises exactly ``error`` with stable ``code``, triggers no event and
    leaves the visit as it was."""
    before = copy.deepcopy(vars(visit)) if isinstance(visit, AuditedAggregate) else None
    envelope = make_envelope(at, role=role, reason=kwargs.get("reason"))
    with recording(envelope):
        try:
            _call(visit, command, at, kwargs)
        except DomainError as raised:
            refusal = raised
        else:
            raise AssertionError(f"{command} was accepted; expected {error.__name__} ({code})")
    assert type(refusal) is error, f"{command} raised {type(refusal).__name__}: {refusal}"
    assert refusal.code == code
    if isinstance(visit, AuditedAggregate):
        assert visit.pending_events == [], "a refused command must not trigger events"
        assert vars(visit) == before, "a refused command must not change the visit"
    return refusal


# ---- canonical histories ------------------------------------------------------------
class Story:
    """Runs commands on one live visit and keeps every event, to be the *given* of a
    test. Each step is a real command under its own envelope, a few minutes apart."""

    def __init__(self) -> None:
        self.visit: PatientVisit | None = None
        self.events: list[PatientVisit.Event] = []

    def do(self, command: str, *, at: datetime, role: str = "clerk", **kwargs: Any) -> Story:
        target: Any = self.visit if self.visit is not None else PatientVisit
        outcome = when(target, command, at=at, role=role, **kwargs)
        self.visit = outcome.visit
        self.events.extend(outcome.events)
        return self

    def last_event_id(self) -> UUID:
        return self.events[-1].event_id

    def event_id_of(self, event_class: type, nth: int = -1) -> UUID:
        return [e for e in self.events if type(e) is event_class][nth].event_id


def scheduled_story(
    start: datetime = START, *, end: datetime | None = None, booked: datetime = BOOKED
) -> Story:
    return Story().do(
        "schedule", at=booked, patient_ref="pt-0001", visit_class="AMB", service_unit="ED",
        scheduled_start=start, scheduled_end=end or start + timedelta(minutes=30),
        reason_code="R1",
    )  # fmt: skip


def walk_in_story(arrived_at: datetime = START) -> Story:
    return Story().do(
        "register_walk_in", at=arrived_at, patient_ref="pt-0002", visit_class="EMER",
        service_unit="ED", arrival_mode="ambulance",
    )  # fmt: skip


def story_to(status: str) -> Story:
    """A plausible history that leaves the visit in ``status``; steps at 5-minute
    intervals from the scheduled start, so any later time is in order."""
    story = scheduled_story()
    if status == SCHEDULED:
        return story
    if status == CANCELLED:
        return story.do("cancel", at=at(-120), reason="patient asked")
    if status == NO_SHOW:
        return story.do("mark_no_show", at=at(20))
    story.do("register_arrival", at=at(5), arrival_mode="walked")
    if status == ARRIVED:
        return story
    if status == ENTERED_IN_ERROR:
        return story.do("mark_entered_in_error", at=at(10), reason="wrong patient")
    story.do("record_triage", at=at(10), role="nurse", acuity_scale="ESI", acuity_level=3)
    if status == TRIAGED:
        return story
    if status == LEFT_WITHOUT_BEING_SEEN:
        return story.do("record_left_without_being_seen", at=at(15), role="nurse")
    story.do("start_clinician_contact", at=at(15), role="clinician", clinician_ref="dr-1")
    if status == WITH_CLINICIAN:
        return story
    story.do("record_decision_to_admit", at=at(20), role="clinician", target_unit="W1")
    story.do("admit", at=at(25), role="clinician", unit="W1", bed="B1")
    if status == ADMITTED:
        return story
    if status == ON_LEAVE:
        return story.do("start_leave_of_absence", at=at(30), role="nurse")
    story.do("discharge", at=at(35), role="clinician", disposition="home")
    if status == DISCHARGED:
        return story
    if status == CLOSED:
        return story.do("close", at=at(40), role="manager")
    raise ValueError(status)


def path_to(status: str) -> list[PatientVisit.Event]:
    events = story_to(status).events
    assert given(events).status == status
    return events


def effective_times(visit: PatientVisit) -> list[datetime]:
    """arrival ≤ triage ≤ provider seen ≤ decision ≤ admission ≤ discharge ≤ close,
    skipping missing steps (domain-spec §1, invariant 2)."""
    steps = (
        visit.arrival_at, visit.triage_at, visit.provider_seen_at, visit.decision_to_admit_at,
        visit.admitted_at, visit.discharged_at, visit.closed_at,
    )  # fmt: skip
    return [t for t in steps if t is not None]


def assert_locations_consistent(visit: PatientVisit) -> None:
    """Invariant 1: at most one open period, the last; periods ordered, never overlapping."""
    periods = visit.location_periods or []
    open_periods = [i for i, p in enumerate(periods) if p["end"] is None]
    assert len(open_periods) <= 1
    assert open_periods in ([], [len(periods) - 1])
    for period in periods:
        assert period["end"] is None or period["start"] <= period["end"]
    for earlier, later in zip(periods, periods[1:], strict=False):
        assert earlier["end"] is not None and earlier["end"] <= later["start"]
