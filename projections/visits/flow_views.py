"""What the patient-flow queries answer: the flow board, the census and a visit's timeline.

camelCase Structs (the HTTP API returns them as they are), built here from the rows the store
selects (read by name: :class:`~projections.visits.flow_rows.BoardRow` and its siblings), so
the rules (who is a boarder, minutes waited, which facts are effective) are the
same on every backend and testable without a database. Instants in rows are microseconds
since the epoch (UTC); in views they are datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from domain.visits.vocabulary import ACTIVE_STATES
from projections.shared.records import to_micros
from projections.visits.flow_rows import (
    BOARD_COLUMNS,
    CENSUS_COLUMNS,
    TIMELINE_ENTRY_COLUMNS,
    BoardRow,
    CensusRow,
    TimelineRow,
)

__all__ = [
    "BOARD_COLUMNS", "BOARD_STATES", "CENSUS_COLUMNS", "ON_LEAVE", "TIMELINE_ENTRY_COLUMNS",
    "Board", "BoardUnit", "BoardVisit", "Census", "CensusEntry", "Location", "Timeline",
    "TimelineEntry", "board_of", "census_of", "is_boarder", "minutes_between", "timeline_entry",
]  # fmt: skip

#: States shown on the board, in the order of the flow; ``on_leave`` is listed apart.
BOARD_STATES = ("arrived", "triaged", "with_clinician", "admitted")
ON_LEAVE = "on_leave"
_MICROS_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_decode_details = msgspec.json.Decoder(dict[str, Any]).decode


# ``gc=False``: the board's many small structs hold only values, never a cycle, so the
# cyclic collector need not track them (a board of hundreds is built per second, or per as-of
# request).
class Location(msgspec.Struct, frozen=True, gc=False):
    unit: str
    bed: str | None


class BoardVisit(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One patient on the board. Minutes are counted to the board's ``at``."""

    visit_id: str
    patient_ref: str
    #: The visit's state: arrived, triaged, with_clinician, admitted or on_leave.
    status: str
    visit_class: str
    #: The triage scale: ESI or MTS (null until triage).
    acuity_scale: str | None
    #: The triage acuity, 1 (most urgent) to 5 (null until triage).
    acuity_level: int | None
    #: The unit and bed the patient is in now (null when the visit holds no location).
    location: Location | None
    arrival_at: datetime | None
    #: When the visit entered its current state.
    status_since: datetime | None
    #: Minutes since the patient arrived, to a tenth (null without an arrival).
    minutes_since_arrival: float | None
    #: Minutes in the current state, to a tenth (null when its start is unknown).
    minutes_in_state: float | None
    #: Decision to admit made, not yet admitted nor departed.
    boarder: bool
    #: When the decision to admit was recorded (null if none).
    decision_to_admit_at: datetime | None
    #: The unit the patient is to be admitted to (null without a decision to admit).
    target_unit: str | None
    #: Minutes since the decision to admit, to a tenth, for a boarder (null otherwise).
    minutes_boarding: float | None


class BoardUnit(msgspec.Struct, frozen=True, rename="camel"):
    """One unit's board: the visits in each active state, longest waiting first."""

    unit: str
    #: Visits arrived, not yet triaged.
    arrived: list[BoardVisit]
    #: Visits triaged, not yet seen by a clinician.
    triaged: list[BoardVisit]
    #: Visits with a clinician.
    with_clinician: list[BoardVisit]
    #: Admitted visits (patients on leave are listed under onLeave instead).
    admitted: list[BoardVisit]
    #: The visits above that are boarding (also listed under their state).
    boarders: list[BoardVisit]
    #: Admitted patients on leave of absence: the bed is kept, the patient is away.
    on_leave: list[BoardVisit]


class Board(msgspec.Struct, frozen=True, rename="camel"):
    #: The instant minutes are counted to: when the board was built, or its ``asOf``.
    at: datetime
    unit: str | None
    #: One board per unit (the visit's current location, else its service unit), by unit code.
    units: list[BoardUnit]
    #: For a board as the system had it at a past time: that time (null: the live board).
    as_of: datetime | None = None


class CensusEntry(msgspec.Struct, frozen=True, rename="camel", gc=False):
    visit_id: str
    patient_ref: str
    #: The visit's status and class at ``at`` (by what happened when: a fact a compensation
    #: cancelled never happened).
    status: str
    visit_class: str
    unit: str
    bed: str | None
    #: The location period that holds ``at``: since, and until (null while still there).
    since: datetime
    #: When the location period ended (null while the patient is still there).
    until: datetime | None


class Census(msgspec.Struct, frozen=True, rename="camel"):
    #: The instant the census is taken at.
    at: datetime
    unit: str | None
    #: How many visits held a location in the unit at `at` (the length of `items`).
    count: int
    items: list[CensusEntry]
    #: For a census as known at a past time: that time (null: as known now).
    known_at: datetime | None = None


class TimelineEntry(msgspec.Struct, frozen=True, rename="camel"):
    """One recorded fact of the visit. ``effective`` is false once a later fact (named in
    ``correctedBy``) cancelled it; a compensation names the fact it cancels in ``corrects``."""

    position: int
    version: int
    #: The event's id (a UUID).
    event_id: str
    #: The fact's event type, e.g. PatientAdmitted (the domain event class's name).
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    actor_role: str
    on_behalf_of: str | None
    reason: str | None
    source_system: str | None
    source_message_id: str | None
    #: False once a later fact (named in `correctedBy`) cancelled this one.
    effective: bool
    #: The id of the event that cancelled this fact (null while it stands).
    corrected_by: str | None
    #: For a compensation, the id of the event it cancels (null otherwise).
    corrects: str | None
    #: For a compensation, the visit state it restored (null otherwise).
    restored_status: str | None
    #: The fact's own fields, camelCase; for a correction each changed field's before and after.
    details: dict[str, Any]


class Timeline(msgspec.Struct, frozen=True, rename="camel"):
    visit_id: str
    #: The visit's current state (as in VisitState.status).
    status: str
    version: int
    items: list[TimelineEntry]
    next_cursor: str | None


# ---- building them from rows ---------------------------------------------------------------
def is_boarder(status: str, decided_at: Any, admitted_at: Any) -> bool:
    """A decision to admit is made, and the patient is neither admitted nor gone."""
    return decided_at is not None and admitted_at is None and status in ACTIVE_STATES


def board_of(
    rows: Iterable[Sequence[Any]],
    unit: str | None,
    now: datetime,
    as_of: datetime | None = None,
) -> Board:
    """The board from visit rows (:data:`BOARD_COLUMNS`, longest waiting first) at ``now``
    (for a board as of a past time, ``as_of``: minutes are counted to it)."""
    now_us = to_micros(now)
    assert now_us is not None
    units: dict[str, dict[str, list[BoardVisit]]] = {}
    make = BoardRow._make
    for values in rows:
        row = make(values)
        entry = _board_visit(row, now_us)
        lists = units.setdefault(
            row.current_unit or row.service_unit,
            {name: [] for name in (*BOARD_STATES, ON_LEAVE, "boarders")},
        )
        lists[entry.status].append(entry)
        if entry.boarder:
            lists["boarders"].append(entry)
    return Board(
        at=now,
        as_of=as_of,
        unit=unit,
        units=[
            BoardUnit(
                unit=name,
                arrived=lists["arrived"],
                triaged=lists["triaged"],
                with_clinician=lists["with_clinician"],
                admitted=lists["admitted"],
                boarders=lists["boarders"],
                on_leave=lists[ON_LEAVE],
            )
            for name, lists in sorted(units.items())
        ],
    )


def _board_visit(row: BoardRow, now: int) -> BoardVisit:
    decided_at, since, arrival_at = row.decision_to_admit_at, row.status_since, row.arrival_at
    boarder = is_boarder(row.status, decided_at, row.admitted_at)
    return BoardVisit(
        visit_id=row.id,
        patient_ref=row.patient_ref,
        status=row.status,
        visit_class=row.visit_class,
        acuity_scale=row.acuity_scale,
        acuity_level=row.acuity_level,
        location=Location(row.current_unit, row.current_bed)
        if row.current_unit is not None
        else None,
        arrival_at=_instant(arrival_at),
        status_since=_instant(since),
        minutes_since_arrival=minutes_between(arrival_at, now),
        minutes_in_state=minutes_between(since, now),
        boarder=boarder,
        decision_to_admit_at=_instant(decided_at),
        target_unit=row.target_unit,
        minutes_boarding=minutes_between(decided_at, now) if boarder else None,
    )


def _instant(micros: int | None) -> datetime | None:
    # Twice as fast as projections.shared.records.from_micros, and a board has hundreds of them.
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def _at(micros: int) -> datetime:
    """An instant of a NOT NULL column."""
    return _EPOCH + timedelta(microseconds=micros)


def minutes_between(since: int | None, now: int) -> float | None:
    """Whole tenths of minutes from ``since`` to ``now`` (µs); never negative."""
    if since is None:
        return None
    return round(max(0, now - since) / _MICROS_PER_MINUTE, 1)


def census_of(
    rows: Iterable[Sequence[Any]],
    unit: str | None,
    at: datetime,
    status_at: Callable[[CensusRow], tuple[str, str] | None] = lambda row: None,
    known_at: datetime | None = None,
) -> Census:
    """The census from rows of :data:`CENSUS_COLUMNS`; ``status_at`` gives the status and
    class a visit had at ``at`` when it is not the row's (its status now); ``known_at``: the
    time a census as known then was known at."""
    items = []
    for values in rows:
        row = CensusRow._make(values)
        then = status_at(row)
        if then is not None:
            row = row._replace(status=then[0], visit_class=then[1])
        items.append(
            CensusEntry(
                visit_id=row.visit_id,
                patient_ref=row.patient_ref,
                status=row.status,
                visit_class=row.visit_class,
                unit=row.unit,
                bed=row.bed,
                since=_at(row.start_at),
                until=_instant(row.end_at),
            )
        )
    return Census(at=at, unit=unit, count=len(items), items=items, known_at=known_at)


def timeline_entry(values: Sequence[Any]) -> TimelineEntry:
    """A timeline row (:data:`TIMELINE_ENTRY_COLUMNS`) as the API shows it."""
    row = TimelineRow._make(values)
    return TimelineEntry(
        position=row.position,
        version=row.version,
        event_id=row.event_id,
        event_type=row.event_type,
        occurred_at=_at(row.occurred_at),
        recorded_at=_at(row.recorded_at),
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        on_behalf_of=row.on_behalf_of,
        reason=row.reason,
        source_system=row.source_system,
        source_message_id=row.source_message_id,
        effective=row.corrected_by is None,
        corrected_by=row.corrected_by,
        corrects=row.corrects_event_id,
        restored_status=row.restored_status,
        details=_decode_details(row.details),
    )
