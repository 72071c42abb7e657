"""The rules a PatientVisit command checks before its event (domain-spec §1).

One ``check_*`` function per command, in the order the rules are checked: the first rule
broken is the error the command raises. They read the visit's facts (:class:`VisitFacts`,
which a PatientVisit is) and the command's values, raise the domain's error when a rule is
broken, and return what the event records (the late-cancellation flag, the location a
transfer leaves, the details a correction changes, the fact a compensation cancels). None
of them changes anything, and no event's ``apply`` calls one: replay never re-runs today's
rules. The numbered invariants are those of domain-spec §1.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.shared.compensation import FlowEntry, FlowLog, compensation_target
from domain.shared.envelope import decision_time
from domain.shared.errors import DomainValidationError, InvalidTransitionError, TimestampOrderError
from domain.visits import locations
from domain.visits.identity import SEPARATOR
from domain.visits.locations import Location, LocationPeriod
from domain.visits.vocabulary import (
    ACTIVE_STATES,
    ADMITTED,
    ARRIVED,
    CORRECTABLE_DETAILS,
    DECEASED_DISPOSITION,
    DISCHARGED,
    ENTERED_IN_ERROR,
    FINAL_STATES,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    WITH_CLINICIAN,
    VisitPolicy,
)

#: The fact each compensation cancels → the states the visit may be in when it is cancelled.
CANCELLABLE_FROM: dict[str, frozenset[str]] = {
    "VisitMarkedNoShow": frozenset({NO_SHOW}),
    "PatientAdmitted": frozenset({ADMITTED}),
    "PatientTransferred": ACTIVE_STATES,
    "PatientDischarged": frozenset({DISCHARGED}),
    "PatientLeftWithoutBeingSeen": frozenset({LEFT_WITHOUT_BEING_SEEN}),
}


class VisitFacts(Protocol):
    """What the rules read of a visit (its state, as its events' ``apply`` assigned it)."""

    status: str
    scheduled_start: datetime | None
    booked_at: datetime | None
    arrival_at: datetime | None
    triage_at: datetime | None
    provider_seen_at: datetime | None
    decision_to_admit_at: datetime | None
    admitted_at: datetime | None
    leave_started_at: datetime | None
    leave_ended_at: datetime | None
    discharged_at: datetime | None
    left_at: datetime | None
    location_periods: list[LocationPeriod]
    flow_log: FlowLog


# ---- the rules every command shares ----------------------------------------------
def require_status(visit: VisitFacts, allowed: Collection[str], *, action: str) -> None:
    """The state machine: a command is accepted only from the states it is allowed from."""
    if visit.status not in allowed:
        raise InvalidTransitionError(f"cannot {action} a visit that is {visit.status}")


def check_in_order(visit: VisitFacts, at: datetime, step: str) -> None:
    """Invariant 2: effective flow times never go backwards."""
    times = [
        visit.arrival_at, visit.triage_at, visit.provider_seen_at, visit.decision_to_admit_at,
        visit.admitted_at, visit.leave_started_at, visit.leave_ended_at, visit.discharged_at,
        visit.left_at, *(period["start"] for period in visit.location_periods),
    ]  # fmt: skip
    latest = max((t for t in times if t is not None), default=None)
    if latest is not None and at < latest:
        raise TimestampOrderError(f"the {step} time is before an earlier step of the visit")


def require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise DomainValidationError("a reason is required", field="reason")


def check_period(start: datetime, end: datetime | None) -> None:
    if end is not None and end <= start:
        raise DomainValidationError(
            "the scheduled end must be after the start", field="scheduledEnd"
        )


def check_visit_number(number: str | None, authority: str | None) -> None:
    """A visit number (PV1-19) is optional; its assigning authority only comes with one, and
    may not hold the separator of the id derived from them (see :mod:`domain.visits.identity`)."""
    if number is not None and not number.strip():
        raise DomainValidationError("a visit number may not be blank", field="visitNumber")
    if authority is None:
        return
    if number is None:
        raise DomainValidationError(
            "an assigning authority needs a visit number", field="visitNumberAuthority"
        )
    if not authority.strip() or SEPARATOR in authority:
        raise DomainValidationError(
            f"an assigning authority may not be blank nor hold '{SEPARATOR}'",
            field="visitNumberAuthority",
        )


# ---- scheduling ------------------------------------------------------------------
def check_reschedule(visit: VisitFacts, start: datetime, end: datetime | None) -> None:
    require_status(visit, {SCHEDULED}, action="reschedule")
    check_period(start, end)


def check_cancel(visit: VisitFacts, reason: str, at: datetime, policy: VisitPolicy) -> bool:
    """Whether the cancellation is late: within the policy's window before the start, judged
    when it is decided (:func:`decision_time`), so back-dating ``at`` cannot escape the flag.
    A cancellation dated before the booking was made is refused."""
    require_status(visit, {SCHEDULED}, action="cancel")
    require_reason(reason)
    assert visit.scheduled_start is not None  # a scheduled visit has its start
    if visit.booked_at is not None and at < visit.booked_at:
        raise TimestampOrderError("the cancellation is dated before the booking was made")
    return visit.scheduled_start - decision_time() < policy.late_cancellation_window


def check_no_show(visit: VisitFacts, at: datetime, policy: VisitPolicy) -> None:
    """The grace after the start is judged when the no-show is decided, whatever ``at``
    says (``at`` still records when the patient was found missing)."""
    require_status(visit, {SCHEDULED}, action="mark as no-show")
    assert visit.scheduled_start is not None  # a scheduled visit has its start
    if visit.arrival_at is not None:  # invariant 4
        raise InvalidTransitionError("a patient who arrived cannot be a no-show")
    if decision_time() < visit.scheduled_start + policy.no_show_grace:
        minutes = int(policy.no_show_grace.total_seconds() // 60)
        raise InvalidTransitionError(
            f"a no-show can only be recorded {minutes} minutes after the scheduled start"
        )


def check_no_show_reversal(
    visit: VisitFacts, corrects_event_id: UUID | None, at: datetime, policy: VisitPolicy
) -> FlowEntry:
    """The no-show to revert: only on the (facility's local) day of the visit, the day it is
    decided (a revert dated back to that day on a later one is refused)."""
    target = _target(visit, "VisitMarkedNoShow", corrects_event_id)
    assert visit.scheduled_start is not None  # a no-show was scheduled
    zone = ZoneInfo(policy.facility_timezone)
    day = visit.scheduled_start.astimezone(zone).date()
    if {at.astimezone(zone).date(), decision_time().astimezone(zone).date()} != {day}:
        raise InvalidTransitionError("a no-show can only be reverted on the day of the visit")
    return target


# ---- arrival to departure --------------------------------------------------------
def check_triage(visit: VisitFacts, acuity_level: int, at: datetime) -> None:
    require_status(visit, {ARRIVED}, action="triage")
    if not 1 <= acuity_level <= 5:
        raise DomainValidationError("the acuity level must be 1 to 5", field="acuityLevel")
    check_in_order(visit, at, "triage")


def check_clinician_contact(visit: VisitFacts, at: datetime) -> None:
    require_status(visit, {ARRIVED, TRIAGED}, action="start clinician contact for")
    check_in_order(visit, at, "clinician contact")


def check_decision_to_admit(visit: VisitFacts, at: datetime) -> None:
    require_status(visit, {WITH_CLINICIAN}, action="record a decision to admit for")
    if visit.decision_to_admit_at is not None:
        raise InvalidTransitionError("a decision to admit is already recorded")
    check_in_order(visit, at, "decision to admit")


def check_admission(visit: VisitFacts, unit: str, at: datetime) -> None:
    require_status(visit, {ARRIVED, TRIAGED, WITH_CLINICIAN}, action="admit")
    if not unit:
        raise DomainValidationError("an admission needs a unit", field="unit")
    check_in_order(visit, at, "admission")


def check_transfer(
    visit: VisitFacts, to_unit: str, to_bed: str | None, from_unit: str | None,
    from_bed: str | None, at: datetime,
) -> Location:  # fmt: skip
    """The location the transfer leaves: the current one, which a given 'from' must name."""
    require_status(visit, ACTIVE_STATES, action="transfer")
    current = locations.current(visit.location_periods)
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
    check_in_order(visit, at, "transfer")
    return current


def check_leave_start(visit: VisitFacts, expected_return: datetime | None, at: datetime) -> None:
    require_status(visit, {ADMITTED}, action="start a leave of absence for")
    check_in_order(visit, at, "leave of absence")
    if expected_return is not None and expected_return < at:
        raise TimestampOrderError("the expected return is before the leave starts")


def check_leave_end(visit: VisitFacts, at: datetime) -> None:
    require_status(visit, {ON_LEAVE}, action="end a leave of absence for")
    check_in_order(visit, at, "return from leave")


def check_left_without_being_seen(visit: VisitFacts, at: datetime) -> None:
    require_status(visit, {ARRIVED, TRIAGED}, action="record left-without-being-seen for")
    if visit.provider_seen_at is not None:  # invariant 4
        raise InvalidTransitionError(
            "the patient was seen by a clinician: leaving is a discharge (lbtc or aadvice)"
        )
    check_in_order(visit, at, "departure")


def check_discharge(
    visit: VisitFacts, disposition: str, deceased_at: datetime | None, at: datetime
) -> None:
    require_status(visit, ACTIVE_STATES, action="discharge")
    if not disposition:  # invariant 3
        raise DomainValidationError("a discharge needs a disposition", field="disposition")
    if disposition == DECEASED_DISPOSITION and deceased_at is None:
        raise DomainValidationError("disposition 'exp' needs a time of death", field="deceasedAt")
    if disposition != DECEASED_DISPOSITION and deceased_at is not None:
        raise DomainValidationError("a time of death needs disposition 'exp'", field="deceasedAt")
    check_in_order(visit, at, "discharge")
    if deceased_at is not None and deceased_at > at:
        raise TimestampOrderError("the time of death is after the discharge")
    if deceased_at is not None and visit.arrival_at is not None and deceased_at < visit.arrival_at:
        raise TimestampOrderError("the time of death is before the arrival")


def check_close(visit: VisitFacts, at: datetime) -> None:
    require_status(visit, {DISCHARGED, LEFT_WITHOUT_BEING_SEEN}, action="close")
    check_in_order(visit, at, "close")


# ---- corrections -----------------------------------------------------------------
def check_entered_in_error(visit: VisitFacts, reason: str) -> None:
    if visit.status == ENTERED_IN_ERROR:
        raise InvalidTransitionError("the visit is already marked entered-in-error")
    require_reason(reason)


def corrected_details(visit: VisitFacts, changes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The details the correction changes: ``{field: {"before": ..., "after": ...}}``."""
    if visit.status in FINAL_STATES:
        raise InvalidTransitionError(f"a visit that is {visit.status} cannot be corrected")
    unknown = sorted(set(changes) - set(CORRECTABLE_DETAILS))
    if unknown:
        raise DomainValidationError(f"not correctable: {', '.join(unknown)}", field="changes")
    diff = {
        name: {"before": getattr(visit, name), "after": value}
        for name, value in changes.items()
        if getattr(visit, name) != value
    }
    if not diff:
        raise DomainValidationError("the changes change nothing", field="changes")
    if "scheduled_end" in diff:
        if visit.scheduled_start is None:
            raise DomainValidationError("a walk-in has no schedule", field="changes.scheduledEnd")
        check_period(visit.scheduled_start, changes["scheduled_end"])
    return diff


def check_compensation(
    visit: VisitFacts, kind: str, corrects_event_id: UUID | None, reason: str | None
) -> FlowEntry:
    """The fact of ``kind`` a compensation (with its required reason) cancels."""
    target = _target(visit, kind, corrects_event_id)
    require_reason(reason)
    return target


def _target(visit: VisitFacts, kind: str, corrects_event_id: UUID | None) -> FlowEntry:
    return compensation_target(
        visit.flow_log, kind, corrects_event_id, status=visit.status,
        allowed_states=CANCELLABLE_FROM[kind],
    )  # fmt: skip
