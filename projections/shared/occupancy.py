"""Bed figures, shared by the bed board and occupancy (capacity) and the flow metrics."""

from __future__ import annotations

import msgspec


class Counts(msgspec.Struct, frozen=True, rename="camel"):
    #: Beds listed.
    beds: int
    #: Beds listed, not closed, in an open unit.
    available: int
    #: Beds held by a visit (reserved ones included).
    occupied: int
    #: Of those, held by a visit on leave.
    reserved: int
    #: Available beds no visit holds.
    free: int
    #: Occupied over available, 0 to 1 (more when patients are in closed beds); null when
    #: none is available.
    occupancy: float | None
    #: Patients in the unit beyond its available beds (those in a bed and those unplaced): a
    #: full unit still takes walk-ins and admissions, and this flags them. 0 for a unit that
    #: lists no beds.
    beyond_capacity: int = 0
