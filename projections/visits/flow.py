"""The patient-flow read model, backend-neutral: the fold and the rows it gives.

The fold is the read model's own reducer, not the domain aggregate: each stored record is
decoded straight into one typed :class:`FlowEvent` (msgspec; only the fields the rows need
are converted) and folded into a small :class:`VisitState` that holds exactly what the rows
are made of. It mirrors :class:`domain.visits.visit.PatientVisit`'s ``apply`` methods for those
fields, compensations included: before each fact a compensation can cancel (admission,
transfer, discharge, left-without-being-seen, no-show) the state keeps a snapshot of its
flow fields, and the compensation restores it, as ``remember_flow`` / ``restore_before`` do
in :mod:`domain.shared.compensation` (the acuity, the schedule and the service unit are not flow
fields, so they are not restored). Beside the domain's fields it keeps *when* the current
state began (for "minutes in this state"), which a compensation restores too. A property
test (``tests/unit/test_flow_projection.py``) holds the reducer equal to the domain over
random command sequences.

From a folded visit come the rows the store writes: one visit row, its location periods
(the census) and one timeline row per event, as plain tuples in column order (the
:class:`VisitRow`, :class:`LocationRow` and :class:`TimelineRow` Structs name the columns).
Instants are integer microseconds since the epoch (UTC), as every read model stores them.
The views the queries return are in :mod:`projections.visits.flow_views`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec

from domain.shared.envelope import ENVELOPE_FIELDS
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import (
    ADMITTED,
    ARRIVED,
    CANCELLED,
    CLOSED,
    DISCHARGED,
    ENTERED_IN_ERROR,
    INPATIENT_CLASS,
    LEFT_WITHOUT_BEING_SEEN,
    NO_SHOW,
    ON_LEAVE,
    SCHEDULED,
    TRIAGED,
    WITH_CLINICIAN,
)
from projections.shared.records import (
    StoredRecord,
    event_class,
    is_event_of,
    key_text,
    untag,
    without_nul,
)


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every PatientVisit event."""
    return is_event_of(topic, PatientVisit)


#: Attributes of a stored event that are envelope or bookkeeping, not the fact's own details
#: (``patient_ref`` too: the timeline names the visit, not the patient).
_NOT_DETAILS = frozenset(
    {
        *ENVELOPE_FIELDS, "event_id", "timestamp", "originator_topic", "originator_id",
        "originator_version", "patient_ref", "corrects_event_id", "restored_status",
    }
)  # fmt: skip
_encode_json = msgspec.json.Encoder().encode
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


# ---- decoding -------------------------------------------------------------------------------
class _When(msgspec.Struct):
    """A stored datetime: the library's ``{"_type_": "datetime_iso", "_data_": iso}``."""

    data: datetime = msgspec.field(name="_data_")


class _Id(msgspec.Struct):
    """A stored UUID: ``{"_type_": "uuid_hex", "_data_": hex}``."""

    data: str = msgspec.field(name="_data_")


class FlowEvent(msgspec.Struct):
    """Every field of every PatientVisit event the flow model reads (others are skipped).

    Datetimes and UUIDs stay in their stored form until a row needs them; the fields the
    rows only copy into the timeline's details are ``Any``, as stored."""

    event_id: _Id
    occurred_at: _When
    timestamp: _When
    actor_id: str
    actor_role: str
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    reason: str | None = None
    # creation
    patient_ref: Any = None
    visit_class: Any = None
    service_unit: Any = None
    scheduled_start: _When | None = None
    scheduled_end: _When | None = None
    reason_code: Any = None
    arrival_mode: Any = None
    # flow
    late_cancellation: Any = None
    acuity_scale: Any = None
    acuity_level: Any = None
    clinician_ref: Any = None
    first_contact: Any = None
    target_unit: Any = None
    unit: Any = None
    bed: Any = None
    from_unit: Any = None
    from_bed: Any = None
    to_unit: Any = None
    to_bed: Any = None
    expected_return: _When | None = None
    disposition: Any = None
    destination: Any = None
    deceased_at: _When | None = None
    # corrections
    previous_status: Any = None
    changes: Any = None
    corrects_event_id: _Id | None = None
    restored_status: str | None = None


_decode_event = msgspec.json.Decoder(FlowEvent).decode


def _micros(when: _When | None) -> int | None:
    return None if when is None else (when.data - _EPOCH) // _MICROSECOND


def _uuid(stored: _Id) -> str:
    """The canonical text of a stored UUID (the library stores ``UUID.hex``)."""
    h = stored.data
    if len(h) == 32 and h == h.lower():
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(UUID(h))


def _plain(value: Any) -> Any:
    """A stored value as the domain event holds it (what the details show)."""
    if type(value) is _When:
        return value.data
    if type(value) is _Id:
        return UUID(value.data)
    return untag(value)


# ---- the state ------------------------------------------------------------------------------
#: A location period: (unit, bed, start, end); end None while the patient is there.
Period = tuple[str, "str | None", int, "int | None"]


class VisitState:
    """A visit as the read model folds it: the fields its rows are made of."""

    __slots__ = (
        "id", "version", "position", "patient_ref", "status", "status_since",
        "visit_class", "service_unit", "walk_in", "acuity_scale", "acuity_level",
        "scheduled_start", "scheduled_end", "arrival_at", "triage_at", "provider_seen_at",
        "decision_to_admit_at", "target_unit", "admitted_at", "discharged_at", "left_at",
        "disposition", "late_cancellation", "no_show_at", "cancelled_at", "last_event_at",
        "periods", "locations_revision", "facts", "cancelled_version",
    )  # fmt: skip

    def __init__(self, visit_id: str) -> None:
        self.id = visit_id
        self.version = self.position = 0
        self.patient_ref = self.status = self.visit_class = self.service_unit = ""
        self.walk_in = self.late_cancellation = False
        self.status_since: int | None = None
        self.acuity_scale: str | None = None
        self.acuity_level: int | None = None
        self.scheduled_start: int | None = None
        self.scheduled_end: int | None = None
        self.arrival_at: int | None = None
        self.triage_at: int | None = None
        self.provider_seen_at: int | None = None
        self.decision_to_admit_at: int | None = None
        self.target_unit: str | None = None
        self.admitted_at: int | None = None
        self.discharged_at: int | None = None
        self.left_at: int | None = None
        self.disposition: str | None = None
        self.no_show_at: int | None = None
        self.cancelled_at: int | None = None
        self.last_event_at: int | None = None
        self.periods: list[Period] = []
        #: Bumped whenever the location rows may change (periods, entered-in-error).
        self.locations_revision = 0
        #: A cancellable fact's event id → (the flow fields just before it, its version).
        self.facts: dict[str, tuple[tuple[Any, ...], int]] = {}
        #: The version of the fact the last folded event cancelled (None: it cancelled none).
        self.cancelled_version: int | None = None

    # ---- what a compensation restores: PatientVisit.FLOW_FIELDS the rows read ---------
    def snapshot(self) -> tuple[Any, ...]:
        return (
            self.status, self.status_since, self.visit_class, list(self.periods),
            self.arrival_at, self.triage_at, self.provider_seen_at, self.decision_to_admit_at,
            self.target_unit, self.admitted_at, self.discharged_at, self.disposition,
            self.left_at, self.no_show_at, self.cancelled_at, self.late_cancellation,
        )  # fmt: skip

    def restore(self, before: tuple[Any, ...]) -> None:
        (
            self.status, self.status_since, self.visit_class, periods,
            self.arrival_at, self.triage_at, self.provider_seen_at, self.decision_to_admit_at,
            self.target_unit, self.admitted_at, self.discharged_at, self.disposition,
            self.left_at, self.no_show_at, self.cancelled_at, self.late_cancellation,
        ) = before  # fmt: skip
        self.periods = list(periods)
        self.locations_revision += 1

    # ---- location periods (invariant 1, as PatientVisit keeps them) ---------------------
    def open_location(self, unit: str, bed: str | None, at: int) -> None:
        self.close_location(at)
        # The unit is indexed (the board's current unit, the census): clipped if too long.
        self.periods.append((key_text(unit), bed, at, None))
        self.locations_revision += 1

    def close_location(self, at: int) -> None:
        periods = self.periods
        if periods and periods[-1][3] is None:
            unit, bed, start, _ = periods[-1]
            periods[-1] = (unit, bed, start, at if at > start else start)
            self.locations_revision += 1


# ---- the reducer: one function per event class, mirroring its apply() ----------------------
def _initialise(state: VisitState, event: FlowEvent) -> None:
    state.patient_ref = event.patient_ref
    state.visit_class = event.visit_class
    state.service_unit = event.service_unit


def _scheduled(state: VisitState, event: FlowEvent, at: int) -> None:
    _initialise(state, event)
    state.status = SCHEDULED
    state.scheduled_start = _micros(event.scheduled_start)
    state.scheduled_end = _micros(event.scheduled_end)


def _walk_in(state: VisitState, event: FlowEvent, at: int) -> None:
    _initialise(state, event)
    state.walk_in = True
    _arrived(state, event, at)


def _rescheduled(state: VisitState, event: FlowEvent, at: int) -> None:
    state.scheduled_start = _micros(event.scheduled_start)
    state.scheduled_end = _micros(event.scheduled_end)


def _cancelled(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = CANCELLED
    state.cancelled_at = at
    state.late_cancellation = event.late_cancellation


def _no_show(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = NO_SHOW
    state.no_show_at = at


def _arrived(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ARRIVED
    state.arrival_at = at
    state.open_location(state.service_unit, None, at)


def _triaged(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = TRIAGED
    state.triage_at = at
    state.acuity_scale = event.acuity_scale
    state.acuity_level = event.acuity_level


def _contact(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = WITH_CLINICIAN
    if event.first_contact:
        state.provider_seen_at = at


def _decided(state: VisitState, event: FlowEvent, at: int) -> None:
    state.decision_to_admit_at = at
    state.target_unit = event.target_unit


def _admitted(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ADMITTED
    state.admitted_at = at
    state.visit_class = INPATIENT_CLASS
    state.open_location(event.unit, event.bed, at)


def _transferred(state: VisitState, event: FlowEvent, at: int) -> None:
    state.open_location(event.to_unit, event.to_bed, at)


def _leave_started(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ON_LEAVE  # the location period stays open: the bed is kept


def _leave_ended(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ADMITTED


def _left(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = LEFT_WITHOUT_BEING_SEEN
    state.left_at = at
    state.close_location(at)


def _discharged(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = DISCHARGED
    state.discharged_at = at
    state.disposition = event.disposition
    state.close_location(at)


def _closed(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = CLOSED


def _entered_in_error(state: VisitState, event: FlowEvent, at: int) -> None:
    state.status = ENTERED_IN_ERROR
    state.close_location(at)  # an erroneous visit holds no bed
    state.locations_revision += 1  # and leaves the census


#: The correctable details the rows show, and how a correction's "after" becomes a value.
_CORRECTED: dict[str, Callable[[Any], Any]] = {
    "visit_class": lambda value: value,
    "service_unit": lambda value: value,
    "scheduled_end": lambda value: None if value is None else (value - _EPOCH) // _MICROSECOND,
}


def _details_corrected(state: VisitState, event: FlowEvent, at: int) -> None:
    for name, change in event.changes.items():
        convert = _CORRECTED.get(name)
        if convert is not None:
            setattr(state, name, convert(_plain(change["after"])))


def _compensated(state: VisitState, event: FlowEvent, at: int) -> None:
    assert event.corrects_event_id is not None
    before, version = state.facts[_uuid(event.corrects_event_id)]
    state.restore(before)
    state.cancelled_version = version


_V = PatientVisit
#: Event class → (its reducer, whether a compensation may cancel it: then the state before
#: it is kept).
_REDUCERS: dict[type, tuple[Callable[[VisitState, FlowEvent, int], None], bool]] = {
    _V.VisitScheduled: (_scheduled, False),
    _V.WalkInRegistered: (_walk_in, False),
    _V.VisitRescheduled: (_rescheduled, False),
    _V.VisitCancelled: (_cancelled, False),
    _V.VisitMarkedNoShow: (_no_show, True),
    _V.PatientArrived: (_arrived, False),
    _V.PatientTriaged: (_triaged, False),
    _V.ClinicianContactStarted: (_contact, False),
    _V.AdmissionDecided: (_decided, False),
    _V.PatientAdmitted: (_admitted, True),
    _V.PatientTransferred: (_transferred, True),
    _V.LeaveOfAbsenceStarted: (_leave_started, False),
    _V.LeaveOfAbsenceEnded: (_leave_ended, False),
    _V.PatientLeftWithoutBeingSeen: (_left, True),
    _V.PatientDischarged: (_discharged, True),
    _V.VisitClosed: (_closed, False),
    _V.VisitMarkedEnteredInError: (_entered_in_error, False),
    _V.VisitDetailsCorrected: (_details_corrected, False),
    _V.AdmissionCancelled: (_compensated, False),
    _V.TransferCancelled: (_compensated, False),
    _V.DischargeCancelled: (_compensated, False),
    _V.LeftWithoutBeingSeenCancelled: (_compensated, False),
    _V.NoShowReverted: (_compensated, False),
}


class _Kind:
    """What the fold needs to know about one topic, resolved once."""

    __slots__ = ("name", "reduce", "cancellable", "details", "plain")

    def __init__(self, cls: type) -> None:
        if cls not in _REDUCERS:
            raise LookupError(f"the flow read model does not know {cls.__qualname__}")
        self.name = cls.__name__
        self.reduce, self.cancellable = _REDUCERS[cls]
        #: (camelCase key, attribute) of the event's own fields, in the stored order.
        self.details = tuple(
            (camel(f.name), f.name) for f in dataclasses.fields(cls) if f.name not in _NOT_DETAILS
        )
        missing = [name for _, name in self.details if name not in FlowEvent.__struct_fields__]
        if missing:
            raise LookupError(f"FlowEvent lacks {cls.__name__}'s fields {missing}")
        #: Whether every detail is stored as it is shown (no datetime, no nested values).
        self.plain = not any(
            name == "changes" or FlowEvent.__annotations__[name] != "Any"
            for _, name in self.details
        )


_KINDS: dict[str, _Kind] = {}


def _kind(topic: str) -> _Kind:
    kind = _KINDS.get(topic)
    if kind is None:
        kind = _KINDS[topic] = _Kind(event_class(topic))
    return kind


def _details(kind: _Kind, event: FlowEvent) -> str:
    if not kind.details:
        return "{}"
    if kind.plain:
        return _encode_json({key: getattr(event, name) for key, name in kind.details}).decode()
    details = {}
    for key, name in kind.details:
        value = getattr(event, name)
        if name == "changes":  # VisitDetailsCorrected: field → {before, after}
            value = {camel(field): change for field, change in value.items()}
        details[key] = _plain(value)
    return _encode_json(details).decode()


# ---- the fold --------------------------------------------------------------------------------
def fold(state: VisitState | None, record: StoredRecord) -> tuple[VisitState, tuple[Any, ...]]:
    """Apply one record; returns the state and the record's timeline row (its values in
    :data:`TIMELINE_COLUMNS` order). ``state.cancelled_version`` is then the version of the
    fact the record cancelled, if it is a compensation."""
    kind = _KINDS.get(record.topic) or _kind(record.topic)
    event = _decode_event(without_nul(record.state))
    version = record.originator_version
    if state is None:
        state = VisitState(str(record.originator_id))
    at = (event.occurred_at.data - _EPOCH) // _MICROSECOND
    h = event.event_id.data
    event_id = (
        f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if len(h) == 32 and h == h.lower()
        else _uuid(event.event_id)
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
    corrects = event.corrects_event_id
    return state, (
        state.id, version, position, event_id, kind.name, at,
        (event.timestamp.data - _EPOCH) // _MICROSECOND, event.actor_id, event.actor_role,
        event.on_behalf_of, event.reason, event.source_system, event.source_message_id,
        None if corrects is None else _uuid(corrects), event.restored_status,
        _details(kind, event) if kind.details else "{}", None,
    )  # fmt: skip


def replay(records: Iterable[StoredRecord]) -> VisitState | None:
    """The visit folded from its earlier records (no timeline rows: they are stored)."""
    state = None
    for record in records:
        state, _ = fold(state, record)
    return state


# ---- rows ----------------------------------------------------------------------------------
class VisitRow(msgspec.Struct, array_like=True, frozen=True):
    """One visit's flow facts. Field order is the table's column order."""

    id: str
    version: int
    position: int
    patient_ref: str
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


class LocationRow(msgspec.Struct, array_like=True, frozen=True):
    visit_id: str
    seq: int
    unit: str
    bed: str | None
    start_at: int
    end_at: int | None


class TimelineRow(msgspec.Struct, array_like=True, frozen=True):
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
    corrected_by: str | None = None


VISIT_COLUMNS = VisitRow.__struct_fields__
LOCATION_COLUMNS = LocationRow.__struct_fields__
TIMELINE_COLUMNS = TimelineRow.__struct_fields__


def visit_values(state: VisitState) -> tuple[Any, ...]:
    """The visit's row (:data:`VISIT_COLUMNS` order) after the records folded so far."""
    periods = state.periods
    if periods:
        unit, bed, _, end = periods[-1]
        if end is not None:
            unit = bed = None
        ed_departure = periods[0][3]
    else:
        unit = bed = ed_departure = None
    scheduled, arrival = state.scheduled_start, state.arrival_at
    departure = state.discharged_at
    if departure is None:
        departure = state.left_at
    anchors = [t for t in (scheduled, arrival, ed_departure, departure) if t is not None]
    return (
        state.id, state.version, state.position, state.patient_ref, state.status,
        state.status_since, state.visit_class, state.service_unit, 1 if state.walk_in else 0,
        unit, bed, state.acuity_scale, state.acuity_level, scheduled, state.scheduled_end,
        arrival, state.triage_at, state.provider_seen_at, state.decision_to_admit_at,
        state.target_unit, state.admitted_at, state.left_at, departure, ed_departure,
        state.disposition, 1 if state.late_cancellation else 0, state.no_show_at,
        state.cancelled_at, state.last_event_at,
        min(anchors) if anchors else None, max(anchors) if anchors else None,
    )  # fmt: skip


def location_values(state: VisitState) -> list[tuple[Any, ...]]:
    """The visit's location periods (:data:`LOCATION_COLUMNS` order); none once it is
    entered-in-error (it never happened, so it leaves the census at every instant)."""
    if state.status == ENTERED_IN_ERROR:
        return []
    visit_id = state.id
    return [
        (visit_id, seq, unit, bed, start, end)
        for seq, (unit, bed, start, end) in enumerate(state.periods, start=1)
    ]


def visit_row(state: VisitState) -> VisitRow:
    return VisitRow(*visit_values(state))


def location_rows(state: VisitState) -> list[LocationRow]:
    return [LocationRow(*values) for values in location_values(state)]


@lru_cache(maxsize=256)
def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)
