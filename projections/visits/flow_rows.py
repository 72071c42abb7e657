"""The flow read model's rows, one named tuple per table and per query: a row's fields *are*
the columns (the store's DDL, bulk loads and selects take the column lists from them), and
rows are built and read by name, so a column cannot silently shift. Named tuples cost what
plain tuples cost to build and to send to the database, and compare equal to the tuples of
the same values.

Instants are integer microseconds since the epoch (UTC), as every read model stores them.
"""

from __future__ import annotations

from typing import NamedTuple

from domain.visits.vocabulary import ENTERED_IN_ERROR
from projections.visits.flow_state import VisitState


class VisitRow(NamedTuple):
    """One visit's flow facts (the board and the metrics read it)."""

    id: str
    version: int
    position: int
    patient_ref: str
    #: PV1-19 and its assigning authority (None when the visit was created without them).
    visit_number: str | None
    visit_number_authority: str | None
    status: str
    status_since: int | None
    visit_class: str
    service_unit: str
    walk_in: int
    current_unit: str | None
    current_bed: str | None
    acuity_scale: str | None
    acuity_level: int | None
    scheduled_start: int | None
    scheduled_end: int | None
    arrival_at: int | None
    triage_at: int | None
    provider_seen_at: int | None
    decision_to_admit_at: int | None
    target_unit: str | None
    admitted_at: int | None
    #: When the patient left without being seen (the LWBS rate's numerator).
    left_at: int | None
    #: When the patient left the hospital: discharge or leaving without being seen.
    departure_at: int | None
    #: Departure from the ED for boarding: the end of the first location period.
    ed_departure_at: int | None
    disposition: str | None
    late_cancellation: int
    no_show_at: int | None
    cancelled_at: int | None
    last_event_at: int | None
    #: The earliest and latest instants a metric anchors the visit to (scheduled start,
    #: arrival, ED departure, departure): a period's metrics read the visits whose span
    #: meets the period, through one index.
    span_start: int | None
    span_end: int | None


class LocationRow(NamedTuple):
    """One location period of a visit, ``[start_at, end_at)`` (the census reads them)."""

    visit_id: str
    seq: int
    unit: str
    bed: str | None
    start_at: int
    end_at: int | None


class TimelineRow(NamedTuple):
    """One recorded event of a visit."""

    visit_id: str
    version: int
    position: int
    event_id: str
    event_type: str
    occurred_at: int
    recorded_at: int
    actor_id: str
    actor_role: str
    on_behalf_of: str | None
    reason: str | None
    source_system: str | None
    source_message_id: str | None
    corrects_event_id: str | None
    restored_status: str | None
    #: JSON object of the event's own fields, camelCase (before/after for a correction).
    details: str
    #: The event id of the compensation that cancelled this fact (None while effective).
    corrected_by: str | None = None


VISIT_COLUMNS: tuple[str, ...] = VisitRow._fields
LOCATION_COLUMNS: tuple[str, ...] = LocationRow._fields
TIMELINE_COLUMNS: tuple[str, ...] = TimelineRow._fields


def visit_values(state: VisitState) -> VisitRow:
    """The visit's row after the records folded so far."""
    periods = state.periods
    unit: str | None = None
    bed: str | None = None
    ed_departure: int | None = None
    if periods:
        last_unit, last_bed, _, end = periods[-1]
        if end is None:  # still there
            unit, bed = last_unit, last_bed
        ed_departure = periods[0][3]
    scheduled, arrival = state.scheduled_start, state.arrival_at
    departure = state.discharged_at
    if departure is None:
        departure = state.left_at
    anchors = [t for t in (scheduled, arrival, ed_departure, departure) if t is not None]
    # Positional, in the field order (33 keywords would cost more than the rest of this
    # function); tests/unit/test_flow_rows.py checks each column by name.
    return VisitRow(
        state.id,  # id
        state.version,  # version
        state.position,  # position
        state.patient_ref,  # patient_ref
        state.visit_number,  # visit_number
        state.visit_number_authority,  # visit_number_authority
        state.status,  # status
        state.status_since,  # status_since
        state.visit_class,  # visit_class
        state.service_unit,  # service_unit
        1 if state.walk_in else 0,  # walk_in
        unit,  # current_unit
        bed,  # current_bed
        state.acuity_scale,  # acuity_scale
        state.acuity_level,  # acuity_level
        scheduled,  # scheduled_start
        state.scheduled_end,  # scheduled_end
        arrival,  # arrival_at
        state.triage_at,  # triage_at
        state.provider_seen_at,  # provider_seen_at
        state.decision_to_admit_at,  # decision_to_admit_at
        state.target_unit,  # target_unit
        state.admitted_at,  # admitted_at
        state.left_at,  # left_at
        departure,  # departure_at
        ed_departure,  # ed_departure_at
        state.disposition,  # disposition
        1 if state.late_cancellation else 0,  # late_cancellation
        state.no_show_at,  # no_show_at
        state.cancelled_at,  # cancelled_at
        state.last_event_at,  # last_event_at
        min(anchors) if anchors else None,  # span_start
        max(anchors) if anchors else None,  # span_end
    )


def location_values(state: VisitState) -> list[LocationRow]:
    """The visit's location periods; none once it is entered-in-error (it never happened, so
    it leaves the census at every instant)."""
    if state.status == ENTERED_IN_ERROR:
        return []
    visit_id = state.id
    # Positional, in the field order: (visit_id, seq, unit, bed, start_at, end_at).
    return [
        LocationRow(visit_id, seq, unit, bed, start, end)
        for seq, (unit, bed, start, end) in enumerate(state.periods, start=1)
    ]


# ---- the rows the queries select ---------------------------------------------------------
class BoardRow(NamedTuple):
    """The visit columns the board reads (fields named as the visit row's columns)."""

    id: str
    patient_ref: str
    status: str
    visit_class: str
    acuity_scale: str | None
    acuity_level: int | None
    current_unit: str | None
    current_bed: str | None
    service_unit: str
    arrival_at: int | None
    status_since: int | None
    decision_to_admit_at: int | None
    target_unit: str | None
    admitted_at: int | None


class CensusRow(NamedTuple):
    """A location period that holds the census's instant, with its visit's columns."""

    visit_id: str
    patient_ref: str
    status: str
    visit_class: str
    unit: str
    bed: str | None
    start_at: int
    end_at: int | None
    #: When the visit's latest event occurred: the status now is the status at any later
    #: instant (for an earlier one the census folds the visit).
    last_event_at: int | None


class SearchRow(NamedTuple):
    """The visit columns the visit search reads (fields named as the visit row's columns)."""

    id: str
    version: int
    patient_ref: str
    visit_number: str | None
    visit_number_authority: str | None
    status: str
    visit_class: str
    service_unit: str
    current_unit: str | None
    current_bed: str | None
    scheduled_start: int | None
    scheduled_end: int | None
    arrival_at: int | None
    admitted_at: int | None
    departure_at: int | None
    disposition: str | None


#: The visit columns the board selects, in :class:`BoardRow` order.
BOARD_COLUMNS: tuple[str, ...] = BoardRow._fields
#: The census selects these (``l`` a location period, ``v`` its visit): a column of the
#: location rows is read from the period, the others from its visit.
CENSUS_COLUMNS: tuple[str, ...] = tuple(
    f"{'l' if name in LOCATION_COLUMNS else 'v'}.{name}" for name in CensusRow._fields
)
#: The visit columns the visit search selects, in :class:`SearchRow` order.
SEARCH_COLUMNS: tuple[str, ...] = SearchRow._fields
#: A timeline entry is read from the whole timeline row (the visit id, selected by, too).
TIMELINE_ENTRY_COLUMNS: tuple[str, ...] = TimelineRow._fields


#: The same functions under the names they had when the rows were Structs.
visit_row = visit_values
location_rows = location_values
