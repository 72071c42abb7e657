"""The patient-flow read model, backend-neutral: the fold and the rows it gives.

Per visit the fold keeps the domain aggregate itself: each stored record becomes the
domain event (:func:`projections.records.domain_event`) and ``event.mutate(visit)`` applies
it, so a compensation restores exactly what the domain restores (``flow_log`` /
``restore_before``) and there is no second copy of the state machine. The only thing kept
beside the aggregate is *when* the current state began (for "minutes in this state"), with
the value each compensable fact found, so cancelling the fact restores that too.

From a folded visit come the rows the store writes: one :class:`VisitRow`, its
:class:`LocationRow` periods (the census) and one :class:`TimelineRow` per event. Instants are
integer microseconds since the epoch (UTC), as every read model stores them. The views the
queries return are in :mod:`projections.flow_views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from domain.envelope import ENVELOPE_FIELDS
from domain.visit_vocabulary import ENTERED_IN_ERROR
from domain.visits import PatientVisit
from projections.records import StoredRecord, domain_event, to_micros

#: The records this read model reads: every PatientVisit event.
TOPIC_PREFIX = "domain.visits:"

#: Attributes of a stored event that are envelope or bookkeeping, not the fact's own details
#: (``patient_ref`` too: the timeline names the visit, not the patient).
_NOT_DETAILS = frozenset(
    {
        *ENVELOPE_FIELDS, "event_id", "timestamp", "originator_topic", "originator_id",
        "originator_version", "patient_ref", "corrects_event_id", "restored_status",
    }
)  # fmt: skip
_encode_json = msgspec.json.Encoder().encode


# ---- the fold ------------------------------------------------------------------------------
class FoldedVisit:
    """A visit as the read model holds it: the aggregate and when its state began."""

    __slots__ = (
        "visit", "id", "status_since", "facts", "position", "last_event_at", "last_event_id",
    )  # fmt: skip

    def __init__(self, visit: PatientVisit) -> None:
        self.visit = visit
        self.id = str(visit.id)
        self.status_since: datetime | None = None
        #: Compensable fact's event id → (``status_since`` just before it, its version).
        self.facts: dict[str, tuple[datetime | None, int]] = {}
        self.position = 0
        self.last_event_at: datetime | None = None
        self.last_event_id = ""


def fold(folded: FoldedVisit | None, record: StoredRecord) -> tuple[FoldedVisit, Any]:
    """Apply one record; returns the folded visit and the domain event it became."""
    event = domain_event(record)
    if folded is None:
        folded = FoldedVisit(event.mutate(None))
        previous_status, remembered = None, 0
    else:
        previous_status, remembered = folded.visit.status, len(folded.visit.flow_log)
        event.mutate(folded.visit)
    visit = folded.visit
    since = folded.status_since
    if isinstance(event, PatientVisit.Compensation):
        folded.status_since = folded.facts[str(event.corrects_event_id)][0]
    elif visit.status != previous_status:
        folded.status_since = event.occurred_at
    if len(visit.flow_log) > remembered:  # a compensable fact: remember what it found
        event_id = visit.flow_log[-1]["event_id"]
        folded.facts[event_id] = (since, record.originator_version)
    else:
        event_id = str(event.event_id)
    folded.last_event_id = event_id
    folded.position = record.position
    folded.last_event_at = event.occurred_at
    return folded, event


def replay(records: Iterable[StoredRecord]) -> FoldedVisit | None:
    """The visit folded from its earlier records (no timeline rows: they are stored)."""
    folded = None
    for record in records:
        folded, _ = fold(folded, record)
    return folded


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


def visit_row(folded: FoldedVisit) -> VisitRow:
    """The visit's row as it stands after the records folded so far."""
    visit = folded.visit
    location = visit.current_location
    periods = visit.location_periods
    arrival = to_micros(visit.arrival_at)
    scheduled = to_micros(visit.scheduled_start)
    departure = to_micros(visit.discharged_at or visit.left_at)
    ed_departure = to_micros(periods[0]["end"]) if periods else None
    anchors = [t for t in (scheduled, arrival, ed_departure, departure) if t is not None]
    return VisitRow(
        id=folded.id,
        version=visit.version,
        position=folded.position,
        patient_ref=visit.patient_ref,
        status=visit.status,
        status_since=to_micros(folded.status_since),
        visit_class=visit.visit_class,
        service_unit=visit.service_unit,
        walk_in=int(bool(visit.walk_in)),
        current_unit=location["unit"] if location else None,
        current_bed=location["bed"] if location else None,
        acuity_scale=visit.acuity_scale,
        acuity_level=visit.acuity_level,
        scheduled_start=scheduled,
        scheduled_end=to_micros(visit.scheduled_end),
        arrival_at=arrival,
        triage_at=to_micros(visit.triage_at),
        provider_seen_at=to_micros(visit.provider_seen_at),
        decision_to_admit_at=to_micros(visit.decision_to_admit_at),
        target_unit=visit.target_unit,
        admitted_at=to_micros(visit.admitted_at),
        left_at=to_micros(visit.left_at),
        departure_at=departure,
        ed_departure_at=ed_departure,
        disposition=visit.disposition,
        late_cancellation=int(bool(visit.late_cancellation)),
        no_show_at=to_micros(visit.no_show_at),
        cancelled_at=to_micros(visit.cancelled_at),
        last_event_at=to_micros(folded.last_event_at),
        span_start=min(anchors, default=None),
        span_end=max(anchors, default=None),
    )


def location_rows(folded: FoldedVisit) -> list[LocationRow]:
    """The visit's location periods; none once it is entered-in-error (it never happened,
    so it leaves the census at every instant)."""
    visit = folded.visit
    if visit.status == ENTERED_IN_ERROR:
        return []
    return [
        LocationRow(
            folded.id,
            seq,
            period["unit"],
            period["bed"],
            to_micros(period["start"]),
            to_micros(period["end"]),  # type: ignore[arg-type]
        )
        for seq, period in enumerate(visit.location_periods, start=1)
    ]


def periods_key(folded: FoldedVisit | None) -> tuple[Any, ...] | None:
    """What the location rows are made of, cheaply: the domain only ever appends a period,
    ends the last one, or (restoring) assigns a new list."""
    if folded is None:
        return None
    visit = folded.visit
    periods = visit.location_periods
    return (periods, len(periods), periods[-1]["end"] if periods else None, visit.status)


def periods_changed(before: tuple[Any, ...] | None, folded: FoldedVisit) -> bool:
    """Whether the visit's location rows differ from those of ``before`` (a periods_key)."""
    after = periods_key(folded)
    assert after is not None
    if before is None or before[0] is not after[0] or before[1:3] != after[1:3]:
        return True
    return (before[3] == ENTERED_IN_ERROR) != (after[3] == ENTERED_IN_ERROR)


def timeline_row(folded: FoldedVisit, record: StoredRecord, event: Any) -> TimelineRow:
    """The row of the event :func:`fold` has just applied to ``folded``."""
    attributes = vars(event)
    corrects = attributes.get("corrects_event_id")
    return TimelineRow(
        visit_id=folded.id,
        version=record.originator_version,
        position=record.position,
        event_id=folded.last_event_id,
        event_type=type(event).__name__,
        occurred_at=to_micros(event.occurred_at),  # type: ignore[arg-type]
        recorded_at=to_micros(event.timestamp),  # type: ignore[arg-type]
        actor_id=event.actor_id,
        actor_role=event.actor_role,
        on_behalf_of=event.on_behalf_of,
        reason=event.reason,
        source_system=event.source_system,
        source_message_id=event.source_message_id,
        corrects_event_id=str(corrects) if corrects is not None else None,
        restored_status=attributes.get("restored_status"),
        details=_encode_json(_details(attributes)).decode(),
    )


def _details(attributes: dict[str, Any]) -> dict[str, Any]:
    details = {}
    for name, value in attributes.items():
        if name in _NOT_DETAILS:
            continue
        if name == "changes":  # VisitDetailsCorrected: field → {before, after}
            value = {camel(field): change for field, change in value.items()}
        details[camel(name)] = value
    return details


@lru_cache(maxsize=256)
def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def corrected_version(folded: FoldedVisit, event: Any) -> int | None:
    """The version of the fact a compensation cancels (None for other events)."""
    if isinstance(event, PatientVisit.Compensation):
        return folded.facts[str(event.corrects_event_id)][1]
    return None
