"""The bed board and occupancy: the configured beds (capacity read model) against who holds
a location in them (the flow read model's census), at one instant.

A bed is ``occupied`` by the visit holding it, ``reserved`` while that visit is on leave of
absence (the bed is kept), ``closed`` when it or its unit is closed, else ``free``. A visit
in the unit without a bed, or in a bed the unit does not list, is listed as ``unplaced``.
Occupancy is the beds occupied or reserved over the beds available (listed, not closed, in an
open unit), as NHS KH03 and US midnight censuses count it; null when none is available.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import msgspec

from projections.capacity.configuration import UnitView
from projections.shared.occupancy import Counts
from projections.visits.flow_views import CensusEntry

ON_LEAVE = "on_leave"


class BedState(msgspec.Struct, frozen=True, rename="camel"):
    bed: str
    #: The kind of bed, as a code (null if not given).
    type: str | None
    #: occupied, reserved (its patient on leave), free or closed.
    status: str
    #: The visit holding the bed (null when free or closed).
    visit_id: str | None = None
    patient_ref: str | None = None


class Unplaced(msgspec.Struct, frozen=True, rename="camel"):
    visit_id: str
    patient_ref: str
    #: The bed the visit names, when the unit does not list it (null: no bed).
    bed: str | None


class UnitBeds(msgspec.Struct, frozen=True, rename="camel"):
    unit: str
    #: The unit's name.
    name: str
    #: ed, ward, clinic or theatre.
    kind: str
    #: Whether the unit is open (a closed unit's free beds are shown closed).
    open: bool
    #: Each listed bed, in the unit's order.
    beds: list[BedState]
    #: Visits in the unit holding no listed bed (a trolley, a bed the unit does not list).
    unplaced: list[Unplaced]
    #: The unit's figures.
    counts: Counts


class BedBoard(msgspec.Struct, frozen=True, rename="camel"):
    #: The instant the board shows.
    at: datetime
    #: Each configured unit (one, when asked for), by code.
    units: list[UnitBeds]


class UnitOccupancy(msgspec.Struct, frozen=True, rename="camel"):
    unit: str
    #: The unit's figures.
    counts: Counts


class OccupancySnapshot(msgspec.Struct, frozen=True, rename="camel"):
    #: The instant counted.
    at: datetime
    #: For a midnight census: the local day it opens (null for a single instant).
    date: date | None
    #: Each configured unit's figures.
    units: list[UnitOccupancy]
    #: The hospital's figures: the sums over the units.
    hospital: Counts


class Occupancy(msgspec.Struct, frozen=True, rename="camel"):
    items: list[OccupancySnapshot]


def _counts(
    beds: int, available: int, occupied: int, reserved: int, free: int, beyond: int = 0
) -> Counts:
    share = round(occupied / available, 4) if available else None
    return Counts(beds, available, occupied, reserved, free, share, beyond)


def unit_beds(unit: UnitView, census: Iterable[CensusEntry]) -> UnitBeds:
    holders: dict[str, CensusEntry] = {}
    unplaced: list[Unplaced] = []
    listed = {b.bed for b in unit.beds}
    for entry in census:
        if entry.bed is not None and entry.bed in listed and entry.bed not in holders:
            holders[entry.bed] = entry
        else:
            unplaced.append(Unplaced(entry.visit_id, entry.patient_ref, entry.bed))
    states = []
    for bed in unit.beds:
        holder = holders.get(bed.bed)
        if holder is not None:
            status = "reserved" if holder.status == ON_LEAVE else "occupied"
            states.append(BedState(bed.bed, bed.type, status, holder.visit_id, holder.patient_ref))
        else:
            status = "closed" if bed.closed or not unit.open else "free"
            states.append(BedState(bed.bed, bed.type, status))
    return UnitBeds(
        unit=unit.code, name=unit.name, kind=unit.kind, open=unit.open, beds=states,
        unplaced=unplaced, counts=_tally(states, unit, len(unplaced)),
    )  # fmt: skip


def _tally(states: list[BedState], unit: UnitView, unplaced: int) -> Counts:
    available = sum(1 for b in unit.beds if not b.closed) if unit.open else 0
    occupied = sum(1 for s in states if s.status in ("occupied", "reserved"))
    reserved = sum(1 for s in states if s.status == "reserved")
    free = sum(1 for s in states if s.status == "free")
    beyond = max(occupied + unplaced - available, 0) if unit.beds else 0
    return _counts(len(states), available, occupied, reserved, free, beyond)


def board(units: list[UnitView], census: list[CensusEntry], at: datetime) -> BedBoard:
    by_unit: dict[str, list[CensusEntry]] = {}
    for entry in census:
        by_unit.setdefault(entry.unit, []).append(entry)
    return BedBoard(at=at, units=[unit_beds(u, by_unit.get(u.code, [])) for u in units])


def snapshot(
    units: list[UnitView], census: list[CensusEntry], at: datetime, day: date | None = None
) -> OccupancySnapshot:
    beds = board(units, census, at).units
    rows = [UnitOccupancy(u.unit, u.counts) for u in beds]
    total = [sum(getattr(r.counts, f) for r in rows)
             for f in ("beds", "available", "occupied", "reserved", "free",
                       "beyond_capacity")]  # fmt: skip
    return OccupancySnapshot(at=at, date=day, units=rows, hospital=_counts(*total))
