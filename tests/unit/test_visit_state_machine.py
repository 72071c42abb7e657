"""PatientVisit under random commands (conventions.md, Tests).

Every command of domain-spec §1 is a rule with drawn arguments and a drawn time (mostly
forward, sometimes backwards, to hit TIMESTAMP_ORDER). A small model predicts whether the
command is accepted, and with which error code it is refused, and the status it leads to.
After every step: the status matches the model; one open location period at most, and
periods never overlap; effective flow times are ordered; and the events stored through a
real application (JSON transcoder, in-memory recorder) rebuild a visit equal to the live one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import event as note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.memory import MEMORY_ENV
from application.service import PatientServices
from domain.shared.base import event_id_for
from domain.shared.envelope import recording
from domain.shared.errors import (
    AlreadyCancelledError,
    DomainError,
    DomainValidationError,
    InvalidTransitionError,
    TimestampOrderError,
)
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ACTIVE_STATES,
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    DISCHARGED,
    DISPOSITIONS,
    ENTERED_IN_ERROR,
    FINAL_STATES,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    VISIT_CLASSES,
    WITH_CLINICIAN,
    VisitPolicy,
)
from tests.support.gwt import assert_locations_consistent, effective_times, make_envelope

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
POLICY = VisitPolicy()
ZONE = ZoneInfo(POLICY.facility_timezone)
NOT_AN_EVENT = UUID(int=1)

#: Minutes from the latest time used: mostly forward, one draw in five backwards.
steps = st.integers(min_value=-60, max_value=240)
#: Mostly a reason; sometimes none, which is refused.
reasons = st.sampled_from(["", "  ", *["recorded against the wrong visit"] * 4])
#: A correctsEventId: none, an event of the visit (by index), or an id of nothing.
named = st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=10_000), st.just(-1))
locations = st.sampled_from([("ED", None), ("W1", "B1"), ("W2", None), ("W3", "B3")])


# ---- the model ----------------------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """What a compensation restores: the status and what the flow facts changed."""

    status: str
    latest: datetime | None = None  # the latest effective flow time
    seen: bool = False
    decided: bool = False
    location: tuple[str, str | None] | None = None
    visit_class: str = ""


@dataclass
class Fact:
    kind: str
    event_id: UUID
    before: Flow
    cancelled: bool = False


@dataclass
class Model:
    visit_id: UUID
    flow: Flow
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    service_unit: str
    reason_code: str | None
    version: int = 1
    facts: list[Fact] = field(default_factory=list)
    event_ids: list[UUID] = field(default_factory=list)

    def too_early(self, at: datetime) -> bool:
        return self.flow.latest is not None and at < self.flow.latest

    def accept(self, fact: str | None = None, **changes: Any) -> None:
        self.version += 1
        event_id = event_id_for(self.visit_id, self.version)
        self.event_ids.append(event_id)
        if fact is not None:
            self.facts.append(Fact(fact, event_id, self.flow))
        self.flow = replace(self.flow, **changes)

    def compensation_refusal(
        self, kind: str, corrects: UUID | None, allowed: frozenset[str]
    ) -> tuple[type[DomainError] | None, Fact | None]:
        candidates = [f for f in self.facts if f.kind == kind]
        if corrects is not None:
            matching = [f for f in candidates if f.event_id == corrects]
            if not matching:
                return InvalidTransitionError, None
            target = matching[0]
        elif candidates:
            target = candidates[-1]
        else:
            return InvalidTransitionError, None
        if target.cancelled:
            return AlreadyCancelledError, None
        if self.flow.status not in allowed:
            return InvalidTransitionError, None
        if [f for f in self.facts if not f.cancelled][-1] is not target:
            return InvalidTransitionError, None  # a later fact depends on it
        return None, target

    def compensate(self, target: Fact) -> None:
        self.version += 1
        self.event_ids.append(event_id_for(self.visit_id, self.version))
        target.cancelled = True
        self.flow = target.before


def blank(reason: str) -> bool:
    return not reason.strip()


# ---- the machine --------------------------------------------------------------------
class VisitMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = PatientServices(env=dict(MEMORY_ENV))
        self.visit: PatientVisit
        self.model: Model
        self.now = T0 - timedelta(minutes=30)
        self.stored: list[PatientVisit.Event] = []

    # ---- running one command ------------------------------------------------------
    def attempt(
        self,
        name: str,
        at: datetime,
        refusal: type[DomainError] | None,
        command: Callable[[PatientVisit], None],
        event_class: type | None = None,
        **kwargs: Any,
    ) -> PatientVisit.Event | None:
        """Run the command; check the predicted refusal or the one predicted event."""
        before = copy.deepcopy(vars(self.visit))
        envelope = make_envelope(at, reason=kwargs.get("reason"))
        raised: DomainError | None = None
        with recording(envelope):
            try:
                command(self.visit)
            except DomainError as error:
                raised = error
        if refusal is not None:
            note(f"{name}: refused {refusal.code}")
            assert raised is not None, f"{name} at {at} was accepted; expected {refusal.code}"
            assert type(raised) is refusal, f"{name} raised {raised!r}, expected {refusal.code}"
            assert self.visit.pending_events == []
            assert vars(self.visit) == before, f"the refused {name} changed the visit"
            return None
        note(f"{name}: accepted")
        assert raised is None, (
            f"{name} at {at} was refused ({raised.code}: {raised}); expected accepted"
        )
        (new,) = self.visit.pending_events
        assert event_class is None or type(new) is event_class, type(new)
        assert new.event_id == event_id_for(self.visit.id, self.visit.version)
        assert (new.command_id, new.occurred_at) == (envelope.command_id, at)
        self.save()
        self.now = max(self.now, at)
        return new

    def save(self) -> None:
        self.stored.extend(self.visit.pending_events)
        self.app.save(self.visit)

    def at(self, minutes: int) -> datetime:
        return self.now + timedelta(minutes=minutes)

    # ---- creation -----------------------------------------------------------------
    creations = {
        "walk_in": st.booleans(),
        "start": st.integers(min_value=-60, max_value=600),
        "length": st.one_of(st.none(), st.integers(min_value=1, max_value=120)),
        "visit_class": st.sampled_from(VISIT_CLASSES),
    }

    @initialize(**creations)
    def create(self, walk_in: bool, start: int, length: int | None, visit_class: str) -> None:
        self.now = T0 - timedelta(minutes=30)
        self.stored = []
        envelope = make_envelope(T0)
        with recording(envelope):
            if walk_in:
                self.visit = PatientVisit.register_walk_in(
                    patient_ref="pt-1", visit_class=visit_class, service_unit="ED", at=T0
                )
            else:
                scheduled_start = T0 + timedelta(minutes=start)
                scheduled_end = (
                    None if length is None else scheduled_start + timedelta(minutes=length)
                )
                self.visit = PatientVisit.schedule(
                    patient_ref="pt-1", visit_class=visit_class, service_unit="ED",
                    scheduled_start=scheduled_start, scheduled_end=scheduled_end,
                    reason_code="R1", at=T0 - timedelta(days=3),
                )  # fmt: skip
        flow = Flow(status=SCHEDULED, visit_class=visit_class)
        self.model = Model(
            visit_id=self.visit.id, flow=flow, service_unit="ED",
            scheduled_start=None if walk_in else self.visit.scheduled_start,
            scheduled_end=None if walk_in else self.visit.scheduled_end,
            reason_code=None if walk_in else "R1",
        )  # fmt: skip
        self.model.event_ids.append(event_id_for(self.visit.id, 1))
        if walk_in:
            self.model.facts.append(Fact("PatientArrived", self.model.event_ids[0], flow))
            self.model.flow = replace(flow, status=ARRIVED, latest=T0, location=("ED", None))
            self.now = T0
        self.save()

    @precondition(lambda self: self.model.flow.status in (CLOSED, CANCELLED, ENTERED_IN_ERROR))
    @rule(**creations)
    def next_visit(self, walk_in: bool, start: int, length: int | None, visit_class: str) -> None:
        """A visit in a final state has little left to try: go on with another one."""
        self.create(walk_in, start, length, visit_class)

    # ---- scheduling ---------------------------------------------------------------
    @rule(
        step=steps, start=st.integers(-120, 600), length=st.one_of(st.none(), st.integers(-30, 120))
    )
    def reschedule(self, step: int, start: int, length: int | None) -> None:
        m, at = self.model, self.at(step)
        new_start = T0 + timedelta(minutes=start)
        new_end = None if length is None else new_start + timedelta(minutes=length)
        refusal = (
            InvalidTransitionError if m.flow.status != SCHEDULED
            else DomainValidationError if new_end is not None and new_end <= new_start
            else None
        )  # fmt: skip
        if self.attempt(
            "reschedule", at, refusal,
            lambda v: v.reschedule(scheduled_start=new_start, scheduled_end=new_end, at=at),
            PatientVisit.VisitRescheduled,
        ):  # fmt: skip
            m.accept()
            m.scheduled_start, m.scheduled_end = new_start, new_end

    @rule(step=steps, reason=reasons)
    def cancel(self, step: int, reason: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status != SCHEDULED
            else DomainValidationError if blank(reason)
            else None
        )  # fmt: skip
        new = self.attempt(
            "cancel", at, refusal, lambda v: v.cancel(reason=reason, at=at, policy=POLICY),
            PatientVisit.VisitCancelled, reason=reason,
        )  # fmt: skip
        if new is not None:
            assert m.scheduled_start is not None
            assert new.late_cancellation == (m.scheduled_start - at < timedelta(hours=24))
            m.accept("VisitCancelled", status=CANCELLED)

    @rule(step=steps)
    def mark_no_show(self, step: int) -> None:
        m, at = self.model, self.at(step)
        assert m.flow.status != SCHEDULED or m.scheduled_start is not None
        refusal = (
            InvalidTransitionError if m.flow.status != SCHEDULED
            else InvalidTransitionError if at < m.scheduled_start + POLICY.no_show_grace
            else None
        )  # fmt: skip
        if self.attempt(
            "mark_no_show", at, refusal, lambda v: v.mark_no_show(at=at, policy=POLICY),
            PatientVisit.VisitMarkedNoShow,
        ):  # fmt: skip
            m.accept("VisitMarkedNoShow", status=NO_SHOW)

    @rule(step=steps, corrects=named)
    def revert_no_show(self, step: int, corrects: int | None) -> None:
        m, at = self.model, self.at(step)
        corrects_id = self.event_id(corrects)
        refusal, target = m.compensation_refusal(
            "VisitMarkedNoShow", corrects_id, frozenset({NO_SHOW})
        )
        if refusal is None:
            assert m.scheduled_start is not None
            if at.astimezone(ZONE).date() != m.scheduled_start.astimezone(ZONE).date():
                refusal = InvalidTransitionError
        if self.attempt(
            "revert_no_show", at, refusal,
            lambda v: v.revert_no_show(at=at, policy=POLICY, corrects_event_id=corrects_id),
            PatientVisit.NoShowReverted,
        ):  # fmt: skip
            assert target is not None
            m.compensate(target)

    # ---- arrival to departure -----------------------------------------------------
    @rule(step=steps)
    def register_arrival(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = InvalidTransitionError if m.flow.status != SCHEDULED else None
        if self.attempt(
            "register_arrival", at, refusal, lambda v: v.register_arrival(at=at),
            PatientVisit.PatientArrived,
        ):  # fmt: skip
            m.accept("PatientArrived", status=ARRIVED, latest=at, location=(m.service_unit, None))

    @rule(step=steps, level=st.integers(min_value=0, max_value=6))
    def record_triage(self, step: int, level: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status != ARRIVED
            else DomainValidationError if not 1 <= level <= 5
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "record_triage", at, refusal,
            lambda v: v.record_triage(acuity_scale="ESI", acuity_level=level, at=at),
            PatientVisit.PatientTriaged,
        ):  # fmt: skip
            m.accept("PatientTriaged", status=TRIAGED, latest=at)

    @rule(step=steps)
    def start_clinician_contact(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status not in (ARRIVED, TRIAGED)
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        new = self.attempt(
            "start_clinician_contact", at, refusal,
            lambda v: v.start_clinician_contact(clinician_ref="dr-1", at=at),
            PatientVisit.ClinicianContactStarted,
        )  # fmt: skip
        if new is not None:
            assert new.first_contact == (not m.flow.seen)
            m.accept("ClinicianContactStarted", status=WITH_CLINICIAN, latest=at, seen=True)

    @rule(step=steps)
    def record_decision_to_admit(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status != WITH_CLINICIAN or m.flow.decided
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "record_decision_to_admit", at, refusal,
            lambda v: v.record_decision_to_admit(target_unit="W1", at=at),
            PatientVisit.AdmissionDecided,
        ):  # fmt: skip
            m.accept("AdmissionDecided", latest=at, decided=True)

    @rule(step=steps, unit=st.sampled_from(["", "W1", "W2"]), bed=st.sampled_from([None, "B1"]))
    def admit(self, step: int, unit: str, bed: str | None) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status not in (ARRIVED, TRIAGED, WITH_CLINICIAN)
            else DomainValidationError if not unit
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "admit", at, refusal, lambda v: v.admit(unit=unit, bed=bed, at=at),
            PatientVisit.PatientAdmitted,
        ):  # fmt: skip
            m.accept(
                "PatientAdmitted",
                status=ADMITTED,
                latest=at,
                location=(unit, bed),
                visit_class="IMP",
            )

    @rule(step=steps, to=locations, given_from=st.sampled_from(["none", "current", "wrong"]))
    def transfer(self, step: int, to: tuple[str, str | None], given_from: str) -> None:
        m, at = self.model, self.at(step)
        current = m.flow.location
        from_ = {"none": (None, None), "current": current or (None, None), "wrong": ("XX", None)}
        from_unit, from_bed = from_[given_from]
        refusal = (
            InvalidTransitionError if m.flow.status not in ACTIVE_STATES or current is None
            else InvalidTransitionError if given_from == "wrong"
            else DomainValidationError if to == current
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        new = self.attempt(
            "transfer", at, refusal,
            lambda v: v.transfer(
                to_unit=to[0], to_bed=to[1], from_unit=from_unit, from_bed=from_bed, at=at
            ),
            PatientVisit.PatientTransferred,
        )  # fmt: skip
        if new is not None:
            assert (new.from_unit, new.from_bed) == current
            m.accept("PatientTransferred", latest=at, location=to)

    @rule(step=steps, expected=st.one_of(st.none(), st.integers(-30, 600)))
    def start_leave_of_absence(self, step: int, expected: int | None) -> None:
        m, at = self.model, self.at(step)
        expected_return = None if expected is None else at + timedelta(minutes=expected)
        refusal = (
            InvalidTransitionError if m.flow.status != ADMITTED
            else TimestampOrderError if m.too_early(at)
            else TimestampOrderError if expected_return is not None and expected_return < at
            else None
        )  # fmt: skip
        if self.attempt(
            "start_leave_of_absence", at, refusal,
            lambda v: v.start_leave_of_absence(expected_return=expected_return, at=at),
            PatientVisit.LeaveOfAbsenceStarted,
        ):  # fmt: skip
            m.accept("LeaveOfAbsenceStarted", status=ON_LEAVE, latest=at)

    @rule(step=steps)
    def end_leave_of_absence(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status != ON_LEAVE
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "end_leave_of_absence", at, refusal, lambda v: v.end_leave_of_absence(at=at),
            PatientVisit.LeaveOfAbsenceEnded,
        ):  # fmt: skip
            m.accept("LeaveOfAbsenceEnded", status=ADMITTED, latest=at)

    @rule(step=steps)
    def record_left_without_being_seen(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status not in (ARRIVED, TRIAGED) or m.flow.seen
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "record_left_without_being_seen", at, refusal,
            lambda v: v.record_left_without_being_seen(at=at),
            PatientVisit.PatientLeftWithoutBeingSeen,
        ):  # fmt: skip
            m.accept(
                "PatientLeftWithoutBeingSeen",
                status=LEFT_WITHOUT_BEING_SEEN,
                latest=at,
                location=None,
            )

    @rule(
        step=steps,
        disposition=st.sampled_from(["", *DISPOSITIONS]),
        death=st.one_of(st.none(), st.integers(-30, 10)),
    )
    def discharge(self, step: int, disposition: str, death: int | None) -> None:
        m, at = self.model, self.at(step)
        deceased_at = None if death is None else at + timedelta(minutes=death)
        refusal = (
            InvalidTransitionError if m.flow.status not in ACTIVE_STATES
            else DomainValidationError if not disposition
            else DomainValidationError if (disposition == "exp") != (deceased_at is not None)
            else TimestampOrderError if m.too_early(at)
            else TimestampOrderError if deceased_at is not None and deceased_at > at
            # The arrival's time is checked by the flow-time invariants; read it off the visit.
            else TimestampOrderError if deceased_at is not None
            and self.visit.arrival_at is not None and deceased_at < self.visit.arrival_at
            else None
        )  # fmt: skip
        if self.attempt(
            "discharge", at, refusal,
            lambda v: v.discharge(disposition=disposition, deceased_at=deceased_at, at=at),
            PatientVisit.PatientDischarged,
        ):  # fmt: skip
            m.accept("PatientDischarged", status=DISCHARGED, latest=at, location=None)

    @rule(step=steps)
    def close(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status not in (DISCHARGED, LEFT_WITHOUT_BEING_SEEN)
            else TimestampOrderError if m.too_early(at)
            else None
        )  # fmt: skip
        if self.attempt("close", at, refusal, lambda v: v.close(at=at), PatientVisit.VisitClosed):
            m.accept("VisitClosed", status=CLOSED)

    # ---- corrections --------------------------------------------------------------
    @rule(step=steps, reason=reasons)
    def mark_entered_in_error(self, step: int, reason: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.flow.status == ENTERED_IN_ERROR
            else DomainValidationError if blank(reason)
            else None
        )  # fmt: skip
        new = self.attempt(
            "mark_entered_in_error", at, refusal,
            lambda v: v.mark_entered_in_error(reason=reason, at=at),
            PatientVisit.VisitMarkedEnteredInError, reason=reason,
        )  # fmt: skip
        if new is not None:
            assert new.previous_status == m.flow.status
            m.accept("VisitMarkedEnteredInError", status=ENTERED_IN_ERROR, location=None)

    @rule(
        step=steps,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "reason_code": st.sampled_from([None, "R1", "R2"]),
                "service_unit": st.sampled_from(["ED", "UCC"]),
                "visit_class": st.sampled_from(VISIT_CLASSES),
                "scheduled_end": st.one_of(st.none(), st.integers(-30, 120)),
                "status": st.just(CLOSED),
            },
        ),
    )
    def correct_details(self, step: int, changes: dict[str, Any]) -> None:
        m, at = self.model, self.at(step)
        if changes.get("scheduled_end") is not None:
            changes["scheduled_end"] = (m.scheduled_start or T0) + timedelta(
                minutes=changes["scheduled_end"]
            )
        current = {
            "reason_code": m.reason_code, "service_unit": m.service_unit,
            "visit_class": m.flow.visit_class, "scheduled_end": m.scheduled_end,
        }  # fmt: skip
        diff = {k: v for k, v in changes.items() if k in current and current[k] != v}
        end = changes.get("scheduled_end")
        refusal = (
            InvalidTransitionError if m.flow.status in FINAL_STATES
            else DomainValidationError if "status" in changes or not diff
            else DomainValidationError if "scheduled_end" in diff and m.scheduled_start is None
            else DomainValidationError
            if "scheduled_end" in diff and end is not None and end <= m.scheduled_start
            else None
        )  # fmt: skip
        new = self.attempt(
            "correct_details", at, refusal, lambda v: v.correct_details(changes=changes, at=at),
            PatientVisit.VisitDetailsCorrected,
        )  # fmt: skip
        if new is not None:
            assert new.changes == {k: {"before": current[k], "after": v} for k, v in diff.items()}
            # A class correction is a later fact: it blocks cancelling what set the class.
            fact = "VisitDetailsCorrected" if "visit_class" in diff else None
            m.accept(fact, visit_class=changes.get("visit_class", m.flow.visit_class))
            m.reason_code = changes.get("reason_code", m.reason_code)
            m.service_unit = changes.get("service_unit", m.service_unit)
            m.scheduled_end = changes.get("scheduled_end", m.scheduled_end)

    def event_id(self, corrects: int | None) -> UUID | None:
        if corrects is None:
            return None
        if corrects == -1:
            return NOT_AN_EVENT
        return self.model.event_ids[corrects % len(self.model.event_ids)]

    def compensation(
        self, name: str, kind: str, allowed: frozenset[str], step: int, reason: str,
        corrects: int | None, event_class: type,
    ) -> None:  # fmt: skip
        m, at = self.model, self.at(step)
        corrects_id = self.event_id(corrects)
        refusal, target = m.compensation_refusal(kind, corrects_id, allowed)
        if refusal is None and blank(reason):
            refusal = DomainValidationError
        new = self.attempt(
            name, at, refusal,
            lambda v: getattr(v, name)(reason=reason, at=at, corrects_event_id=corrects_id),
            event_class, reason=reason,
        )  # fmt: skip
        if new is not None:
            assert target is not None
            assert new.corrects_event_id == target.event_id
            assert new.restored_status == target.before.status
            m.compensate(target)

    @rule(step=steps, reason=reasons, corrects=named)
    def cancel_admission(self, step: int, reason: str, corrects: int | None) -> None:
        self.compensation(
            "cancel_admission", "PatientAdmitted", frozenset({ADMITTED}), step, reason, corrects,
            PatientVisit.AdmissionCancelled,
        )  # fmt: skip

    @rule(step=steps, reason=reasons, corrects=named)
    def cancel_transfer(self, step: int, reason: str, corrects: int | None) -> None:
        self.compensation(
            "cancel_transfer", "PatientTransferred", ACTIVE_STATES, step, reason, corrects,
            PatientVisit.TransferCancelled,
        )  # fmt: skip

    @rule(step=steps, reason=reasons, corrects=named)
    def cancel_discharge(self, step: int, reason: str, corrects: int | None) -> None:
        self.compensation(
            "cancel_discharge", "PatientDischarged", frozenset({DISCHARGED}), step, reason,
            corrects, PatientVisit.DischargeCancelled,
        )  # fmt: skip

    @rule(step=steps, reason=reasons, corrects=named)
    def cancel_left_without_being_seen(self, step: int, reason: str, corrects: int | None) -> None:
        self.compensation(
            "cancel_left_without_being_seen", "PatientLeftWithoutBeingSeen",
            frozenset({LEFT_WITHOUT_BEING_SEEN}), step, reason, corrects,
            PatientVisit.LeftWithoutBeingSeenCancelled,
        )  # fmt: skip

    # ---- a nudge along the usual paths, so deep states and compensations are reached --
    def next_usual_step(self, step: int, choice: int) -> None:
        m = self.model
        status, flow = m.flow.status, m.flow

        def no_show() -> None:
            assert m.scheduled_start is not None
            grace_over = m.scheduled_start + POLICY.no_show_grace - self.now
            self.mark_no_show(max(step, int(grace_over.total_seconds() // 60) + 1))

        reason = "usual correction"
        options: dict[str, list[Callable[[], None]]] = {
            SCHEDULED: [
                lambda: self.register_arrival(step),
                lambda: self.register_arrival(step),
                no_show,
                lambda: self.cancel(step, reason),
                lambda: self.reschedule(step, step * 10, 30 if choice % 2 else None),
                lambda: self.correct_details(step, {"service_unit": "UCC", "scheduled_end": step}),
            ],
            NO_SHOW: [lambda: self.revert_no_show(step, None)],
            ARRIVED: [
                lambda: self.record_triage(step, 3),
                lambda: self.start_clinician_contact(step),
                lambda: self.record_left_without_being_seen(step),
                lambda: self.transfer(step, ("W3", "B3"), "current"),
            ],
            TRIAGED: [
                lambda: self.start_clinician_contact(step),
                lambda: self.record_left_without_being_seen(step),
                lambda: self.admit(step, "W1", "B1"),
                lambda: self.cancel_transfer(step, reason, None),
            ],
            WITH_CLINICIAN: [
                lambda: (
                    self.record_decision_to_admit(step)
                    if not flow.decided
                    else self.admit(step, "W1", "B1")
                ),
                lambda: self.admit(step, "W2", None),
                lambda: self.discharge(step, "home", None),
                lambda: self.correct_details(step, {"visit_class": VISIT_CLASSES[choice % 5]}),
            ],
            ADMITTED: [
                lambda: self.transfer(step, ("W2", None), "current"),
                lambda: self.start_leave_of_absence(step, 120),
                lambda: self.discharge(step, "exp", -5),
                lambda: self.cancel_admission(step, reason, None),
                lambda: self.cancel_transfer(step, reason, None),
            ],
            ON_LEAVE: [lambda: self.end_leave_of_absence(step)],
            DISCHARGED: [
                lambda: self.close(step),
                lambda: self.cancel_discharge(step, reason, None),
            ],
            LEFT_WITHOUT_BEING_SEEN: [
                lambda: self.close(step),
                lambda: self.cancel_left_without_being_seen(step, reason, None),
            ],
        }
        usual = options.get(status)
        if usual:
            usual[choice % len(usual)]()
        elif status in (CLOSED, CANCELLED, ENTERED_IN_ERROR):
            self.create(choice % 2 == 0, step * 10, 30, VISIT_CLASSES[choice % len(VISIT_CLASSES)])

    # ---- invariants ---------------------------------------------------------------
    @invariant()
    def status_matches_the_model(self) -> None:
        note(f"status: {self.visit.status}")
        assert self.visit.status == self.model.flow.status
        assert self.visit.version == self.model.version
        expected_location = self.model.flow.location
        current = self.visit.current_location
        assert (None if current is None else (current["unit"], current["bed"])) == expected_location
        assert self.visit.visit_class == self.model.flow.visit_class
        assert (self.visit.service_unit, self.visit.reason_code) == (
            self.model.service_unit, self.model.reason_code,
        )  # fmt: skip
        assert self.visit.scheduled_end == self.model.scheduled_end

    @invariant()
    def one_open_location_at_a_time_and_no_overlaps(self) -> None:
        assert_locations_consistent(self.visit)
        if self.visit.status in ACTIVE_STATES | {ON_LEAVE}:
            assert self.visit.current_location is not None

    @invariant()
    def effective_flow_times_are_ordered(self) -> None:
        times = effective_times(self.visit)
        assert times == sorted(times)
        if self.visit.left_at is not None:
            assert all(
                t <= self.visit.left_at for t in (self.visit.arrival_at, self.visit.triage_at) if t
            )
        if self.visit.deceased_at is not None:
            assert self.visit.discharged_at is not None
            assert self.visit.deceased_at <= self.visit.discharged_at

    @invariant()
    def the_stored_events_rebuild_an_equal_visit(self) -> None:
        assert self.visit.pending_events == []
        stored = list(self.app.events.get(self.visit.id))
        assert stored == self.stored  # every field survives the JSON transcoder
        assert self.app.repository.get(self.visit.id) == self.visit


# Eight identical rules (rules are drawn uniformly), so about one step in four follows a
# usual path: without them, deep states and accepted compensations are rare.
for _n in range(8):
    setattr(
        VisitMachine,
        f"usual_step_{_n}",
        rule(step=st.integers(min_value=0, max_value=30), choice=st.integers(0, 11))(
            lambda self, step, choice: self.next_usual_step(step, choice)
        ),
    )

VisitMachine.TestCase.settings = settings(VisitMachine.TestCase.settings, stateful_step_count=50)
TestVisitStateMachine = VisitMachine.TestCase
