"""The flow read model's rows are named: each table's columns are its row type's fields, and
each query reads columns of the tables it selects from, into a row type of its own, so no
column list is kept in step with another by hand."""

from __future__ import annotations

import re

from adapters.readmodels.visits.tables import ddl
from projections.shared.records import to_micros
from projections.visits import flow
from projections.visits import flow_views as views
from projections.visits.flow_metrics import METRIC_COLUMNS
from projections.visits.flow_rows import BoardRow, CensusRow
from tests.support.gwt import at, story_to
from tests.support.records import records_of


def created_columns(table: str) -> list[str]:
    """The columns ``CREATE TABLE`` gives ``table``, in order."""
    [statement] = [s for s in ddl("p_") if s.startswith(f"CREATE TABLE IF NOT EXISTS p_{table} ")]
    columns = re.search(r"\((.*), PRIMARY KEY \(", statement)
    assert columns is not None
    return [part.split()[0] for part in columns.group(1).split(", ")]


def test_each_table_has_the_columns_of_its_row_type_in_order() -> None:
    assert created_columns("visits") == list(flow.VisitRow._fields)
    assert created_columns("locations") == list(flow.LocationRow._fields)
    assert created_columns("timeline") == list(flow.TimelineRow._fields)
    assert flow.VISIT_COLUMNS == flow.VisitRow._fields


def test_each_query_reads_columns_its_tables_have_into_a_row_named_by_them() -> None:
    assert views.BOARD_COLUMNS == BoardRow._fields
    assert set(views.BOARD_COLUMNS) <= set(flow.VISIT_COLUMNS)
    assert set(METRIC_COLUMNS) <= set(flow.VISIT_COLUMNS)
    assert views.TIMELINE_ENTRY_COLUMNS == flow.TimelineRow._fields
    census = [column.split(".") for column in views.CENSUS_COLUMNS]
    assert tuple(name for _, name in census) == CensusRow._fields
    for alias, name in census:
        assert name in (flow.LOCATION_COLUMNS if alias == "l" else flow.VISIT_COLUMNS)


def test_rows_are_tuples_of_the_values_in_column_order() -> None:
    state = flow.VisitState("v-1")
    state.status, state.patient_ref = "arrived", "pt-1"
    state.periods.append(("ED", None, 5, None))
    row = flow.visit_values(state)
    assert isinstance(row, tuple) and len(row) == len(flow.VISIT_COLUMNS)
    assert row[flow.VISIT_COLUMNS.index("current_unit")] == row.current_unit == "ED"
    assert flow.location_values(state) == [("v-1", 1, "ED", None, 5, None)]


def test_the_visit_row_holds_each_value_under_its_own_column() -> None:
    """visit_values builds its row positionally (for speed): every column is checked here by
    name, each state field holding a value no other field holds."""
    state = flow.VisitState("v-1")
    copied = [name for name in flow.VISIT_COLUMNS if name in flow.VisitState.__slots__]
    for n, name in enumerate(copied):
        setattr(state, name, f"{name}-value" if name in ("id",) else 1000 + n)
    state.walk_in, state.late_cancellation = True, False
    state.discharged_at, state.left_at = 60, 50
    state.scheduled_start, state.arrival_at = 10, 20
    state.periods[:] = [("ED", None, 20, 30), ("W1", "B1", 30, None)]
    row = flow.visit_values(state)._asdict()

    derived = {
        "walk_in": 1, "late_cancellation": 0, "current_unit": "W1", "current_bed": "B1",
        "ed_departure_at": 30, "departure_at": 60, "span_start": 10, "span_end": 60,
    }  # fmt: skip
    for name in flow.VISIT_COLUMNS:
        expected = derived[name] if name in derived else getattr(state, name)
        assert row[name] == expected, name


def test_the_timeline_row_holds_each_value_under_its_own_column() -> None:
    story = story_to("admitted").do(
        "cancel_admission", at=at(60), role="clinician", reason="wrong patient"
    )
    records = records_of(story.events, first_position=70)
    state = None
    for record in records:
        state, row = flow.fold(state, record)
    event = story.events[-1]
    assert row._asdict() == {
        "visit_id": str(event.originator_id), "version": record.originator_version,
        "position": record.position, "event_id": str(event.event_id),
        "event_type": "AdmissionCancelled", "occurred_at": to_micros(event.occurred_at),
        "recorded_at": to_micros(event.timestamp), "actor_id": event.actor_id,
        "actor_role": "clinician", "on_behalf_of": None, "reason": "wrong patient",
        "source_system": None, "source_message_id": None,
        "corrects_event_id": str(event.corrects_event_id), "restored_status": event.restored_status,
        "details": "{}", "corrected_by": None,
    }  # fmt: skip
    assert event.restored_status == "with_clinician"
