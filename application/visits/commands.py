"""The PatientVisit commands of the HTTP contract, and who may issue them (domain-spec §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.shared.commands import (
    AggregateCommand,
    AwareDatetime,
    Creation,
    Loader,
    Reason,
    Ref,
)
from application.shared.errors import AlreadyExistsError, CommandValidationError, NotFoundError
from application.shared.policies import Policies
from application.visits.bookings import VisitBefore, follow_bookings, slot_end

# The command payload's values live in values.py; callers may still import them from here.
from application.visits.values import AcuityLevel, Disposition, VisitClass, VisitDetailChanges
from domain.capacity.schedule import ClinicSchedule
from domain.shared.errors import DomainValidationError
from domain.visits.identity import visit_id_for
from domain.visits.visit import PatientVisit

CLERK, NURSE, CLINICIAN, MANAGER, INTEGRATION = (
    "clerk",
    "nurse",
    "clinician",
    "manager",
    "integration",
)


def _roles(*names: str) -> frozenset[str]:
    # Feeds (HL7 ADT via an integration engine) may send every visit command.
    return frozenset((*names, INTEGRATION))


#: Attempts for a booking that keeps losing races on its slot: each loss is another
#: booking or release of that slot, so a slot of k places costs a loser at most k losses
#: before it is refused SLOT_FULL, and the default 5 would answer VERSION_CONFLICT instead.
BOOKING_ATTEMPTS = 64


class VisitCommand(AggregateCommand, kw_only=True, frozen=True):
    aggregate_type = PatientVisit

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        raise NotImplementedError

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        """The visit, and the patient's bookings and slot claims its change moves."""
        assert target is not None, "a command on a visit needs its target"
        visit: PatientVisit = load(target, PatientVisit)
        before = VisitBefore.of(visit)
        self.apply_loading(visit, load, at, policies)
        offer_for = policies.visit.waitlist_offer
        return [visit, *follow_bookings(load, visit, before, at, offer_for=offer_for)]

    def apply_loading(
        self, visit: PatientVisit, load: Loader[Any], at: datetime, policies: Policies
    ) -> None:
        """:meth:`apply`, for a command that must look at other records first."""
        self.apply(visit, at, policies)


class VisitCreation(Creation, kw_only=True, frozen=True):
    """A command creating a visit, which may carry its visit number (HL7 v2 PV1-19) and the
    number's assigning authority. With a number, the visit's id is derived from them
    (:func:`domain.visits.identity.visit_id_for`), so a second visit with the same pair is
    refused ``ALREADY_EXISTS``; without one, the id is random."""

    aggregate_type = PatientVisit
    visit_number: Ref | None = None
    visit_number_authority: Ref | None = None

    @property
    def natural_key(self) -> bool:
        return self.visit_number is not None

    def create(self, at: datetime, policies: Policies) -> PatientVisit:
        raise NotImplementedError


# ---- creation ---------------------------------------------------------------------
class ScheduleVisit(VisitCreation, kw_only=True, frozen=True):
    """A booking. With ``scheduleId`` it claims the slot of that schedule starting at
    ``scheduledStart`` (its end is the slot's), in the same transaction as the visit."""

    roles = _roles(CLERK)
    max_attempts: ClassVar[int] = BOOKING_ATTEMPTS
    patient_ref: Ref
    visit_class: VisitClass
    service_unit: Ref
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime | None = None
    #: The reason for the visit, as a code.
    reason_code: Ref | None = None
    #: The clinic schedule to book a slot of (its unit must be `serviceUnit`); a full slot is
    #: 409 SLOT_FULL.
    schedule_id: UUID | None = None

    def create(self, at: datetime, policies: Policies, end: datetime | None = None) -> PatientVisit:
        fields = self.fields()
        fields.pop("schedule_id")
        if end is not None:
            fields["scheduled_end"] = end
        return PatientVisit.schedule(**fields, at=at)

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        schedule, end = None, None
        if self.natural_key:
            # A duplicate is refused as one before the bookings look at it (its derived id
            # would already hold the slot, and be refused for that instead).
            visit_id = visit_id_for(self.visit_number or "", self.visit_number_authority)
            try:
                load(visit_id, PatientVisit)
            except NotFoundError:
                pass
            else:
                raise AlreadyExistsError("visit", visit_id)
        if self.schedule_id is not None:
            schedule = load(self.schedule_id, ClinicSchedule)
            if schedule.service_unit != self.service_unit:
                raise DomainValidationError("the schedule is of another unit", field="serviceUnit")
            _, end = schedule.slot_at(self.scheduled_start)
            if self.scheduled_end is not None and self.scheduled_end != end:
                raise DomainValidationError(
                    "must be the slot's end (or left out)", field="scheduledEnd"
                )
        visit = self.create(at, policies, end)
        offer_for = policies.visit.waitlist_offer
        return [
            visit,
            *follow_bookings(load, visit, None, at, offer_for=offer_for, schedule=schedule),
        ]


class RegisterWalkIn(VisitCreation, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    patient_ref: Ref
    visit_class: VisitClass
    service_unit: Ref
    arrival_at: AwareDatetime | None = None
    #: How the patient arrived, as a code.
    arrival_mode: Ref | None = None

    def business_time(self) -> tuple[str, datetime | None]:
        # The arrival is the fact recorded, so its time is the event's occurred_at.
        if self.arrival_at is None:
            return super().business_time()
        if self.occurred_at is not None and self.occurred_at != self.arrival_at:
            raise CommandValidationError(
                "give the arrival time as arrivalAt or occurredAt, not two different times",
                field="arrivalAt",
            )
        return "arrivalAt", self.arrival_at

    def create(self, at: datetime, policies: Policies) -> PatientVisit:
        return PatientVisit.register_walk_in(
            patient_ref=self.patient_ref, visit_class=self.visit_class,
            service_unit=self.service_unit, arrival_mode=self.arrival_mode,
            visit_number=self.visit_number, visit_number_authority=self.visit_number_authority,
            at=at,
        )  # fmt: skip


# ---- scheduling -------------------------------------------------------------------
class RescheduleVisit(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    max_attempts: ClassVar[int] = BOOKING_ATTEMPTS
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.reschedule(**self.fields(), at=at)

    def apply_loading(
        self, visit: PatientVisit, load: Loader[Any], at: datetime, policies: Policies
    ) -> None:
        end = self.scheduled_end
        if end is None:  # a slot booking keeps the length of its slot
            end = slot_end(load, visit, self.scheduled_start)
        visit.reschedule(scheduled_start=self.scheduled_start, scheduled_end=end, at=at)


class CancelVisit(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    reason: Reason

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.cancel(reason=self.reason, at=at, policy=policies.visit)


class MarkNoShow(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.mark_no_show(at=at, policy=policies.visit)


class RevertNoShow(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    corrects_event_id: UUID | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.revert_no_show(
            at=at,
            policy=policies.visit,
            reason=self.reason,
            corrects_event_id=self.corrects_event_id,
        )


# ---- arrival to departure ---------------------------------------------------------
class RegisterArrival(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    #: How the patient arrived, as a code.
    arrival_mode: Ref | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.register_arrival(arrival_mode=self.arrival_mode, at=at)


class RecordTriage(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(NURSE)
    #: The triage scale the level is on: ESI or MTS.
    acuity_scale: Literal["ESI", "MTS"]
    #: The triage acuity, 1 (most urgent) to 5.
    acuity_level: AcuityLevel

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.record_triage(**self.fields(), at=at)


class StartClinicianContact(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)
    #: The clinician's opaque reference.
    clinician_ref: Ref

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.start_clinician_contact(clinician_ref=self.clinician_ref, at=at)


class RecordDecisionToAdmit(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)
    #: The unit the patient is to be admitted to.
    target_unit: Ref

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.record_decision_to_admit(target_unit=self.target_unit, at=at)


class AdmitPatient(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)
    unit: Ref
    bed: Ref | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.admit(unit=self.unit, bed=self.bed, at=at)


class TransferPatient(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(NURSE)
    #: The unit the patient moves to.
    to_unit: Ref
    #: The bed the patient moves to, within `toUnit`.
    to_bed: Ref | None = None
    #: The unit the patient leaves; if given, it must be the current one.
    from_unit: Ref | None = None
    #: The bed the patient leaves; if given, it must be the current one.
    from_bed: Ref | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.transfer(**self.fields(), at=at)


class StartLeaveOfAbsence(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(NURSE)
    #: When the patient is expected back; not before the leave starts.
    expected_return: AwareDatetime | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.start_leave_of_absence(expected_return=self.expected_return, at=at)


class EndLeaveOfAbsence(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(NURSE)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.end_leave_of_absence(at=at)


class RecordLeftWithoutBeingSeen(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(NURSE)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.record_left_without_being_seen(at=at)


class DischargePatient(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)
    #: The discharge disposition: home, other-hcf, snf, rehab, hosp, aadvice, lbtc, exp (deceased)
    #: or oth.
    disposition: Disposition
    #: Where the patient goes, as a code.
    destination: Ref | None = None
    #: The time of death: required with disposition exp, refused with any other.
    deceased_at: AwareDatetime | None = None

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.discharge(**self.fields(), at=at)


class CloseVisit(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(MANAGER)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.close(at=at)


# ---- corrections ------------------------------------------------------------------
class MarkEnteredInError(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK, MANAGER)
    reason: Reason

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.mark_entered_in_error(reason=self.reason, at=at)


class CorrectVisitDetails(VisitCommand, kw_only=True, frozen=True):
    roles = _roles(CLERK)
    #: The details to change and their new values; at least one must differ from the current value.
    changes: VisitDetailChanges

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.correct_details(changes=self.changes.given(), reason=self.reason, at=at)


class Compensation(VisitCommand, kw_only=True, frozen=True):
    reason: Reason
    corrects_event_id: UUID | None = None


class CancelAdmission(Compensation, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.cancel_admission(reason=self.reason, at=at, corrects_event_id=self.corrects_event_id)


class CancelTransfer(Compensation, kw_only=True, frozen=True):
    roles = _roles(NURSE)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.cancel_transfer(reason=self.reason, at=at, corrects_event_id=self.corrects_event_id)


class CancelDischarge(Compensation, kw_only=True, frozen=True):
    roles = _roles(CLINICIAN)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.cancel_discharge(reason=self.reason, at=at, corrects_event_id=self.corrects_event_id)


class CancelLeftWithoutBeingSeen(Compensation, kw_only=True, frozen=True):
    roles = _roles(NURSE)

    def apply(self, visit: PatientVisit, at: datetime, policies: Policies) -> None:
        visit.cancel_left_without_being_seen(
            reason=self.reason, at=at, corrects_event_id=self.corrects_event_id
        )


#: URL action segment (POST /api/v1/visits/{id}/<action>) → command, as in the contract.
VISIT_ACTIONS: dict[str, type[VisitCommand]] = {
    "reschedule": RescheduleVisit,
    "cancel": CancelVisit,
    "no-show": MarkNoShow,
    "revert-no-show": RevertNoShow,
    "arrive": RegisterArrival,
    "triage": RecordTriage,
    "clinician-contact": StartClinicianContact,
    "decide-admission": RecordDecisionToAdmit,
    "admit": AdmitPatient,
    "transfer": TransferPatient,
    "leave-start": StartLeaveOfAbsence,
    "leave-end": EndLeaveOfAbsence,
    "left-without-being-seen": RecordLeftWithoutBeingSeen,
    "discharge": DischargePatient,
    "close": CloseVisit,
    "entered-in-error": MarkEnteredInError,
    "correct-details": CorrectVisitDetails,
    "cancel-admission": CancelAdmission,
    "cancel-transfer": CancelTransfer,
    "cancel-discharge": CancelDischarge,
    "cancel-left-without-being-seen": CancelLeftWithoutBeingSeen,
}
