"""The patient-flow fold, its rows and views, and the metrics arithmetic (no I/O).

Events come from real commands (``tests.support.gwt.Story``) and are stored with the library's
own mapper, so the fold reads exactly what a worker would read from the events table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from domain.visits.visit import PatientVisit
from projections.shared.records import StoredRecord, to_micros
from projections.visits import flow
from projections.visits import flow_views as views
from projections.visits.flow_metrics import (
    MetricVisit,
    Rate,
    Statistic,
    compute_metrics,
    hour_start,
    nearest_rank,
    rate,
    statistic,
)
from tests.support.gwt import Story, at, scheduled_story, story_to, walk_in_story
from tests.support.records import MAPPER

LONDON = ZoneInfo("Europe/London")


def records_of(story: Story, first_position: int = 1) -> list[StoredRecord]:
    """The story's events as the events table holds them."""
    records = []
    for offset, event in enumerate(story.events):
        stored = MAPPER.to_stored_event(event)
        records.append(
            StoredRecord(
                first_position + offset,
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                stored.state,
            )  # fmt: skip
        )
    return records


def fold_all(records: Sequence[StoredRecord]) -> tuple[flow.VisitState, list[flow.TimelineRow]]:
    """The visit folded from ``records``, and their timeline rows."""
    folded, rows = None, []
    for record in records:
        folded, row = flow.fold(folded, record)
        rows.append(flow.TimelineRow(*row))
    assert folded is not None
    return folded, rows


def row_of(story: Story) -> flow.VisitRow:
    return flow.visit_row(fold_all(records_of(story))[0])


def us(moment: datetime | None) -> int | None:
    return to_micros(moment)


def board_values(row: flow.VisitRow) -> tuple[Any, ...]:
    """The board's columns of a visit row, as the store selects them."""
    return tuple(getattr(row, name) for name in views.BOARD_COLUMNS)


# ---- the fold: visit rows ---------------------------------------------------------------------
def test_a_walk_in_is_arrived_in_its_service_unit_since_it_arrived() -> None:
    row = row_of(walk_in_story(at(0)))

    assert (row.status, row.current_unit, row.current_bed, row.walk_in) == (
        "arrived",
        "ED",
        None,
        1,
    )
    assert row.arrival_at == row.status_since == us(at(0))
    assert row.patient_ref == "pt-0002"
    assert row.version == 1 and row.position == 1


@pytest.mark.parametrize(
    ("status", "since"),
    [
        ("scheduled", at(-14400)),  # booked ten days before
        ("arrived", at(5)),
        ("triaged", at(10)),
        ("with_clinician", at(15)),
        ("admitted", at(25)),
        ("on_leave", at(30)),
        ("discharged", at(35)),
        ("closed", at(40)),
        ("left_without_being_seen", at(15)),
        ("no_show", at(20)),
        ("cancelled", at(-120)),
    ],
)
def test_each_state_is_timed_from_the_fact_that_entered_it(status: str, since: datetime) -> None:
    row = row_of(story_to(status))

    assert row.status == status
    assert row.status_since == us(since)


def test_an_admission_moves_the_patient_to_the_ward_and_ends_the_ed_period() -> None:
    row = row_of(story_to("admitted"))

    assert (row.current_unit, row.current_bed, row.visit_class) == ("W1", "B1", "IMP")
    assert row.decision_to_admit_at == us(at(20)) and row.target_unit == "W1"
    assert row.admitted_at == us(at(25))
    # ED departure for boarding: the end of the first location period.
    assert row.ed_departure_at == us(at(25))
    assert row.departure_at is None


def test_a_discharge_is_the_departure_and_closes_the_location() -> None:
    row = row_of(story_to("discharged"))

    assert row.departure_at == us(at(35)) and row.disposition == "home"
    assert (row.current_unit, row.left_at) == (None, None)
    assert (row.span_start, row.span_end) == (us(at(0)), us(at(35)))


def test_leaving_without_being_seen_is_a_departure_with_its_own_time() -> None:
    row = row_of(story_to("left_without_being_seen"))

    assert row.left_at == row.departure_at == us(at(15))
    assert row.ed_departure_at == us(at(15))


def test_replaying_earlier_records_then_folding_the_rest_equals_one_fold() -> None:
    records = records_of(story_to("closed"))
    whole, _ = fold_all(records)

    resumed = flow.replay(records[:5])
    for record in records[5:]:
        resumed, _ = flow.fold(resumed, record)

    assert resumed is not None
    assert flow.visit_row(resumed) == flow.visit_row(whole)
    assert flow.location_rows(resumed) == flow.location_rows(whole)


# ---- compensations ---------------------------------------------------------------------------
def transferred_story() -> Story:
    return (
        story_to("admitted")
        .do("transfer", at=at(30), role="nurse", to_unit="W2", to_bed="B7")
    )  # fmt: skip


def test_cancelling_a_transfer_restores_the_location_periods_and_the_state_clock() -> None:
    story = transferred_story()
    transferred = fold_all(records_of(story))[0]
    assert [(r.unit, r.end_at) for r in flow.location_rows(transferred)] == [
        ("ED", us(at(25))), ("W1", us(at(30))), ("W2", None),
    ]  # fmt: skip

    story.do("cancel_transfer", at=at(32), role="nurse", reason="wrong ward")
    folded, _ = fold_all(records_of(story))
    row = flow.visit_row(folded)

    assert [(r.unit, r.bed, r.start_at, r.end_at) for r in flow.location_rows(folded)] == [
        ("ED", None, us(at(5)), us(at(25))),
        ("W1", "B1", us(at(25)), None),
    ]
    assert (row.status, row.status_since) == ("admitted", us(at(25)))
    assert (row.current_unit, row.current_bed) == ("W1", "B1")


def test_cancelling_a_discharge_reopens_the_bed_and_the_admitted_clock() -> None:
    story = story_to("discharged").do(
        "cancel_discharge", at=at(36), role="clinician", reason="still here"
    )
    folded, _ = fold_all(records_of(story))
    row = flow.visit_row(folded)

    assert (row.status, row.status_since, row.departure_at) == ("admitted", us(at(25)), None)
    assert flow.location_rows(folded)[-1].end_at is None
    assert (row.current_unit, row.current_bed) == ("W1", "B1")


def test_cancelling_an_admission_returns_the_patient_to_the_ed_with_clinician() -> None:
    story = story_to("admitted").do(
        "cancel_admission", at=at(27), role="clinician", reason="bed not ready"
    )
    folded, _ = fold_all(records_of(story))
    row = flow.visit_row(folded)

    assert (row.status, row.status_since) == ("with_clinician", us(at(15)))
    assert [(r.unit, r.end_at) for r in flow.location_rows(folded)] == [("ED", None)]
    assert (row.admitted_at, row.visit_class, row.ed_departure_at) == (None, "AMB", None)
    assert views.is_boarder(row.status, row.decision_to_admit_at, row.admitted_at)


def test_an_entered_in_error_visit_has_no_location_and_is_on_no_board() -> None:
    story = story_to("triaged").do("mark_entered_in_error", at=at(12), reason="wrong patient")
    folded, _ = fold_all(records_of(story))
    row = flow.visit_row(folded)

    assert row.status == "entered_in_error"
    assert flow.location_rows(folded) == []
    assert row.status not in (*views.BOARD_STATES, views.ON_LEAVE)
    metric = MetricVisit(*(getattr(row, name) for name in MetricVisit.__struct_fields__))
    assert compute_metrics([metric], at(-60), at(60), LONDON).arrivals == 0


def test_location_changes_are_noticed_and_other_facts_are_not() -> None:
    story = story_to("admitted")
    folded, _ = fold_all(records_of(story))
    before = folded.locations_revision
    story.do("start_leave_of_absence", at=at(40), role="nurse")
    folded, _ = flow.fold(folded, records_of(story)[-1])
    assert folded.locations_revision == before  # the bed is kept

    story.do("end_leave_of_absence", at=at(50), role="nurse")
    story.do("discharge", at=at(60), role="clinician", disposition="home")
    folded, _ = flow.fold(folded, records_of(story)[-2])
    assert folded.locations_revision == before
    folded, _ = flow.fold(folded, records_of(story)[-1])
    assert folded.locations_revision != before


# ---- timeline rows ---------------------------------------------------------------------------
def test_timeline_rows_say_who_what_when_why_and_leave_the_patient_out() -> None:
    story = walk_in_story(at(0)).do(
        "record_triage", at=at(4), role="nurse", acuity_scale="ESI", acuity_level=2
    )
    records = records_of(story, first_position=41)
    _, rows = fold_all(records)

    assert [(r.version, r.position, r.event_type) for r in rows] == [
        (1, 41, "WalkInRegistered"), (2, 42, "PatientTriaged"),
    ]  # fmt: skip
    triage = rows[1]
    assert (triage.actor_id, triage.actor_role) == ("staff-1", "nurse")
    assert triage.occurred_at == us(at(4))
    assert triage.event_id == str(story.events[1].event_id)
    assert msgspec.json.decode(triage.details) == {"acuityScale": "ESI", "acuityLevel": 2}
    assert "patientRef" not in msgspec.json.decode(rows[0].details)
    assert triage.corrects_event_id is None and triage.corrected_by is None


def test_a_compensation_names_the_fact_it_cancels_and_the_fold_finds_its_version() -> None:
    story = transferred_story().do("cancel_transfer", at=at(32), role="nurse", reason="wrong")
    records = records_of(story)
    folded, rows = fold_all(records[:-1])
    assert folded.cancelled_version is None
    folded, row = flow.fold(folded, records[-1])
    cancel = flow.TimelineRow(*row)
    transfer_id = story.event_id_of(PatientVisit.PatientTransferred)

    assert cancel.corrects_event_id == str(transfer_id)
    assert cancel.restored_status == "admitted" and cancel.reason == "wrong"
    assert folded.cancelled_version == records[-2].originator_version
    assert rows[-1].event_id == str(transfer_id)


def test_a_details_correction_shows_each_field_before_and_after() -> None:
    story = scheduled_story().do(
        "correct_details", at=at(-60), changes={"service_unit": "OPD-2", "reason_code": "R2"}
    )
    folded, rows = fold_all(records_of(story))
    row = rows[-1]

    assert msgspec.json.decode(row.details) == {
        "changes": {
            "serviceUnit": {"before": "ED", "after": "OPD-2"},
            "reasonCode": {"before": "R1", "after": "R2"},
        }
    }
    assert flow.visit_row(folded).service_unit == "OPD-2"


def test_timeline_entries_are_effective_until_a_compensation_names_them() -> None:
    row = ("e-2", "TransferCancelled", "e-1")
    common = flow.TimelineRow(
        visit_id="v-1", version=0, position=0, event_id="", event_type="", occurred_at=0,
        recorded_at=0, actor_id="a", actor_role="nurse", on_behalf_of=None, reason=None,
        source_system=None, source_message_id=None, corrects_event_id=None,
        restored_status=None, details="{}",
    )  # fmt: skip
    cancelled = views.timeline_entry(common._replace(
        position=7, version=3, event_id="e-1", event_type="PatientTransferred", occurred_at=0,
        recorded_at=1, reason=None, corrects_event_id=None, restored_status=None,
        details='{"toUnit":"W2"}', corrected_by="e-2",
    ))  # fmt: skip
    compensation = views.timeline_entry(common._replace(
        position=8, version=4, event_id=row[0], event_type=row[1], occurred_at=2,
        recorded_at=3, reason="wrong", corrects_event_id=row[2], restored_status="admitted",
        details="{}", corrected_by=None,
    ))  # fmt: skip

    assert (cancelled.effective, cancelled.corrected_by) == (False, "e-2")
    assert cancelled.details == {"toUnit": "W2"}
    assert (compensation.effective, compensation.corrects) == (True, "e-1")
    assert compensation.restored_status == "admitted"


# ---- the board -------------------------------------------------------------------------------
def test_the_board_groups_by_current_unit_with_boarders_and_leave_apart() -> None:
    now = at(120)
    boarding = row_of(story_to("with_clinician").do(
        "record_decision_to_admit", at=at(20), role="clinician", target_unit="W1"
    ))  # fmt: skip
    triaged = row_of(story_to("triaged"))
    admitted = row_of(story_to("admitted"))
    on_leave = row_of(story_to("on_leave"))
    rows = [board_values(r) for r in (boarding, triaged, admitted, on_leave)]

    board = views.board_of(rows, None, now)

    assert [u.unit for u in board.units] == ["ED", "W1"]
    ed, ward = board.units
    assert [v.status for v in ed.with_clinician] == ["with_clinician"]
    assert [v.status for v in ed.triaged] == ["triaged"]
    assert [v.visit_id for v in ed.boarders] == [boarding.id]
    entry = ed.boarders[0]
    assert (entry.minutes_since_arrival, entry.minutes_in_state) == (115.0, 105.0)
    assert entry.minutes_boarding == 100.0 and entry.target_unit == "W1"
    assert (entry.acuity_scale, entry.acuity_level) == ("ESI", 3)
    assert entry.location == views.Location("ED", None)
    assert [v.visit_id for v in ward.admitted] == [admitted.id]
    assert [v.visit_id for v in ward.on_leave] == [on_leave.id]
    assert ward.boarders == [] and ward.admitted[0].boarder is False


def test_minutes_count_to_now_and_never_run_backwards() -> None:
    assert views.minutes_between(us(at(0)), us(at(90)) or 0) == 90.0
    assert views.minutes_between(us(at(10)), us(at(0)) or 0) == 0.0
    assert views.minutes_between(None, 0) is None


# ---- metrics arithmetic ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 90, 7.0),
        ([1.0, 2.0], 50, 1.0),  # rank ⌈1⌉ = 1
        ([15.0, 20.0, 35.0, 40.0, 50.0], 50, 35.0),  # rank ⌈2.5⌉ = 3
        ([15.0, 20.0, 35.0, 40.0, 50.0], 90, 50.0),  # rank ⌈4.5⌉ = 5
        ([float(i) for i in range(1, 11)], 50, 5.0),  # rank 5 exactly
        ([float(i) for i in range(1, 11)], 90, 9.0),  # rank 9 exactly, not 10
        ([float(i) for i in range(1, 21)], 90, 18.0),
        ([float(i) for i in range(1, 101)], 90, 90.0),
    ],
)
def test_percentiles_are_by_nearest_rank(
    values: list[float], percent: int, expected: float | None
) -> None:
    assert nearest_rank(values, percent) == expected


def test_a_statistic_sorts_its_values_and_counts_them() -> None:
    assert statistic([40.0, 15.0, 50.0, 20.0, 35.0]) == Statistic(n=5, median=35.0, p90=50.0)
    assert statistic([]) == Statistic(n=0, median=None, p90=None)


def test_a_rate_without_a_denominator_is_null() -> None:
    assert rate(1, 4) == Rate(1, 4, 0.25)
    assert rate(0, 0) == Rate(0, 0, None)


def visit(**fields: Any) -> MetricVisit:
    values: dict[str, Any] = dict.fromkeys(MetricVisit.__struct_fields__)
    values.update(status="discharged", walk_in=1, late_cancellation=0)
    values.update({k: us(v) if isinstance(v, datetime) else v for k, v in fields.items()})
    return MetricVisit(**values)


PERIOD = (at(0), at(24 * 60))


def metrics_of(*visits: MetricVisit, zone: ZoneInfo = LONDON) -> Any:
    return compute_metrics(list(visits), *PERIOD, zone)


def test_door_to_triage_and_to_provider_count_the_visits_that_arrived_in_the_period() -> None:
    result = metrics_of(
        visit(arrival_at=at(10), triage_at=at(15), provider_seen_at=at(40)),
        visit(arrival_at=at(20), triage_at=at(50)),
        visit(arrival_at=at(-30), triage_at=at(5), provider_seen_at=at(10)),  # arrived before
    )

    assert result.arrivals == 2
    assert result.door_to_triage == Statistic(n=2, median=5.0, p90=30.0)
    assert result.door_to_provider == Statistic(n=1, median=30.0, p90=30.0)


def test_clinic_wait_starts_at_the_later_of_arrival_and_appointment_and_is_never_negative() -> None:
    result = metrics_of(
        visit(walk_in=0, scheduled_start=at(60), arrival_at=at(30), provider_seen_at=at(75)),
        visit(walk_in=0, scheduled_start=at(60), arrival_at=at(70), provider_seen_at=at(90)),
        visit(walk_in=0, scheduled_start=at(60), arrival_at=at(40), provider_seen_at=at(50)),
        visit(arrival_at=at(40), provider_seen_at=at(100)),  # a walk-in has no appointment
    )

    assert result.clinic_wait == Statistic(n=3, median=15.0, p90=20.0)


def test_length_of_stay_counts_departures_in_the_period_split_by_disposition() -> None:
    result = metrics_of(
        visit(arrival_at=at(-120), departure_at=at(60), disposition="home"),
        visit(arrival_at=at(0), departure_at=at(240), disposition="home"),
        visit(arrival_at=at(0), departure_at=at(30), left_at=at(30), status="closed"),
        visit(arrival_at=at(10), departure_at=at(24 * 60 + 5), disposition="snf"),  # after
    )

    assert result.departures == 3
    assert result.length_of_stay.all == Statistic(n=3, median=180.0, p90=240.0)
    assert result.length_of_stay.by_disposition == {
        "home": Statistic(n=2, median=180.0, p90=240.0),
        "left_without_being_seen": Statistic(n=1, median=30.0, p90=30.0),
    }


def test_boarding_runs_from_the_decision_to_admit_to_leaving_the_ed() -> None:
    result = metrics_of(
        visit(
            status="admitted", arrival_at=at(0), decision_to_admit_at=at(60),
            ed_departure_at=at(300),
        ),
        visit(arrival_at=at(0), ed_departure_at=at(100), departure_at=at(100)),  # no decision
    )  # fmt: skip

    assert result.boarding_time == Statistic(n=1, median=240.0, p90=240.0)


def test_lwbs_rate_is_over_the_arrivals_of_the_period() -> None:
    result = metrics_of(
        visit(arrival_at=at(1), left_at=at(30), departure_at=at(30)),
        visit(arrival_at=at(2)),
        visit(arrival_at=at(3)),
        visit(arrival_at=at(4)),
    )

    assert result.lwbs_rate == Rate(1, 4, 0.25)


def test_no_show_rate_is_over_no_shows_and_arrivals_of_booked_visits() -> None:
    booked = {"walk_in": 0, "scheduled_start": at(60)}
    result = metrics_of(
        visit(**booked, status="no_show", no_show_at=at(80)),
        visit(**booked, arrival_at=at(55)),
        visit(**booked, arrival_at=at(58)),
        visit(**booked, status="scheduled"),  # not yet either: not in the denominator
        visit(arrival_at=at(70)),  # a walk-in is not booked
    )

    assert result.no_show_rate == Rate(1, 3, 0.3333)


def test_late_cancellations_are_over_booked_visits_and_count_nowhere_else() -> None:
    booked = {"walk_in": 0, "scheduled_start": at(60)}
    result = metrics_of(
        visit(**booked, status="cancelled", late_cancellation=1),
        visit(**booked, status="cancelled", late_cancellation=0),
        visit(**booked, arrival_at=at(55)),
        visit(**booked, status="scheduled"),
    )

    assert result.late_cancellation_rate == Rate(1, 4, 0.25)
    assert result.no_show_rate == Rate(0, 1, 0.0)
    assert result.arrivals == 1


def test_hours_are_local_and_the_repeated_autumn_hour_is_two_buckets() -> None:
    # 25 October 2026: London falls back from 02:00 BST to 01:00 GMT.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)  # 01:30 BST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc)  # 01:30 GMT
    start = datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc)
    visits = [visit(arrival_at=first), visit(arrival_at=second), visit(arrival_at=second)]

    result = compute_metrics(visits, start, start + timedelta(hours=6), LONDON)

    assert [(h.hour.isoformat(), h.arrivals) for h in result.per_hour] == [
        ("2026-10-25T01:00:00+01:00", 1),
        ("2026-10-25T01:00:00+00:00", 2),
    ]
    assert hour_start(us(first) or 0, LONDON) == us(first - timedelta(minutes=30))


def test_a_metrics_answer_is_camel_case_with_from_and_to() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(metrics_of()))

    assert {"from", "to", "timeZone", "doorToTriage", "lwbsRate", "perHour"} <= set(encoded)
    assert encoded["timeZone"] == "Europe/London"
    assert encoded["lengthOfStay"] == {"all": {"n": 0, "median": None, "p90": None},
                                       "byDisposition": {}}  # fmt: skip
