"""The words a PatientVisit speaks: states, codes and the policy settings it obeys.

States follow FHIR R5 Encounter (with Appointment's no-show); dispositions follow
HL7 v2 discharge disposition codes as listed in domain-spec §1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SCHEDULED = "scheduled"
ARRIVED = "arrived"
TRIAGED = "triaged"
WITH_CLINICIAN = "with_clinician"
ADMITTED = "admitted"
ON_LEAVE = "on_leave"
DISCHARGED = "discharged"
CLOSED = "closed"
CANCELLED = "cancelled"
NO_SHOW = "no_show"
LEFT_WITHOUT_BEING_SEEN = "left_without_being_seen"
ENTERED_IN_ERROR = "entered_in_error"

STATES = (
    SCHEDULED, ARRIVED, TRIAGED, WITH_CLINICIAN, ADMITTED, ON_LEAVE, DISCHARGED, CLOSED,
    CANCELLED, NO_SHOW, LEFT_WITHOUT_BEING_SEEN, ENTERED_IN_ERROR,
)  # fmt: skip
ACTIVE_STATES = frozenset({ARRIVED, TRIAGED, WITH_CLINICIAN, ADMITTED})
#: States that accept nothing but MarkEnteredInError and the compensations (invariant 5).
FINAL_STATES = frozenset({CLOSED, CANCELLED, NO_SHOW, ENTERED_IN_ERROR})

#: FHIR R5 Encounter.status for exports.
FHIR_STATUS = {
    SCHEDULED: "planned", ARRIVED: "in-progress", TRIAGED: "in-progress",
    WITH_CLINICIAN: "in-progress", ADMITTED: "in-progress", ON_LEAVE: "on-hold",
    DISCHARGED: "discharged", CLOSED: "completed", CANCELLED: "cancelled",
    NO_SHOW: "cancelled", LEFT_WITHOUT_BEING_SEEN: "discontinued",
    ENTERED_IN_ERROR: "entered-in-error",
}  # fmt: skip

VISIT_CLASSES = ("AMB", "EMER", "IMP", "OBSENC", "VR")
INPATIENT_CLASS = "IMP"
DISPOSITIONS = ("home", "other-hcf", "snf", "rehab", "hosp", "aadvice", "lbtc", "exp", "oth")
DECEASED_DISPOSITION = "exp"
ACUITY_SCALES = ("ESI", "MTS")
CORRECTABLE_DETAILS = ("reason_code", "service_unit", "visit_class", "scheduled_end")


@dataclass(frozen=True)
class VisitPolicy:
    """Facility settings the rules depend on. Passed in by the application, so the
    decision taken is recorded in the event and replay never consults them again."""

    no_show_grace: timedelta = timedelta(minutes=15)
    late_cancellation_window: timedelta = timedelta(hours=24)
    facility_timezone: str = "Europe/London"
    #: How long a slot offered to a waitlisted patient is held for them.
    waitlist_offer: timedelta = timedelta(hours=2)


#: A visit's flow state: what a compensation restores, as it was before the fact cancelled
#: (see :mod:`domain.shared.compensation`). The acuity, the schedule and the service unit are
#: not flow fields, so a compensation leaves them as they are.
FLOW_FIELDS = (
    "status", "visit_class", "location_periods", "arrival_at", "triage_at",
    "provider_seen_at", "decision_to_admit_at", "target_unit", "admitted_at",
    "leave_started_at", "leave_ended_at", "expected_return", "discharged_at",
    "disposition", "destination", "deceased_at", "left_at", "closed_at", "no_show_at",
    "cancelled_at", "late_cancellation",
)  # fmt: skip
