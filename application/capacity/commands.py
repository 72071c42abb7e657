"""The capacity commands of the HTTP contract: units and beds, clinic schedules and their
sessions. Admins issue them (domain-spec §5: configuration, no patient data). Bookings into
the schedules are visit commands (``ScheduleVisit`` with ``scheduleId``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application.capacity.offers import offer_freed_place
from application.shared.commands import (
    AggregateCommand,
    AwareDatetime,
    Creation,
    Loader,
    Reason,
    Ref,
    optional,
)
from application.shared.policies import Policies
from domain.capacity.identity import slot_id_for, waitlist_id_for
from domain.capacity.schedule import MAX_CAPACITY, MAX_SLOT_MINUTES, ClinicSchedule
from domain.capacity.sessions import WEEKDAYS
from domain.capacity.slot import SlotClaims
from domain.capacity.unit import MAX_BEDS, FacilityUnit
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.envelope import decision_time

ADMIN = "admin"
ADMINS = frozenset({ADMIN})

UnitKind = Literal["ed", "ward", "clinic", "theatre"]
Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
assert tuple(Weekday.__args__) == WEEKDAYS  # type: ignore[attr-defined]
UnitName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")
]


class BedSpec(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    #: The bed's code within its unit.
    bed: Ref
    #: The kind of bed, as a code (e.g. ICU, side-room, trolley).
    type: Ref | None = None
    #: A bed out of use (cleaning, repair, staffing): shown closed, not available.
    closed: bool = False

    def stored(self) -> dict[str, object]:
        return {"bed": self.bed, "type": self.type, "closed": self.closed}


Beds = Annotated[list[BedSpec], msgspec.Meta(max_length=MAX_BEDS)]


#: A unit's code: a Ref without "/", so that it can name the unit in a URL path.
UnitCode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._: -]*$")
]


class ConfigureUnit(Creation, kw_only=True, frozen=True):
    """``POST /units``: a unit, its id derived from its code (a second one is 409)."""

    roles = ADMINS
    aggregate_type = FacilityUnit
    natural_key: ClassVar[bool] = True
    #: The unit's code, as the feeds and visits name it (PV1-3.1); no "/".
    code: UnitCode
    #: The unit's name, for screens.
    name: UnitName
    #: ed, ward, clinic or theatre.
    kind: UnitKind
    #: The unit's beds; none for a unit without beds (a clinic).
    beds: Beds = msgspec.field(default_factory=list)

    def create(self, at: datetime, policies: Policies) -> FacilityUnit:
        return FacilityUnit.configure(
            code=self.code, name=self.name, kind=self.kind,
            beds=[b.stored() for b in self.beds], at=at,
        )  # fmt: skip


class UnitCommand(AggregateCommand, kw_only=True, frozen=True):
    roles = ADMINS
    aggregate_type = FacilityUnit

    def apply(self, unit: FacilityUnit, at: datetime, policies: Policies) -> None:
        raise NotImplementedError


class CloseUnit(UnitCommand, kw_only=True, frozen=True):
    def apply(self, unit: FacilityUnit, at: datetime, policies: Policies) -> None:
        unit.close(at=at)


class OpenUnit(UnitCommand, kw_only=True, frozen=True):
    def apply(self, unit: FacilityUnit, at: datetime, policies: Policies) -> None:
        unit.reopen(at=at)


class ChangeBeds(UnitCommand, kw_only=True, frozen=True):
    #: The unit's whole bed list, as it is to be.
    beds: Beds

    def apply(self, unit: FacilityUnit, at: datetime, policies: Policies) -> None:
        unit.change_beds(beds=[b.stored() for b in self.beds], at=at)


class Repeat(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"):
    #: The weekdays the session repeats on, at the first session's wall-clock time.
    weekdays: Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7)]
    #: The last day a session may fall on (YYYY-MM-DD, in the facility's time zone).
    until: date


class CreateSchedule(Creation, kw_only=True, frozen=True):
    """``POST /schedules``: a clinic's sessions in a unit, cut into slots."""

    roles = ADMINS
    aggregate_type = ClinicSchedule
    #: The unit the sessions are held in (the visits booked into it are of this unit).
    service_unit: Ref
    #: The service offered, as a code.
    service: Ref | None = None
    #: The clinician holding the sessions, as an opaque reference.
    clinician_ref: Ref | None = None
    #: The first session's start: later sessions keep its wall-clock time.
    start: AwareDatetime
    #: The first session's end; a session lasts at most 24 hours.
    end: AwareDatetime
    #: The length of each slot, in minutes (1-1440).
    slot_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_SLOT_MINUTES)]
    #: Patients per slot (1-100).
    capacity_per_slot: Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY)]
    #: Bookings a slot may take beyond its capacity (0-100, default 0).
    overbook_allowance: Annotated[int, msgspec.Meta(ge=0, le=MAX_CAPACITY)] = 0
    #: Repeat the session weekly on these weekdays until a date; absent: one session.
    repeat: Repeat | None = None

    def create(self, at: datetime, policies: Policies) -> ClinicSchedule:
        return ClinicSchedule.create(
            service_unit=self.service_unit, service=self.service,
            clinician_ref=self.clinician_ref, start=self.start, end=self.end,
            slot_minutes=self.slot_minutes, capacity_per_slot=self.capacity_per_slot,
            overbook_allowance=self.overbook_allowance,
            weekdays=list(self.repeat.weekdays) if self.repeat else [],
            until=self.repeat.until if self.repeat else None,
            time_zone=policies.visit.facility_timezone, at=at,
        )  # fmt: skip


class CancelSession(AggregateCommand, kw_only=True, frozen=True):
    """``POST /schedules/{id}/cancel-session``: no slots that day; bookings in it stay."""

    roles = ADMINS
    aggregate_type = ClinicSchedule
    #: The session's date (YYYY-MM-DD, in the facility's time zone).
    date: date
    reason: Reason

    def apply(self, schedule: ClinicSchedule, at: datetime, policies: Policies) -> None:
        schedule.cancel_session(day=self.date, at=at)


# ---- the waitlist -----------------------------------------------------------------------------
#: The deadline-style jobs' role (no token may carry it): the offer expiry job's.
SYSTEM = "system"


class JoinWaitlist(AggregateCommand, kw_only=True, frozen=True):
    """``POST /schedules/{id}/waitlist``: the patient waits for a place in the schedule. The
    reply names the waitlist (its id and version); the patient's entry is listed in
    ``GET /schedules/{id}/waitlist``."""

    roles = frozenset({"clerk"})
    aggregate_type = ClinicSchedule
    patient_ref: Ref
    #: 1 (most urgent) to 5; default 3.
    priority: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    #: The earliest slot start the patient can take (default: any).
    earliest: AwareDatetime | None = None
    #: The latest (exclusive; default: any).
    latest: AwareDatetime | None = None

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        assert target is not None, "a command on a schedule needs its target"
        schedule: ClinicSchedule = load(target, ClinicSchedule)
        waitlist = optional(load, waitlist_id_for(schedule.id), ScheduleWaitlist)
        if waitlist is None:
            waitlist = ScheduleWaitlist.open(schedule_id=schedule.id, at=at)
        waitlist.add(
            patient_ref=self.patient_ref, priority=self.priority, earliest=self.earliest,
            latest=self.latest, at=at,
        )  # fmt: skip
        return [waitlist]


class ExpireOffer(AggregateCommand, kw_only=True, frozen=True):
    """An offer past its time (the expiry job): the place passes to the next eligible
    patient, or is freed."""

    roles = frozenset({SYSTEM})
    declined: ClassVar[bool] = False
    aggregate_type = ClinicSchedule
    #: The patient's entry on the waitlist.
    entry_id: UUID

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        assert target is not None, "a command on a schedule needs its target"
        waitlist: ScheduleWaitlist = load(waitlist_id_for(target), ScheduleWaitlist)
        offer = waitlist.expire(self.entry_id, now=decision_time(), at=at,
                                declined=self.declined)  # fmt: skip
        slot: SlotClaims = load(slot_id_for(target, offer["start"]), SlotClaims)
        changed: list[Aggregate] = [waitlist]
        slot.release(self.entry_id, why="offer-expired", at=at)
        changed.append(slot)
        offer_freed_place(load, slot, at, policies.visit.waitlist_offer, lambda _: None,
                          waitlist=waitlist)  # fmt: skip
        return changed


class DeclineOffer(ExpireOffer, kw_only=True, frozen=True):
    """``POST /schedules/{id}/waitlist/decline``: the patient said no before the offer ran
    out; it passes on at once (the patient waits on for another slot)."""

    roles = frozenset({"clerk"})
    declined: ClassVar[bool] = True


#: URL action segment (POST /api/v1/units/{code}/<action>) → command, as in the contract.
UNIT_ACTIONS: dict[str, type[UnitCommand]] = {
    "close": CloseUnit,
    "open": OpenUnit,
    "beds": ChangeBeds,
}
