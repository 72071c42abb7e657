"""An event class the flow fold does not know never stops it: a PatientVisit event class added
after the read model was written, or a topic that no longer resolves, is folded timeline-only
(its row names the class and shows its fields; the visit's flow state is unchanged), logged once
per class per process, and the records after it fold as usual."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import uuid4

import msgspec
import pytest
import structlog
from structlog.testing import capture_logs

from domain.shared.envelope import recording
from domain.visits.visit import PatientVisit
from projections.shared.records import StoredRecord
from projections.visits import flow, flow_kinds
from tests.support.gwt import Story, at, make_envelope, walk_in_story
from tests.support.records import records_of

#: Where a class of PatientVisit that no longer exists would have been.
RETIRED_TOPIC = "domain.visits.visit:PatientVisit.HandoverNotedRetired"


class HandoverNoted(PatientVisit.Event):
    """A PatientVisit event class the flow read model was not written for."""

    note: str
    handed_over_at: datetime


def noted(story: Story, minutes: float, event_class: type = HandoverNoted) -> Story:
    """``story`` with a handover noted by a nurse (as a newer release would record it)."""
    assert story.visit is not None
    with recording(make_envelope(at(minutes), role="nurse", reason="shift change")):
        story.visit.trigger_event(event_class, note="to the night team", handed_over_at=at(9))
    story.events.extend(story.visit.collect_events())
    return story


def handover_story() -> Story:
    """Walk-in, handover noted, triage: the unknown record between two known ones."""
    story = noted(walk_in_story(at(0)), 3)
    return story.do("record_triage", at=at(5), role="nurse", acuity_scale="ESI", acuity_level=2)


def retired(record: StoredRecord, topic: str = RETIRED_TOPIC) -> StoredRecord:
    return dataclasses.replace(record, topic=topic)


def fold_all(records: list[StoredRecord]) -> tuple[flow.VisitState, list[flow.TimelineRow]]:
    state, rows = None, []
    for record in records:
        state, row = flow.fold(state, record)
        rows.append(row)
    assert state is not None
    return state, rows


@pytest.fixture
def fresh_log() -> Iterator[None]:
    """A logger made inside the capture (one cached by an earlier test would escape it)."""
    saved = flow_kinds.log
    flow_kinds.log = structlog.get_logger("projections")
    try:
        yield
    finally:
        flow_kinds.log = saved


@pytest.mark.parametrize("topic", [None, RETIRED_TOPIC], ids=["unknown class", "no such topic"])
def test_an_unknown_event_is_on_the_timeline_and_changes_no_flow_state(topic: str | None) -> None:
    walk_in, note, triage = records_of(handover_story().events)
    if topic is not None:
        note = retired(note, topic)
    before, _ = fold_all([walk_in])
    before_row = flow.visit_values(before)._asdict()

    state, [_, row, triage_row] = fold_all([walk_in, note, triage])

    assert (row.event_type, row.version, row.position) == (
        "HandoverNoted" if topic is None else "HandoverNotedRetired", 2, 2,
    )  # fmt: skip
    assert (row.actor_role, row.reason, row.corrects_event_id) == ("nurse", "shift change", None)
    assert msgspec.json.decode(row.details) == {
        "note": "to the night team", "handedOverAt": "2026-03-02T09:09:00Z",
    }  # fmt: skip
    assert "patientRef" not in row.details
    # Folded on top of it, the triage changes the state as always.
    assert triage_row.event_type == "PatientTriaged" and state.status == "triaged"
    assert (state.acuity_scale, state.acuity_level, state.version) == ("ESI", 2, 3)
    # The unknown event alone moved the bookkeeping only (version, position, last event).
    alone, _ = fold_all([walk_in, note])
    after_row = flow.visit_values(alone)
    changed = {name for name, value in after_row._asdict().items() if value != before_row[name]}
    assert changed == {"version", "position", "last_event_at"}
    assert flow.location_values(alone) == flow.location_values(before)


def test_a_replay_through_an_unknown_event_equals_the_fold() -> None:
    records = records_of(handover_story().events)
    records[1] = retired(records[1])
    whole, _ = fold_all(records)
    resumed = flow.replay(records[:2])
    assert resumed is not None
    resumed, _ = flow.fold(resumed, records[2])
    assert flow.visit_values(resumed) == flow.visit_values(whole)


def test_the_flow_model_wants_a_visit_topic_that_no_longer_resolves() -> None:
    assert flow.wants(RETIRED_TOPIC)
    assert flow.wants("domain.visits:PatientVisit.HandoverNotedRetired")  # an old module path
    assert not flow.wants("domain.visits.visit:NoSuchAggregate.Event")
    assert not flow.wants("domain.complaints.case:ComplaintCase.Gone")


def test_an_unknown_class_is_logged_once_per_process_naming_only_its_topic(
    fresh_log: None,
) -> None:
    # Classes and topics of this test's own, so no earlier test has met them.
    suffix = uuid4().hex[:8]
    shifted: Any = type(f"HandoverShifted{suffix}", (HandoverNoted,), {"__module__": __name__})
    globals()[shifted.__name__] = shifted  # resolvable by its topic, as a real class is
    gone = f"domain.visits.visit:PatientVisit.Gone{suffix}"
    first = records_of(noted(walk_in_story(at(0)), 3, shifted).events)
    second = records_of(noted(walk_in_story(at(1)), 4, shifted).events)

    with capture_logs() as logs:
        fold_all(first)
        fold_all(second)
        fold_all([first[0], retired(first[1], gone)])
        fold_all([second[0], retired(second[1], gone)])

    warnings = [entry for entry in logs if entry["event"] == "flow.unknown_event"]
    assert [(w["log_level"], w["topic"], w["resolves"]) for w in warnings] == [
        ("warning", first[1].topic, True), ("warning", gone, False),
    ]  # fmt: skip
    # No value of the record (the patient's reference, the note): the topic names the class.
    for warning in warnings:
        assert set(warning) == {"event", "log_level", "topic", "resolves", "folded"}
