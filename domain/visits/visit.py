"""PatientVisit: one encounter, from booking to administrative close (domain-spec §1).

Command methods (public verbs) check every rule, then trigger an event. Each event's
``apply`` only assigns: it runs again on every replay, and replay must never re-run
today's rules. Compensations restore the state before the fact they cancel
(see :mod:`domain.shared.compensation`). The rules are pure functions over values in
:mod:`domain.visits.rules`; the location periods are kept by :mod:`domain.visits.locations`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.shared import compensation
from domain.shared.base import AuditedAggregate, event_id_for
from domain.shared.compensation import FlowEntry, FlowLog
from domain.visits import locations, rules
from domain.visits import vocabulary as v
from domain.visits.identity import visit_id_for
from domain.visits.locations import Location, LocationPeriod


class PatientVisit(AuditedAggregate):
    #: What a compensation restores (see :data:`domain.visits.vocabulary.FLOW_FIELDS`).
    FLOW_FIELDS = v.FLOW_FIELDS

    # ---- creation events ---------------------------------------------------------
    # Version 2 added the visit number (PV1-19) and its assigning authority; a version 1
    # event, stored before, had neither.
    class VisitScheduled(AuditedAggregate.Created):
        class_version = 2
        patient_ref: str
        visit_class: str
        service_unit: str
        scheduled_start: datetime
        scheduled_end: datetime | None
        reason_code: str | None
        visit_number: str | None
        visit_number_authority: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["visit_number"] = state["visit_number_authority"] = None

        def apply(self, visit: PatientVisit) -> None:
            visit.initialise(self.patient_ref, self.visit_class, self.service_unit)
            visit.visit_number = self.visit_number
            visit.visit_number_authority = self.visit_number_authority
            visit.status, visit.reason_code = v.SCHEDULED, self.reason_code
            visit.scheduled_start, visit.scheduled_end = self.scheduled_start, self.scheduled_end
            visit.booked_at = self.occurred_at

    class WalkInRegistered(AuditedAggregate.Created):
        """PatientArrived (walk-in): the visit starts already arrived (ED, walk-in clinic)."""

        class_version = 2
        patient_ref: str
        visit_class: str
        service_unit: str
        arrival_mode: str | None
        visit_number: str | None
        visit_number_authority: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["visit_number"] = state["visit_number_authority"] = None

        def apply(self, visit: PatientVisit) -> None:
            visit.initialise(self.patient_ref, self.visit_class, self.service_unit)
            visit.visit_number = self.visit_number
            visit.visit_number_authority = self.visit_number_authority
            visit.walk_in = True
            visit.arrive(self.occurred_at, self.arrival_mode, event_id=self.event_id)

    # ---- scheduling events -------------------------------------------------------
    class VisitRescheduled(AuditedAggregate.Event):
        scheduled_start: datetime
        scheduled_end: datetime | None

        def apply(self, visit: PatientVisit) -> None:
            visit.scheduled_start, visit.scheduled_end = self.scheduled_start, self.scheduled_end

    class VisitCancelled(AuditedAggregate.Event):
        late_cancellation: bool

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitCancelled", self.event_id)
            visit.status, visit.cancelled_at = v.CANCELLED, self.occurred_at
            visit.late_cancellation = self.late_cancellation

    class VisitMarkedNoShow(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitMarkedNoShow", self.event_id)
            visit.status, visit.no_show_at = v.NO_SHOW, self.occurred_at

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
            visit.status, visit.triage_at = v.TRIAGED, self.occurred_at
            visit.acuity_scale, visit.acuity_level = self.acuity_scale, self.acuity_level

    class ClinicianContactStarted(AuditedAggregate.Event):
        clinician_ref: str
        first_contact: bool

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("ClinicianContactStarted", self.event_id)
            visit.status, visit.clinician_ref = v.WITH_CLINICIAN, self.clinician_ref
            if self.first_contact:
                visit.provider_seen_at = self.occurred_at

    class AdmissionDecided(AuditedAggregate.Event):
        """Starts the boarding clock."""

        target_unit: str

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("AdmissionDecided", self.event_id)
            visit.decision_to_admit_at, visit.target_unit = self.occurred_at, self.target_unit

    class PatientAdmitted(AuditedAggregate.Event):
        unit: str
        bed: str | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientAdmitted", self.event_id)
            visit.status, visit.admitted_at = v.ADMITTED, self.occurred_at
            visit.visit_class = v.INPATIENT_CLASS
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
            # The location period stays open: the bed is kept.
            visit.status, visit.leave_started_at = v.ON_LEAVE, self.occurred_at
            visit.expected_return = self.expected_return

    class LeaveOfAbsenceEnded(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("LeaveOfAbsenceEnded", self.event_id)
            visit.status, visit.leave_ended_at = v.ADMITTED, self.occurred_at
            visit.expected_return = None

    class PatientLeftWithoutBeingSeen(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientLeftWithoutBeingSeen", self.event_id)
            visit.status, visit.left_at = v.LEFT_WITHOUT_BEING_SEEN, self.occurred_at
            visit.close_location(self.occurred_at)

    class PatientDischarged(AuditedAggregate.Event):
        disposition: str
        destination: str | None
        deceased_at: datetime | None

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("PatientDischarged", self.event_id)
            visit.status, visit.discharged_at = v.DISCHARGED, self.occurred_at
            visit.disposition, visit.destination = self.disposition, self.destination
            visit.deceased_at = self.deceased_at
            visit.close_location(self.occurred_at)

    class VisitClosed(AuditedAggregate.Event):
        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitClosed", self.event_id)
            visit.status, visit.closed_at = v.CLOSED, self.occurred_at

    # ---- corrections -------------------------------------------------------------
    class VisitMarkedEnteredInError(AuditedAggregate.Event):
        previous_status: str

        def apply(self, visit: PatientVisit) -> None:
            visit.remember_flow("VisitMarkedEnteredInError", self.event_id)
            visit.status = v.ENTERED_IN_ERROR
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
    # With a visit number, the id is derived from it (domain.visits.identity.visit_id_for),
    # so a second visit with the same number and authority is a duplicate.
    @classmethod
    def schedule(
        cls, *, patient_ref: str, visit_class: str, service_unit: str, scheduled_start: datetime,
        scheduled_end: datetime | None = None, reason_code: str | None = None,
        visit_number: str | None = None, visit_number_authority: str | None = None,
        at: datetime,
    ) -> PatientVisit:  # fmt: skip
        rules.check_visit_number(visit_number, visit_number_authority)
        rules.check_period(scheduled_start, scheduled_end)
        visit: PatientVisit = cls._create(
            cls.VisitScheduled, id=cls._id_of(visit_number, visit_number_authority),
            patient_ref=patient_ref, visit_class=visit_class, service_unit=service_unit,
            scheduled_start=scheduled_start, scheduled_end=scheduled_end,
            reason_code=reason_code, visit_number=visit_number,
            visit_number_authority=visit_number_authority, occurred_at=at,
        )  # fmt: skip
        return visit

    @classmethod
    def register_walk_in(
        cls, *, patient_ref: str, visit_class: str, service_unit: str,
        arrival_mode: str | None = None, visit_number: str | None = None,
        visit_number_authority: str | None = None, at: datetime,
    ) -> PatientVisit:  # fmt: skip
        rules.check_visit_number(visit_number, visit_number_authority)
        visit: PatientVisit = cls._create(
            cls.WalkInRegistered, id=cls._id_of(visit_number, visit_number_authority),
            patient_ref=patient_ref, visit_class=visit_class, service_unit=service_unit,
            arrival_mode=arrival_mode, visit_number=visit_number,
            visit_number_authority=visit_number_authority, occurred_at=at,
        )  # fmt: skip
        return visit

    @staticmethod
    def _id_of(visit_number: str | None, authority: str | None) -> UUID | None:
        """Derived from the visit number, if there is one (then a second visit with it is a
        duplicate); None lets the base choose a random id."""
        return None if visit_number is None else visit_id_for(visit_number, authority)

    # ---- commands: scheduling ----------------------------------------------------
    def reschedule(
        self, *, scheduled_start: datetime, scheduled_end: datetime | None, at: datetime
    ) -> None:
        rules.check_reschedule(self, scheduled_start, scheduled_end)
        self.trigger_event(
            self.VisitRescheduled, scheduled_start=scheduled_start, scheduled_end=scheduled_end,
            occurred_at=at,
        )  # fmt: skip

    def cancel(self, *, reason: str, at: datetime, policy: v.VisitPolicy) -> None:
        late = rules.check_cancel(self, reason, at, policy)
        self.trigger_event(
            self.VisitCancelled, late_cancellation=late, reason=reason, occurred_at=at
        )

    def mark_no_show(self, *, at: datetime, policy: v.VisitPolicy) -> None:
        rules.check_no_show(self, at, policy)
        self.trigger_event(self.VisitMarkedNoShow, occurred_at=at)

    def revert_no_show(
        self, *, at: datetime, policy: v.VisitPolicy, reason: str | None = None,
        corrects_event_id: UUID | None = None,
    ) -> None:  # fmt: skip
        target = rules.check_no_show_reversal(self, corrects_event_id, at, policy)
        self._compensate(self.NoShowReverted, target, reason, at)

    # ---- commands: arrival to departure ------------------------------------------
    def register_arrival(self, *, arrival_mode: str | None = None, at: datetime) -> None:
        rules.require_status(self, {v.SCHEDULED}, action="register an arrival for")
        self.trigger_event(self.PatientArrived, arrival_mode=arrival_mode, occurred_at=at)

    def record_triage(self, *, acuity_scale: str, acuity_level: int, at: datetime) -> None:
        rules.check_triage(self, acuity_level, at)
        self.trigger_event(
            self.PatientTriaged, acuity_scale=acuity_scale, acuity_level=acuity_level,
            occurred_at=at,
        )  # fmt: skip

    def start_clinician_contact(self, *, clinician_ref: str, at: datetime) -> None:
        rules.check_clinician_contact(self, at)
        self.trigger_event(
            self.ClinicianContactStarted, clinician_ref=clinician_ref,
            first_contact=self.provider_seen_at is None, occurred_at=at,
        )  # fmt: skip

    def record_decision_to_admit(self, *, target_unit: str, at: datetime) -> None:
        rules.check_decision_to_admit(self, at)
        self.trigger_event(self.AdmissionDecided, target_unit=target_unit, occurred_at=at)

    def admit(self, *, unit: str, bed: str | None = None, at: datetime) -> None:
        rules.check_admission(self, unit, at)
        self.trigger_event(self.PatientAdmitted, unit=unit, bed=bed, occurred_at=at)

    def transfer(
        self, *, to_unit: str, to_bed: str | None = None, from_unit: str | None = None,
        from_bed: str | None = None, at: datetime,
    ) -> None:  # fmt: skip
        origin = rules.check_transfer(self, to_unit, to_bed, from_unit, from_bed, at)
        self.trigger_event(
            self.PatientTransferred, from_unit=origin["unit"], from_bed=origin["bed"],
            to_unit=to_unit, to_bed=to_bed, occurred_at=at,
        )  # fmt: skip

    def start_leave_of_absence(
        self, *, expected_return: datetime | None = None, at: datetime
    ) -> None:
        rules.check_leave_start(self, expected_return, at)
        self.trigger_event(
            self.LeaveOfAbsenceStarted, expected_return=expected_return, occurred_at=at
        )

    def end_leave_of_absence(self, *, at: datetime) -> None:
        rules.check_leave_end(self, at)
        self.trigger_event(self.LeaveOfAbsenceEnded, occurred_at=at)

    def record_left_without_being_seen(self, *, at: datetime) -> None:
        rules.check_left_without_being_seen(self, at)
        self.trigger_event(self.PatientLeftWithoutBeingSeen, occurred_at=at)

    def discharge(
        self, *, disposition: str, destination: str | None = None,
        deceased_at: datetime | None = None, at: datetime,
    ) -> None:  # fmt: skip
        rules.check_discharge(self, disposition, deceased_at, at)
        self.trigger_event(
            self.PatientDischarged, disposition=disposition, destination=destination,
            deceased_at=deceased_at, occurred_at=at,
        )  # fmt: skip

    def close(self, *, at: datetime) -> None:
        rules.check_close(self, at)
        self.trigger_event(self.VisitClosed, occurred_at=at)

    # ---- commands: corrections ---------------------------------------------------
    def mark_entered_in_error(self, *, reason: str, at: datetime) -> None:
        rules.check_entered_in_error(self, reason)
        self.trigger_event(
            self.VisitMarkedEnteredInError, previous_status=self.status, reason=reason,
            occurred_at=at,
        )  # fmt: skip

    def correct_details(
        self, *, changes: dict[str, Any], at: datetime, reason: str | None = None
    ) -> None:
        diff = rules.corrected_details(self, changes)
        self.trigger_event(self.VisitDetailsCorrected, changes=diff, reason=reason, occurred_at=at)

    def cancel_admission(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = rules.check_compensation(self, "PatientAdmitted", corrects_event_id, reason)
        self._compensate(self.AdmissionCancelled, target, reason, at)

    def cancel_transfer(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = rules.check_compensation(self, "PatientTransferred", corrects_event_id, reason)
        self._compensate(self.TransferCancelled, target, reason, at)

    def cancel_discharge(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = rules.check_compensation(self, "PatientDischarged", corrects_event_id, reason)
        self._compensate(self.DischargeCancelled, target, reason, at)

    def cancel_left_without_being_seen(
        self, *, reason: str, at: datetime, corrects_event_id: UUID | None = None
    ) -> None:
        target = rules.check_compensation(
            self, "PatientLeftWithoutBeingSeen", corrects_event_id, reason
        )
        self._compensate(self.LeftWithoutBeingSeenCancelled, target, reason, at)

    def _compensate(
        self, event_class: type, target: FlowEntry, reason: str | None, at: datetime
    ) -> None:
        self.trigger_event(
            event_class, corrects_event_id=UUID(target["event_id"]),
            restored_status=target["before"]["status"], reason=reason, occurred_at=at,
        )  # fmt: skip

    # ---- state, assigned only by events' apply() ---------------------------------
    def initialise(self, patient_ref: str, visit_class: str, service_unit: str) -> None:
        # First: visit_class is a flow field (an admission changes it), so resetting the
        # flow fields after assigning it would lose it. Each is None until a fact sets it
        # (the status too, until the creating event's apply sets it right after this).
        for name in self.FLOW_FIELDS:
            setattr(self, name, None)
        self.status: str
        self.arrival_at: datetime | None
        self.triage_at: datetime | None
        self.provider_seen_at: datetime | None
        self.decision_to_admit_at: datetime | None
        self.target_unit: str | None
        self.admitted_at: datetime | None
        self.leave_started_at: datetime | None
        self.leave_ended_at: datetime | None
        self.expected_return: datetime | None
        self.discharged_at: datetime | None
        self.disposition: str | None
        self.destination: str | None
        self.deceased_at: datetime | None
        self.left_at: datetime | None
        self.closed_at: datetime | None
        self.no_show_at: datetime | None
        self.cancelled_at: datetime | None
        self.patient_ref = patient_ref
        self.visit_class = visit_class
        self.service_unit = service_unit
        # PV1-19, set by the creating event right after this (None when it had none).
        self.visit_number: str | None = None
        self.visit_number_authority: str | None = None
        self.scheduled_start: datetime | None = None
        self.scheduled_end: datetime | None = None
        #: When the booking was made (its event's occurred_at); None for a walk-in.
        self.booked_at: datetime | None = None
        self.reason_code: str | None = None
        self.walk_in = False
        self.arrival_mode: str | None = None
        self.acuity_scale: str | None = None
        self.acuity_level: int | None = None
        self.clinician_ref: str | None = None
        self.flow_log: FlowLog = []
        self.late_cancellation = False
        self.location_periods: list[LocationPeriod] = []

    def arrive(self, at: datetime, arrival_mode: str | None, event_id: UUID | None = None) -> None:
        self.remember_flow("PatientArrived", event_id)
        self.status, self.arrival_at, self.arrival_mode = v.ARRIVED, at, arrival_mode
        self.open_location(self.service_unit, None, at)

    def open_location(self, unit: str, bed: str | None, at: datetime) -> None:
        self.location_periods = locations.opened(self.location_periods, unit, bed, at)

    def close_location(self, at: datetime) -> None:
        self.location_periods = locations.closed(self.location_periods, at)

    def remember_flow(self, kind: str, event_id: UUID | None = None) -> None:
        """Save the flow state the event being applied is about to replace. ``event_id`` is
        the applied event's own id (every event carries it); from the version is the fallback."""
        if event_id is None:
            event_id = event_id_for(self.id, self.version + 1)
        self.flow_log.append(compensation.remembered(self, self.FLOW_FIELDS, kind, event_id))

    def restore_before(self, corrects_event_id: UUID) -> None:
        entry = compensation.entry_for(self.flow_log, corrects_event_id)
        entry["cancelled"] = True
        for name, value in compensation.restored(entry).items():
            setattr(self, name, value)

    # ---- reading -----------------------------------------------------------------
    @property
    def current_location(self) -> Location | None:
        return locations.current(self.location_periods)


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("domain.visits:PatientVisit", PatientVisit)
