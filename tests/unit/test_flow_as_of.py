"""What the flow fold remembers of when things were recorded (the history hulls of
:mod:`projections.visits.flow_knowledge`), and a visit folded as known at a time
(:mod:`projections.visits.flow_as_of`), without a database: records are stamped with chosen
recorded times, so "recorded" and "occurred" can be told apart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from projections.shared.records import StoredRecord, to_micros
from projections.visits import flow
from projections.visits.flow_as_of import board_rows, census_rows, fold_known, metric_visits
from projections.visits.flow_knowledge import HistoryRow, history_rows
from tests.support.gwt import START, Story, at, scheduled_story, story_to
from tests.support.records import records_of


def us(minutes: float) -> int:
    value = to_micros(at(minutes))
    assert value is not None
    return value


def recorded(minutes: float) -> int:
    """A recorded time: a day after the story's day, so never mixed up with occurred ones."""
    return us(minutes + 24 * 60)


def stamped(story: Story, *minutes: float) -> list[StoredRecord]:
    """The story's records, the n-th recorded at ``recorded(minutes[n])``."""
    records = records_of(story.events)
    assert len(records) == len(minutes)
    out = []
    for record, when in zip(records, minutes, strict=True):
        state: dict[str, Any] = msgspec.json.decode(record.state)
        moment = START + timedelta(minutes=when + 24 * 60)
        state["timestamp"] = {"_type_": "datetime_iso", "_data_": moment.isoformat()}
        out.append(StoredRecord(record.position, record.originator_id,
                                record.originator_version, record.topic,
                                msgspec.json.encode(state)))  # fmt: skip
    return out


def folded(records: list[StoredRecord]) -> flow.VisitState:
    state = flow.replay(records)
    assert state is not None
    return state


# ---- the hulls the fold keeps ---------------------------------------------------------------
def rows_of(state: flow.VisitState) -> dict[str, HistoryRow]:
    return {row.unit: row for row in history_rows(state)}


def test_the_board_history_is_by_recorded_time_per_unit() -> None:
    story = story_to("discharged")  # booked, arrived, triaged, seen, decided, admitted, out
    rows = rows_of(folded(stamped(story, 0, 10, 20, 30, 40, 50, 60)))

    # On the ED's board from the arrival's record, then on the ward's until the discharge's.
    assert (rows["ED"].known_from, rows["ED"].known_until) == (recorded(10), recorded(50))
    assert (rows["W1"].known_from, rows["W1"].known_until) == (recorded(50), recorded(60))
    assert all(row.known_class is not None and row.known_class >= 0 for row in rows.values())


def test_a_visit_back_on_a_board_reopens_its_interval() -> None:
    story = story_to("discharged").do("cancel_discharge", at=at(50), role="clinician",
                                      reason="not yet")  # fmt: skip
    ward = rows_of(folded(stamped(story, 0, 10, 20, 30, 40, 50, 60, 70)))["W1"]

    assert (ward.known_from, ward.known_until, ward.known_class) == (recorded(50), None, -1)


def test_the_occurred_history_holds_every_period_any_record_gave_and_open_ones_until_closed() -> (
    None
):
    story = story_to("admitted").do("transfer", at=at(40), role="nurse", to_unit="W2",
                                    to_bed="B2")  # fmt: skip
    story.do("cancel_transfer", at=at(45), role="nurse", reason="wrong ward")
    state = folded(stamped(story, 0, 10, 20, 30, 40, 50, 60, 70))

    hulls = {(r.unit, r.start_at, r.end_at) for r in history_rows(state)}
    # Each period was open until a record closed it: ED (also the service unit, whose metric
    # anchors run from the scheduled start) until the admission was recorded; W1 open now;
    # W2 from the transfer until its cancellation was recorded.
    assert hulls == {
        ("ED", us(0), recorded(50)), ("W1", us(25), None), ("W2", us(40), recorded(70)),
    }  # fmt: skip
    assert [p[0] for p in state.periods] == ["ED", "W1"]  # the live periods: W2 is gone


def test_the_occurred_history_holds_every_metric_anchor_under_every_service_unit() -> None:
    story = scheduled_story().do("register_arrival", at=at(5), arrival_mode="walked")
    story.do("record_left_without_being_seen", at=at(15), role="nurse")
    story.do("cancel_left_without_being_seen", at=at(20), role="nurse", reason="still here")
    story.do("correct_details", at=at(25), changes={"service_unit": "OPD"}, reason="typo")
    rows = rows_of(folded(stamped(story, 0, 10, 20, 30, 40)))

    # The departure at 15 minutes was cancelled, but it was known for a while: it counts.
    # OPD had no location, only the anchors; ED's period is open again.
    assert (rows["OPD"].start_at, rows["OPD"].end_at) == (us(0), us(15) + 1)
    assert (rows["ED"].start_at, rows["ED"].end_at, rows["ED"].length_class) == (us(0), None, -1)
    assert rows["OPD"].known_from is None and rows["OPD"].known_class is None


def test_an_event_class_the_fold_does_not_know_only_moves_the_recorded_clock() -> None:
    booked, arrived = stamped(story_to("arrived"), 0, 5)
    # A class removed since its record was stored: folded timeline-only.
    gone = StoredRecord(arrived.position, arrived.originator_id, arrived.originator_version,
                        "domain.visits.visit:PatientVisit.Gone", arrived.state)  # fmt: skip
    state = folded([booked])
    before = state.known.revision
    state, _ = flow.fold(state, gone)
    assert state.status == "scheduled"
    assert state.known.recorded_at == recorded(5) and state.known.revision == before


# ---- folded as known at a time --------------------------------------------------------------
def test_a_visit_known_at_a_time_is_its_records_recorded_by_then() -> None:
    records = stamped(story_to("admitted"), 0, 10, 20, 30, 40, 50)

    assert fold_known(records, recorded(0) - 1) is None  # not yet booked
    arrived = fold_known(records, recorded(10))
    assert arrived is not None and arrived.state.status == "arrived"
    assert [r.id for r in board_rows([arrived], "ED")] == [arrived.state.id]
    admitted = fold_known(records, None)
    assert admitted is not None and admitted.state.status == "admitted"
    assert board_rows([admitted], "ED") == [] and len(board_rows([admitted], "W1")) == 1


def test_a_record_stamped_earlier_than_one_before_it_is_not_known_before_that_one() -> None:
    """Two servers' clocks may disagree: the recorded clock is a running maximum, so what is
    known at a time is always a prefix of the visit's records."""
    records = stamped(story_to("triaged"), 0, 30, 20)  # the triage stamped before the arrival

    known = fold_known(records, recorded(25))
    assert known is not None and known.state.status == "scheduled"


def test_the_status_history_drops_what_a_compensation_cancelled() -> None:
    story = story_to("admitted").do("cancel_admission", at=at(60), role="clinician",
                                    reason="wrong patient")  # fmt: skip
    known = fold_known(stamped(story, 0, 10, 20, 30, 40, 50, 60), None)
    assert known is not None

    assert [(s[2], s[3]) for s in known.statuses] == [
        ("scheduled", "AMB"), ("arrived", "AMB"), ("triaged", "AMB"), ("with_clinician", "AMB"),
    ]  # fmt: skip
    assert known.status_at(us(30)) == ("with_clinician", "AMB")  # never admitted
    rows = census_rows([known], None, us(30))
    assert [(r.unit, r.status, r.visit_class) for r in rows] == [("ED", "with_clinician", "AMB")]


def test_the_census_and_metric_rows_of_a_visit_entered_in_error_are_empty_and_marked() -> None:
    known = fold_known(stamped(story_to("entered_in_error"), 0, 10, 20), None)
    assert known is not None
    assert census_rows([known], None, us(7)) == []
    [row] = metric_visits([known], "ED")
    assert row.status == "entered_in_error"  # compute_metrics leaves it out
    assert metric_visits([known], "OPD") == []
