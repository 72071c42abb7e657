"""The flow read model's reducer equals the domain: random command sequences run on the real
``PatientVisit`` (every command, refused ones skipped, envelopes varied), their events stored
with the library's mapper, then folded twice: by :func:`projections.visits.flow.fold` and, as the
oracle, by the domain aggregate itself (``event.mutate``, compensations through its
``flow_log``). After every event the visit row, the location periods, the timeline row and
the fact a compensation cancels must be the same; at the end the facts the timeline marks as
corrected are exactly those the domain's flow log says were cancelled, and a fold resumed from
a replayed prefix (a cache miss) equals the whole fold.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.shared.envelope import ENVELOPE_FIELDS
from domain.shared.errors import DomainError
from domain.visits.visit import PatientVisit
from domain.visits.vocabulary import ACUITY_SCALES, DISPOSITIONS, ENTERED_IN_ERROR, VISIT_CLASSES
from projections.shared.records import StoredRecord, domain_event, to_micros
from projections.visits import flow
from tests.support.gwt import START, make_envelope, when


def _mapper() -> Mapper[Any]:
    """The library's mapper, with the transcodings the application registers."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


MAPPER = _mapper()

# ---- the oracle: the rows derived from the domain aggregate ---------------------------------
_NOT_DETAILS = {
    *ENVELOPE_FIELDS, "event_id", "timestamp", "originator_topic", "originator_id",
    "originator_version", "patient_ref", "corrects_event_id", "restored_status",
    "class_version",  # stored with an event of a class past version 1: not one of its fields
}  # fmt: skip


class Oracle:
    """The visit folded by the domain (``event.mutate``), with when its state began and, per
    flow fact, that instant and the fact's version (what a compensation restores/names)."""

    def __init__(self) -> None:
        self.visit: Any = None
        self.status_since: datetime | None = None
        self.facts: dict[str, tuple[datetime | None, int]] = {}
        self.position = 0
        self.last_event_at: datetime | None = None

    def fold(self, record: StoredRecord) -> tuple[tuple[Any, ...], int | None]:
        """Apply one record: its timeline row and the version of the fact it cancels."""
        event = domain_event(record)
        previous = self.visit.status if self.visit is not None else None
        remembered = len(self.visit.flow_log) if self.visit is not None else 0
        self.visit = event.mutate(self.visit)
        since, cancelled = self.status_since, None
        if isinstance(event, PatientVisit.Compensation):
            self.status_since, cancelled = self.facts[str(event.corrects_event_id)]
        elif self.visit.status != previous:
            self.status_since = event.occurred_at
        if len(self.visit.flow_log) > remembered:
            self.facts[self.visit.flow_log[-1]["event_id"]] = (since, record.originator_version)
        self.position = record.position
        self.last_event_at = event.occurred_at
        return self.timeline_row(record, event), cancelled

    def timeline_row(self, record: StoredRecord, event: Any) -> tuple[Any, ...]:
        attributes = vars(event)
        details = {}
        for name, value in attributes.items():
            if name in _NOT_DETAILS:
                continue
            if name == "changes":
                value = {flow.camel(field): change for field, change in value.items()}
            details[flow.camel(name)] = value
        corrects = attributes.get("corrects_event_id")
        return (
            str(self.visit.id), record.originator_version, record.position,
            str(event.event_id), type(event).__name__, to_micros(event.occurred_at),
            to_micros(event.timestamp), event.actor_id, event.actor_role, event.on_behalf_of,
            event.reason, event.source_system, event.source_message_id,
            str(corrects) if corrects is not None else None, attributes.get("restored_status"),
            msgspec.json.encode(details).decode(), None,
        )  # fmt: skip

    def visit_row(self) -> tuple[Any, ...]:
        visit = self.visit
        location = visit.current_location
        periods = visit.location_periods
        scheduled, arrival = to_micros(visit.scheduled_start), to_micros(visit.arrival_at)
        departure = to_micros(visit.discharged_at or visit.left_at)
        ed_departure = to_micros(periods[0]["end"]) if periods else None
        anchors = [t for t in (scheduled, arrival, ed_departure, departure) if t is not None]
        return (
            str(visit.id), visit.version, self.position, visit.patient_ref,
            visit.visit_number, visit.visit_number_authority, visit.status,
            to_micros(self.status_since), visit.visit_class, visit.service_unit,
            int(bool(visit.walk_in)), location["unit"] if location else None,
            location["bed"] if location else None, visit.acuity_scale, visit.acuity_level,
            scheduled, to_micros(visit.scheduled_end), arrival, to_micros(visit.triage_at),
            to_micros(visit.provider_seen_at), to_micros(visit.decision_to_admit_at),
            visit.target_unit, to_micros(visit.admitted_at), to_micros(visit.left_at),
            departure, ed_departure, visit.disposition, int(bool(visit.late_cancellation)),
            to_micros(visit.no_show_at), to_micros(visit.cancelled_at),
            to_micros(self.last_event_at), min(anchors, default=None), max(anchors, default=None),
        )  # fmt: skip

    def location_rows(self) -> list[tuple[Any, ...]]:
        if self.visit.status == ENTERED_IN_ERROR:
            return []
        return [
            (str(self.visit.id), seq, p["unit"], p["bed"], to_micros(p["start"]),
             to_micros(p["end"]))
            for seq, p in enumerate(self.visit.location_periods, start=1)
        ]  # fmt: skip


# ---- random command sequences -----------------------------------------------------------------
UNITS = ("ED", "W1", "W2", "CLINIC")
BEDS = (None, "B1", "B2")
maybe_text = st.sampled_from([None, "x", "y"])
reasons = st.sampled_from(["recorded against the wrong visit", "asked", None])
#: A creation may carry a visit number (PV1-19), with or without its assigning authority.
VISIT_NUMBERS = {"visit_number": st.just("V-1"), "visit_number_authority": st.just("HOSP")}
instants = st.integers(min_value=0, max_value=180).map(lambda m: START + timedelta(minutes=m))


def command_arguments(name: str, at: datetime) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for ``PatientVisit.<name>`` (times around ``at``)."""
    later = st.integers(min_value=-30, max_value=120).map(lambda m: at + timedelta(minutes=m))
    return {
        "schedule": st.fixed_dictionaries({
            "patient_ref": st.just("pt-1"), "visit_class": st.sampled_from(VISIT_CLASSES),
            "service_unit": st.sampled_from(UNITS), "scheduled_start": later,
            "scheduled_end": st.none() | later, "reason_code": maybe_text,
        }, optional=VISIT_NUMBERS),
        "register_walk_in": st.fixed_dictionaries({
            "patient_ref": st.just("pt-2"), "visit_class": st.sampled_from(VISIT_CLASSES),
            "service_unit": st.sampled_from(UNITS), "arrival_mode": maybe_text,
        }, optional=VISIT_NUMBERS),
        "reschedule": st.fixed_dictionaries(
            {"scheduled_start": later, "scheduled_end": st.none() | later}
        ),
        "cancel": st.fixed_dictionaries({"reason": reasons}),
        "mark_no_show": st.just({}),
        "revert_no_show": st.fixed_dictionaries({"reason": reasons}),
        "register_arrival": st.fixed_dictionaries({"arrival_mode": maybe_text}),
        "record_triage": st.fixed_dictionaries({
            "acuity_scale": st.sampled_from(ACUITY_SCALES),
            "acuity_level": st.integers(min_value=1, max_value=5),
        }),
        "start_clinician_contact": st.fixed_dictionaries({"clinician_ref": st.just("dr-1")}),
        "record_decision_to_admit": st.fixed_dictionaries(
            {"target_unit": st.sampled_from(UNITS)}
        ),
        "admit": st.fixed_dictionaries(
            {"unit": st.sampled_from(UNITS), "bed": st.sampled_from(BEDS)}
        ),
        "transfer": st.fixed_dictionaries(
            {"to_unit": st.sampled_from(UNITS), "to_bed": st.sampled_from(BEDS)}
        ),
        "start_leave_of_absence": st.fixed_dictionaries({"expected_return": st.none() | later}),
        "end_leave_of_absence": st.just({}),
        "record_left_without_being_seen": st.just({}),
        "discharge": st.sampled_from(DISPOSITIONS).flatmap(
            lambda disposition: st.fixed_dictionaries({
                "disposition": st.just(disposition), "destination": maybe_text,
                "deceased_at": st.just(at) if disposition == "exp" else st.none(),
            })
        ),
        "close": st.just({}),
        "mark_entered_in_error": st.fixed_dictionaries({"reason": reasons}),
        "correct_details": st.fixed_dictionaries({
            "changes": st.fixed_dictionaries({}, optional={
                "reason_code": maybe_text, "service_unit": st.sampled_from(UNITS),
                "visit_class": st.sampled_from(VISIT_CLASSES), "scheduled_end": st.none() | later,
            }),
            "reason": reasons,
        }),
        "cancel_admission": st.fixed_dictionaries({"reason": reasons}),
        "cancel_transfer": st.fixed_dictionaries({"reason": reasons}),
        "cancel_discharge": st.fixed_dictionaries({"reason": reasons}),
        "cancel_left_without_being_seen": st.fixed_dictionaries({"reason": reasons}),
    }[name]  # fmt: skip


COMMANDS = (
    "reschedule", "cancel", "mark_no_show", "revert_no_show", "register_arrival",
    "record_triage", "start_clinician_contact", "record_decision_to_admit", "admit",
    "transfer", "start_leave_of_absence", "end_leave_of_absence",
    "record_left_without_being_seen", "discharge", "close", "mark_entered_in_error",
    "correct_details", "cancel_admission", "cancel_transfer", "cancel_discharge",
    "cancel_left_without_being_seen",
)  # fmt: skip


#: What a visit in each state is plausibly told next (any command now and then, too).
PLAUSIBLE = {
    "scheduled": ("reschedule", "cancel", "mark_no_show", "register_arrival", "correct_details"),
    "arrived": (
        "record_triage", "start_clinician_contact", "admit", "transfer",
        "record_left_without_being_seen", "discharge", "correct_details",
    ),
    "triaged": (
        "start_clinician_contact", "admit", "transfer", "record_left_without_being_seen",
        "discharge", "correct_details",
    ),
    "with_clinician": (
        "record_decision_to_admit", "admit", "transfer", "discharge", "correct_details",
    ),
    "admitted": (
        "transfer", "start_leave_of_absence", "discharge", "cancel_admission",
        "cancel_transfer", "correct_details",
    ),
    "on_leave": ("end_leave_of_absence", "correct_details", "discharge"),
    "discharged": ("close", "cancel_discharge", "correct_details"),
    "left_without_being_seen": ("close", "cancel_left_without_being_seen"),
    "no_show": ("revert_no_show",),
    "closed": ("mark_entered_in_error",),
    "cancelled": ("mark_entered_in_error",),
    "entered_in_error": ("correct_details",),
}  # fmt: skip


@st.composite
def histories(draw: st.DrawFn) -> list[StoredRecord]:
    """The stored records of one visit's random history (refused commands leave none)."""
    clock = draw(instants)
    creation = draw(st.sampled_from(["schedule", "register_walk_in"]))
    target: Any = PatientVisit
    events: list[Any] = []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        if target is PatientVisit:
            name = creation
        elif draw(st.integers(min_value=0, max_value=9)) == 0:
            name = draw(st.sampled_from(COMMANDS))
        else:
            name = draw(st.sampled_from(PLAUSIBLE[target.status]))
        clock += timedelta(minutes=draw(st.integers(min_value=-5, max_value=40)))
        arguments = draw(command_arguments(name, clock))
        envelope = make_envelope(
            clock, role=draw(st.sampled_from(["clerk", "nurse", "integration"])),
            reason=arguments.get("reason"), on_behalf_of=draw(maybe_text),
            source_system=draw(maybe_text), source_message_id=draw(maybe_text),
        )  # fmt: skip
        try:
            outcome = when(target, name, at=clock, envelope=envelope, **arguments)
        except DomainError:
            continue  # refused: no event
        target = outcome.visit
        events.extend(outcome.events)
    records = []
    for position, event in enumerate(events, start=draw(st.integers(1, 1000))):
        stored = MAPPER.to_stored_event(event)
        records.append(
            StoredRecord(
                position, stored.originator_id, stored.originator_version, stored.topic,
                stored.state,
            )
        )  # fmt: skip
    return records


# In memory and fast: four times the profile's examples, so every event class and each
# compensation turns up in the bounded run.
@settings(max_examples=settings.default.max_examples * 4)
@given(records=histories(), split=st.integers(min_value=0, max_value=30))
def test_the_reducer_gives_the_rows_the_domain_aggregate_gives(
    records: list[StoredRecord], split: int
) -> None:
    assume(records)  # the creation may have been refused (an end before the start)
    oracle, state = Oracle(), None
    rows = []
    for record in records:
        expected_row, expected_cancelled = oracle.fold(record)
        state, row = flow.fold(state, record)
        assert row == expected_row
        assert state.cancelled_version == expected_cancelled
        assert flow.visit_values(state) == oracle.visit_row()
        assert flow.location_values(state) == oracle.location_rows()
        rows.append(row)

    # Corrected marks: a compensation's row names the fact it cancels, whose version the fold
    # gave; the facts so named are exactly those the domain's flow log says were cancelled.
    cancelled = {e["event_id"] for e in oracle.visit.flow_log if e["cancelled"]}
    named = {row[13] for row in rows if row[13] is not None}
    assert named == cancelled

    # A cache miss: the earlier records replayed, the rest folded on top.
    resumed = flow.replay(records[: min(split, len(records))])
    for record in records[min(split, len(records)) :]:
        resumed, _ = flow.fold(resumed, record)
    assert resumed is not None and state is not None
    assert flow.visit_values(resumed) == flow.visit_values(state)
    assert flow.location_values(resumed) == flow.location_values(state)
