"""The patient-flow read model, backend-neutral: the fold, and the names of its parts.

The fold is the read model's own reducer, not the domain aggregate: each stored record is
decoded straight into one typed event (:mod:`~projections.visits.flow_events`) and folded into
a small :class:`~projections.visits.flow_state.VisitState` that holds exactly what the rows are
made of, by one reducer per event class (:mod:`~projections.visits.flow_reducers`). A record of
an event class the fold does not know is folded timeline-only and logged once
(:mod:`~projections.visits.flow_kinds`): it never stops a worker. :data:`HANDLED` and
:data:`IGNORED` say which of PatientVisit's event classes the fold acts on and which it
leaves alone (``tests/unit/test_projection_coverage.py`` holds them to the aggregate and to the
reducers).

From a folded visit come the rows the store writes (:mod:`~projections.visits.flow_rows`): one
visit row, its location periods (the census) and one timeline row per event, and its history
rows, what the record said when (:mod:`~projections.visits.flow_knowledge`). The views the
queries return are in :mod:`projections.visits.flow_views`; the answers as of a past time are
folded with this same :func:`fold` (:mod:`projections.visits.flow_as_of`).
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.visits.visit import PatientVisit
from projections.shared.records import StoredRecord, is_event_of, is_lost_event_of, without_nul
from projections.visits.flow_events import (
    EPOCH,
    MICROSECOND,
    camel,
    canonical_uuid,
    decode_envelope,
    decode_event,
    micros_of,
)
from projections.visits.flow_kinds import KINDS, Kind, details_of, kind_of, unknown_details
from projections.visits.flow_knowledge import HistoryRow, history_rows, note
from projections.visits.flow_rows import (
    LOCATION_COLUMNS,
    TIMELINE_COLUMNS,
    VISIT_COLUMNS,
    LocationRow,
    TimelineRow,
    VisitRow,
    location_rows,
    location_values,
    visit_row,
    visit_values,
)
from projections.visits.flow_state import Period, VisitState

__all__ = [
    "HANDLED", "HISTORY_COLUMNS", "IGNORED", "LOCATION_COLUMNS", "TIMELINE_COLUMNS",
    "VISIT_COLUMNS", "HistoryRow", "LocationRow", "Period", "TimelineRow", "VisitRow",
    "VisitState", "camel", "fold", "history_rows",
    "location_rows", "location_values", "replay", "visit_row", "visit_values", "wants",
]  # fmt: skip

#: The history table's columns (:mod:`~projections.visits.flow_knowledge`).
HISTORY_COLUMNS: tuple[str, ...] = HistoryRow._fields


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every PatientVisit event, also
    one whose class no longer resolves (it is still on the visit's timeline)."""
    return is_event_of(topic, PatientVisit) or is_lost_event_of(topic, PatientVisit)


#: Event class names this projection folds, and those it knowingly leaves alone.
HANDLED: frozenset[str] = frozenset({
    "VisitScheduled", "WalkInRegistered", "VisitRescheduled", "VisitCancelled",
    "VisitMarkedNoShow", "PatientArrived", "PatientTriaged", "ClinicianContactStarted",
    "AdmissionDecided", "PatientAdmitted", "PatientTransferred", "LeaveOfAbsenceStarted",
    "LeaveOfAbsenceEnded", "PatientLeftWithoutBeingSeen", "PatientDischarged", "VisitClosed",
    "VisitMarkedEnteredInError", "VisitDetailsCorrected", "AdmissionCancelled",
    "TransferCancelled", "DischargeCancelled", "LeftWithoutBeingSeenCancelled", "NoShowReverted",
})  # fmt: skip
#: The aggregate's base event classes: never stored themselves (their subclasses are).
IGNORED: frozenset[str] = frozenset({"Event", "Created", "Compensation"})


def fold(
    state: VisitState | None, record: StoredRecord, live: bool = True
) -> tuple[VisitState, TimelineRow]:
    """Apply one record; returns the state and the record's timeline row.
    ``state.cancelled_version`` is then the version of the fact the record cancelled, if it
    is a compensation. An as-of answer folds with ``live`` false: the same state, but neither
    the timeline row's ``details`` nor the history hulls, which only the live model writes."""
    kind = KINDS.get(record.topic) or kind_of(record.topic, IGNORED)
    if kind.reduce is None:
        return _fold_timeline_only(state, record, kind)
    event = decode_event(without_nul(record.state))
    version = record.originator_version
    if state is None:
        state = VisitState(str(record.originator_id))
    at = (event.occurred_at.data - EPOCH) // MICROSECOND
    h = event.event_id.data
    event_id = (
        f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if len(h) == 32 and h == h.lower()
        else canonical_uuid(event.event_id)
    )
    status = state.status
    if kind.cancellable:
        state.facts[event_id] = (state.snapshot(), version)
    state.cancelled_version = None
    kind.reduce(state, event, at)
    # A compensation restored status_since with the rest of the state before the fact.
    if state.status != status and state.cancelled_version is None:
        state.status_since = at
    state.version = version
    state.position = position = record.position
    state.last_event_at = at
    recorded = (event.timestamp.data - EPOCH) // MICROSECOND
    if live:
        note(state, recorded)
    corrects = event.corrects_event_id
    # Positional, in the field order (keywords would cost a microsecond per event on the
    # catch-up's hot path); tests/unit/test_flow_rows.py checks each column by name.
    return state, TimelineRow(
        state.id,  # visit_id
        version,  # version
        position,  # position
        event_id,  # event_id
        kind.name,  # event_type
        at,  # occurred_at
        recorded,  # recorded_at
        event.actor_id,  # actor_id
        event.actor_role,  # actor_role
        event.on_behalf_of,  # on_behalf_of
        event.reason,  # reason
        event.source_system,  # source_system
        event.source_message_id,  # source_message_id
        None if corrects is None else canonical_uuid(corrects),  # corrects_event_id
        event.restored_status,  # restored_status
        details_of(kind, event) if live and kind.details else "{}",  # details
    )


def _fold_timeline_only(
    state: VisitState | None, record: StoredRecord, kind: Kind
) -> tuple[VisitState, TimelineRow]:
    """An event class the fold does not know: on the timeline, the flow state unchanged (its
    version, position and last event move on, so the next record folds on top of it)."""
    event = decode_envelope(without_nul(record.state))
    if state is None:
        state = VisitState(str(record.originator_id))
    at = micros_of(event.occurred_at.data)
    state.cancelled_version = None
    state.version = record.originator_version
    state.position = record.position
    state.last_event_at = at
    recorded = micros_of(event.timestamp.data)
    if recorded > state.known.recorded_at:  # the flow state is unchanged: only the clock moves
        state.known.recorded_at = recorded
    return state, TimelineRow(
        visit_id=state.id,
        version=record.originator_version,
        position=record.position,
        event_id=canonical_uuid(event.event_id),
        event_type=kind.name,
        occurred_at=at,
        recorded_at=recorded,
        actor_id=event.actor_id,
        actor_role=event.actor_role,
        on_behalf_of=event.on_behalf_of,
        reason=event.reason,
        source_system=event.source_system,
        source_message_id=event.source_message_id,
        corrects_event_id=None,
        restored_status=None,
        details=unknown_details(record.state),
    )


def replay(records: Iterable[StoredRecord]) -> VisitState | None:
    """The visit folded from its earlier records (no timeline rows: they are stored)."""
    state = None
    for record in records:
        state, _ = fold(state, record)
    return state
