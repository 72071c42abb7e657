"""PatientVisit: one encounter, from booking to administrative close (domain-spec §1).

Command methods (public verbs) check every rule, then trigger an event. Each event's
``apply`` only assigns: it runs again on every replay, and replay must never re-run
today's rules. Compensations restore the state before the fact they cancel
(see :mod:`domain.shared.compensation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.utils import register_topic

from domain.shared.base import AuditedAggregate
from domain.shared.compensation import CompensableFlow
from domain.shared.errors import DomainValidationError, InvalidTransitionError, TimestampOrderError
from domain.visits.vocabulary import (
    ACTIVE_STATES,
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    CORRECTABLE_DETAILS,
    DECEASED_DISPOSITION,
    DISCHARGED,
    ENTERED_IN_ERROR,
    FINAL_STATES,
    INPATIENT_CLASS,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    WITH_CLINICIAN,
    VisitPolicy,
)

_ACTIVE = tuple(sorted(ACTIVE_STATES))


class PatientVisit(AuditedAggregate, CompensableFlow):
    FLOW_FIELDS = (
        "status", "visit_class", "location_periods", "arrival_at", "triage_at",
        "provider_seen_at", "decision_to_admit_at", "target_unit", "admitted_at",
        "leave_started_at", "leave_ended_at", "expected_return", "discharged_at",
        "disposition", "destination", "deceased_at", "left_at", "closed_at", "no_show_at",
        "cancelled_at", "late_cancellation",
    )  # fmt: skip

    # ---- creation events ---------------------------------------------------------
    class VisitScheduled(AuditedAggregate.Created):
        patient_ref: str
        visit_class: str
        service_unit: str
        scheduled_start: datetime
        scheduled_end: datetime | None
        reason_code: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.initialise(self.patient_ref, self.visit_class, self.service_unit)
            visit.status = SCHEDULED
            visit.scheduled_start = self.scheduled_start
            visit.scheduled_end = self.scheduled_end
            visit.reason_code = self.reason_code

    class WalkInRegistered(AuditedAggregate.Created):
        """PatientArrived (walk-in): the visit starts already arrived (ED, walk-in clinic)."""

        patient_ref: str
        visit_class: str
        service_unit: str
        arrival_mode: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.initialise(self.patient_ref, self.visit_class, self.service_unit)
            visit.walk_in = True
            visit.arrive(self.occurred_at, self.arrival_mode, event_id=self.event_id)

    # ---- scheduling events -------------------------------------------------------
    class VisitRescheduled(AuditedAggregate.Event):
        scheduled_start: datetime
        scheduled_end: datetime | None

        def apply(self, visit: PatientVisit) -> None:
            visit.scheduled_start = self.scheduled_start
            visit.scheduled_end = self.scheduled_end

    class VisitCancelled(AuditedAggregate.Event):
        late_cancellation: bool

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitCancelled", self.event_id)
            visit.status = CANCELLED
            visit.cancelled_at = self.occurred_at
            visit.late_cancellation = self.late_cancellation

    class VisitMarkedNoShow(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitMarkedNoShow", self.event_id)
            visit.status = NO_SHOW
            visit.no_show_at = self.occurred_at

    # ---- flow events -------------------------------------------------------------
    class PatientArrived(AuditedAggregate.Event):
        arrival_mode: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.arrive(self.occurred_at, self.arrival_mode, self.event_id)

    class PatientTriaged(AuditedAggregate.Event):
        acuity_scale: str
        acuity_level: int

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientTriaged", self.event_id)
            visit.status = TRIAGED
            visit.triage_at = self.occurred_at
            visit.acuity_scale = self.acuity_scale
            visit.acuity_level = self.acuity_level

    class ClinicianContactStarted(AuditedAggregate.Event):
        clinician_ref: str
        first_contact: bool

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("ClinicianContactStarted", self.event_id)
            visit.status = WITH_CLINICIAN
            visit.clinician_ref = self.clinician_ref
            if self.first_contact:
                visit.provider_seen_at = self.occurred_at

    class AdmissionDecided(AuditedAggregate.Event):
        """Starts the boarding clock."""

        target_unit: str

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("AdmissionDecided", self.event_id)
            visit.decision_to_admit_at = self.occurred_at
            visit.target_unit = self.target_unit

    class PatientAdmitted(AuditedAggregate.Event):
        unit: str
        bed: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientAdmitted", self.event_id)
            visit.status = ADMITTED
            visit.admitted_at = self.occurred_at
            visit.visit_class = INPATIENT_CLASS
            visit.open_location(self.unit, self.bed, self.occurred_at)

    class PatientTransferred(AuditedAggregate.Event):
        from_unit: str
        from_bed: str | None
        to_unit: str
        to_bed: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientTransferred", self.event_id)
            visit.open_location(self.to_unit, self.to_bed, self.occurred_at)

    class LeaveOfAbsenceStarted(AuditedAggregate.Event):
        expected_return: datetime | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("LeaveOfAbsenceStarted", self.event_id)
            visit.status = ON_LEAVE  # the location period stays open: the bed is kept
            visit.leave_started_at = self.occurred_at
            visit.expected_return = self.expected_return

    class LeaveOfAbsenceEnded(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("LeaveOfAbsenceEnded", self.event_id)
            visit.status = ADMITTED
            visit.leave_ended_at = self.occurred_at
            visit.expected_return = None

    class PatientLeftWithoutBeingSeen(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientLeftWithoutBeingSeen", self.event_id)
            visit.status = LEFT_WITHOUT_BEING_SEEN
            visit.left_at = self.occurred_at
            visit.close_location(self.occurred_at)

    class PatientDischarged(AuditedAggregate.Event):
        disposition: str
        destination: str | None
        deceased_at: datetime | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientDischarged", self.event_id)
            visit.status = DISCHARGED
            visit.discharged_at = self.occurred_at
            visit.disposition = self.disposition
            visit.destination = self.destination
            visit.deceased_at = self.deceased_at
            visit.close_location(self.occurred_at)

    class VisitClosed(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitClosed", self.event_id)
            visit.status = CLOSED
            visit.closed_at = self.occurred_at

    # ---- corrections -------------------------------------------------------------
    class VisitMarkedEnteredInError(AuditedAggregate.Event):
        previous_status: str

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitMarkedEnteredInError", self.event_id)
            visit.status = ENTERED_IN_ERROR
            # An erroneous visit holds no bed (invariant 1; the census must not count it).
            visit.close_location(self.occurred_at)

    class VisitDetailsCorrected(AuditedAggregate.Event):
        changes: dict[str, dict[str, Any]]  # field -> {"before": ..., "after": ...}

        def apply(self, visit: PatientVisit) -> None:
            if set(self.changes) & set(visit.FLOW_FIELDS):
                # It changes what an earlier flow fact set (the class an admission set), so
                # it is a later fact that cancelling that one must not silently undo.
                visit.remember_flow("VisitDetailsCorrected", self.event_id)
            for name, change in self.changes.items():
                setattr(visit, name, change["after"])

    class Compensation(AuditedAggregate.Event):
        """A fact that cancels an earlier one; the visit returns to the state before it."""

        corrects_event_id: UUID
        restored_status: str

        def apply(self, visit: PatientVisit) -> None:
            visit.restore_before(self.corrects_event_id)

    class AdmissionCancelled(Compensation):
        """HL7 v2 A11."""

    class TransferCancelled(Compensation):
        """HL7 v2 A12."""

    class DischargeCancelled(Compensation):
        """HL7 v2 A13."""

    class LeftWithoutBeingSeenCancelled(Compensation):
        pass

    class NoShowReverted(Compensation):
        pass

    # ---- commands: creation ------------------------------------------------------
    @classmethod
    def schedule(
        cls, *, patient_ref: str, visit_class: str, service_unit: str, scheduled_start: datetime,
        scheduled_end: datetime | None = None, reason_code: str | None = None, at: datetime,
    ) -> PatientVisit:  # fmt: skip
        _check_period(scheduled_start, scheduled_end)
        return cls._create(
            cls.VisitScheduled, patient_ref=patient_ref, visit_class=visit_class,
            service_unit=service_unit, scheduled_start=scheduled_start,
            scheduled_end=scheduled_end, reason_code=reason_code, occurred_at=at,
        )  # fmt: skip

    @classmethod
    def register_walk_in(
        cls, *, patient_ref: str, visit_class: str, service_unit: str,
        arrival_mode: str | None = None, at: datetime,
    ) -> PatientVisit:  # fmt: skip
        return cls._create(
            cls.WalkInRegistered, patient_ref=patient_ref, visit_class=visit_class,
            service_unit=service_unit, arrival_mode=arrival_mode, occurred_at=at,
        )  # fmt: skip

    # ---- commands: scheduling ----------------------------------------------------
    def reschedule(
        self, *, scheduled_start: datetime, scheduled_end: datetime | None, at: datetime
    ) -> None:
        self._require(SCHEDULED, action="reschedule")
        _check_period(scheduled_start, scheduled_end)
        self.trigger_event(
            self.VisitRescheduled, scheduled_start=scheduled_start, scheduled_end=scheduled_end,
            occurred_at=at,
        )  # fmt: skip

    def cancel(self, *, reason: str, at: datetime, policy: VisitPolicy) -> None:
        self._require(SCHEDULED, action="cancel")
        _require_reason(reason)
        assert self.scheduled_start is not None
        late = self.scheduled_start - at < policy.late_cancellation_window
        self.trigger_event(
            self.VisitCancelled, late_cancellation=late, reason=reason, occurred_at=at
        )

    def mark_no_show(self, *, at: datetime, policy: VisitPolicy) -> None:
        self._require(SCHEDULED, action="mark as no-show")
        assert self.scheduled_start is not None
        if self.arrival_at is not None:  # invariant 4
            raise InvalidTransitionError("a patient who arrived cannot be a no-show")
        if at < self.scheduled_start + policy.no_show_grace:
            minutes = int(policy.no_show_grace.total_seconds() // 60)
            raise InvalidTransitionError(
                f"a no-show can only be recorded {minutes} minutes after the scheduled start"
            )
        self.trigger_event(self.VisitMarkedNoShow, occurred_at=at)

    def revert_no_show(
        self, *, at: datetime, policy: VisitPolicy, reason: str | None = None,
        corrects_event_id: UUID | None = None,
    ) -> None:  # fmt: skip
        target = self.compensation_target(
            "VisitMarkedNoShow", corrects_event_id, frozenset({NO_SHOW})
        )
        assert self.scheduled_start is not None
        zone = ZoneInfo(policy.facility_timezone)
        if at.astimezone(zone).date() != self.scheduled_start.astimezone(zone).date():
            raise InvalidTransitionError("a no-show can only be reverted on the day of the visit")
        self._compensate(self.NoShowReverted, target, reason=reason, at=at)

    # ---- commands: arrival to departure ------------------------------------------
    def register_arrival(self, *, arrival_mode: str | None = None, at: datetime) -> None:
        self._require(SCHEDULED, action="register an arrival for")
        self.trigger_event(self.PatientArrived, arrival_mode=arrival_mode, occurred_at=at)

    def record_triage(self, *, acuity_scale: str, acuity_level: int, at: datetime) -> None:
        self._require(ARRIVED, action="triage")
        if not 1 <= acuity_level <= 5:
            raise DomainValidationError("the acuity level must be 1 to 5", field="acuityLevel")
        self._check_order(at, "triage")
        self.trigger_event(
            self.PatientTriaged,
            acuity_scale=acuity_scale,
            acuity_level=acuity_level,
            occurred_at=at,
        )

    def start_clinician_contact(self, *, clinician_ref: str, at: datetime) -> None:
        self._require(ARRIVED, TRIAGED, action="start clinician contact for")
        self._check_order(at, "clinician contact")
        self.trigger_event(
            self.ClinicianContactStarted, clinician_ref=clinician_ref,
            first_contact=self.provider_seen_at is None, occurred_at=at,
        )  # fmt: skip

    def record_decision_to_admit(self, *, target_unit: str, at: datetime) -> None:
        self._require(WITH_CLINICIAN, action="record a decision to admit for")
        if self.decision_to_admit_at is not None:
            raise InvalidTransitionError("a decision to admit is already recorded")
        self._check_order(at, "decision to admit")
        self.trigger_event(self.AdmissionDecided, target_unit=target_unit, occurred_at=at)

    def admit(self, *, unit: str, bed: str | None = None, at: datetime) -> None:
        self._require(ARRIVED, TRIAGED, WITH_CLINICIAN, action="admit")
        if not unit:
            raise DomainValidationError("an admission needs a unit", field="unit")
        self._check_order(at, "admission")
        self.trigger_event(self.PatientAdmitted, unit=unit, bed=bed, occurred_at=at)

    def transfer(
        self, *, to_unit: str, to_bed: str | None = None, from_unit: str | None = None,
        from_bed: str | None = None, at: datetime,
    ) -> None:  # fmt: skip
        self._require(*_ACTIVE, action="transfer")
        current = self.current_location
        if current is None:
            raise InvalidTransitionError("the visit has no current location to transfer from")
        for given, actual, field in (
            (from_unit, current["unit"], "fromUnit"),
            (from_bed, current["bed"], "fromBed"),
        ):
            if given is not None and given != actual:
                raise InvalidTransitionError(
                    "the given 'from' is not the current location", field=field
                )
        if (to_unit, to_bed) == (current["unit"], current["bed"]):
            raise DomainValidationError("the patient is already in that location", field="toUnit")
        self._check_order(at, "transfer")
        self.trigger_event(
            self.PatientTransferred, from_unit=current["unit"], from_bed=current["bed"],
            to_unit=to_unit, to_bed=to_bed, occurred_at=at,
        )  # fmt: skip

    def start_leave_of_absence(
        self, *, expected_return: datetime | None = None, at: datetime
    ) -> None:
        self._require(ADMITTED, action="start a leave of absence for")
        self._check_order(at, "leave of absence")
        if expected_return is not None and expected_return < at:
            raise TimestampOrderError("the expected return is before the leave starts")
        self.trigger_event(
            self.LeaveOfAbsenceStarted, expected_return=expected_return, occurred_at=at
        )

    def end_leave_of_absence(self, *, at: datetime) -> None:
        self._require(ON_LEAVE, action="end a leave of absence for")
        self._check_order(at, "return from leave")
        self.trigger_event(self.LeaveOfAbsenceEnded, occurred_at=at)

    def record_left_without_being_seen(self, *, at: datetime) -> None:
        self._require(ARRIVED, TRIAGED, action="record left-without-being-seen for")
        if self.provider_seen_at is not None:  # invariant 4
            raise InvalidTransitionError(
                "the patient was seen by a clinician: leaving is a discharge (lbtc or aadvice)"
            )
        self._check_order(at, "departure")
        self.trigger_event(self.PatientLeftWithoutBeingSeen, occurred_at=at)

    def discharge(
        self, *, disposition: str, destination: str | None = None,
        deceased_at: datetime | None = None, at: datetime,
    ) -> None:  # fmt: skip
        self._require(*_ACTIVE, action="discharge")
        if not disposition:  # invariant 3
            raise DomainValidationError("a discharge needs a disposition", field="disposition")
        if disposition == DECEASED_DISPOSITION and deceased_at is None:
            raise DomainValidationError(
                "disposition 'exp' needs a time of death", field="deceasedAt"
            )
        if disposition != DECEASED_DISPOSITION and deceased_at is not None:
            raise DomainValidationError(
                "a time of death needs disposition 'exp'", field="deceasedAt"
            )
        self._check_order(at, "discharge")
        if deceased_at is not None and deceased_at > at:
            raise TimestampOrderError("the time of death is after the discharge")
        if (
            deceased_at is not None
            and self.arrival_at is not None
            and deceased_at < self.arrival_at
        ):
            raise TimestampOrderError("the time of death is before the arrival")
        self.trigger_event(
            self.PatientDischarged, disposition=disposition, destination=destination,
            deceased_at=deceased_at, occurred_at=at,
        )  # fmt: skip

    def close(self, *, at: datetime) -> None:
        self._require(DISCHARGED, LEFT_WITHOUT_BEING_SEEN, action="close")
        self._check_order(at, "close")
        self.trigger_event(self.VisitClosed, occurred_at=at)

    # ---- commands: corrections ---------------------------------------------------
    def mark_entered_in_error(self, *, reason: str, at: datetime) -> None:
        if self.status == ENTERED_IN_ERROR:
            raise InvalidTransitionError("the visit is already marked entered-in-error")
        _require_reason(reason)
        self.trigger_event(
            self.VisitMarkedEnteredInError,
            previous_status=self.status,
            reason=reason,
            occurred_at=at,
        )

    def correct_details(
        self, *, changes: dict[str, Any], at: datetime, reason: str | None = None
    ) -> None:
        if self.status in FINAL_STATES:
            raise InvalidTransitionError(f"a visit that is {self.status} cannot be corrected")
        unknown = sorted(set(changes) - set(CORRECTABLE_DETAILS))
        if unknown:
            raise DomainValidationError(f"not correctable: {', '.join(unknown)}", field="changes")
        diff = {
            name: {"before": getattr(self, name), "after": value}
            for name, value in changes.items()
            if getattr(self, name) != value
        }
        if not diff:
            raise DomainValidationError("the changes change nothing", field="changes")
        if "scheduled_end" in diff:
            if self.scheduled_start is None:
                raise DomainValidationError(
                    "a walk-in has no schedule", field="changes.scheduledEnd"
                )
            _check_period(self.scheduled_start, changes["scheduled_end"])
        self.trigger_event(self.VisitDetailsCorrected, changes=diff, reason=reason, occurred_at=at)

    def cancel_admission(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = self.compensation_target(
            "PatientAdmitted", corrects_event_id, frozenset({ADMITTED})
        )
        self._compensate(self.AdmissionCancelled, target, reason=reason, at=at)

    def cancel_transfer(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = self.compensation_target("PatientTransferred", corrects_event_id, ACTIVE_STATES)
        self._compensate(self.TransferCancelled, target, reason=reason, at=at)

    def cancel_discharge(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = self.compensation_target(
            "PatientDischarged", corrects_event_id, frozenset({DISCHARGED})
        )
        self._compensate(self.DischargeCancelled, target, reason=reason, at=at)

    def cancel_left_without_being_seen(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = self.compensation_target(
            "PatientLeftWithoutBeingSeen", corrects_event_id, frozenset({LEFT_WITHOUT_BEING_SEEN})
        )
        self._compensate(self.LeftWithoutBeingSeenCancelled, target, reason=reason, at=at)

    def _compensate(
        self, event_class: type, target: dict[str, Any], *, reason: str | None, at: datetime
    ) -> None:
        if event_class is not self.NoShowReverted:
            _require_reason(reason)
        self.trigger_event(
            event_class, corrects_event_id=UUID(target["event_id"]),
            restored_status=target["before"]["status"], reason=reason, occurred_at=at,
        )  # fmt: skip

    # ---- state, assigned only by events' apply() ---------------------------------
    def initialise(self, patient_ref: str, visit_class: str, service_unit: str) -> None:
        # First: visit_class is a flow field (an admission changes it), so resetting the
        # flow fields after assigning it would lose it.
        for name in self.FLOW_FIELDS:
            setattr(self, name, None)
        self.patient_ref = patient_ref
        self.visit_class = visit_class
        self.service_unit = service_unit
        self.scheduled_start: datetime | None = None
        self.scheduled_end: datetime | None = None
        self.reason_code: str | None = None
        self.walk_in = False
        self.arrival_mode: str | None = None
        self.acuity_scale: str | None = None
        self.acuity_level: int | None = None
        self.clinician_ref: str | None = None
        self.flow_log = []
        self.late_cancellation = False
        self.location_periods: list[dict[str, Any]] = []

    def arrive(self, at: datetime, arrival_mode: str | None, event_id: UUID | None = None) -> None:
        self.remember_flow("PatientArrived", event_id)
        self.status = ARRIVED
        self.arrival_at = at
        self.arrival_mode = arrival_mode
        self.open_location(self.service_unit, None, at)

    def open_location(self, unit: str, bed: str | None, at: datetime) -> None:
        """Invariant 1: the open period is closed at the instant the next one opens."""
        self.close_location(at)
        self.location_periods.append({"unit": unit, "bed": bed, "start": at, "end": None})

    def close_location(self, at: datetime) -> None:
        if self.location_periods and self.location_periods[-1]["end"] is None:
            # Flow steps are ordered by their checks; a backdated entered-in-error is not,
            # and a period must never end before it starts.
            period = self.location_periods[-1]
            period["end"] = max(at, period["start"])

    # ---- reading -----------------------------------------------------------------
    @property
    def current_location(self) -> dict[str, Any] | None:
        if self.location_periods and self.location_periods[-1]["end"] is None:
            period = self.location_periods[-1]
            return {"unit": period["unit"], "bed": period["bed"]}
        return None

    def _require(self, *states: str, action: str) -> None:
        if self.status not in states:
            raise InvalidTransitionError(f"cannot {action} a visit that is {self.status}")

    def _check_order(self, at: datetime, step: str) -> None:
        """Invariant 2: effective flow times never go backwards."""
        times = [
            self.arrival_at, self.triage_at, self.provider_seen_at, self.decision_to_admit_at,
            self.admitted_at, self.leave_started_at, self.leave_ended_at, self.discharged_at,
            self.left_at, *(period["start"] for period in self.location_periods),
        ]  # fmt: skip
        latest = max((t for t in times if t is not None), default=None)
        if latest is not None and at < latest:
            raise TimestampOrderError(f"the {step} time is before an earlier step of the visit")


def _check_period(start: datetime, end: datetime | None) -> None:
    if end is not None and end <= start:
        raise DomainValidationError(
            "the scheduled end must be after the start", field="scheduledEnd"
        )


def _require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise DomainValidationError("a reason is required", field="reason")


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.visits:PatientVisit", PatientVisit)
