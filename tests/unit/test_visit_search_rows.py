"""The visit search's rows and views, without a database: the fold carries the visit number into
the visit row, the search reads columns the visits table has (by name), the table indexes the
search's keys, and a page's cursor says whether another page follows."""

from __future__ import annotations

from adapters.readmodels.visits.tables import ddl
from projections.shared.records import key_text, to_micros
from projections.visits import flow
from projections.visits.flow_rows import SEARCH_COLUMNS, SearchRow
from projections.visits.visit_search import page_of, visit_summary
from tests.support.gwt import START, Story, at
from tests.support.records import records_of


def folded(story: Story) -> flow.VisitState:
    state = None
    for record in records_of(story.events, first_position=1):
        state, _ = flow.fold(state, record)
    assert state is not None
    return state


def test_the_search_reads_columns_of_the_visits_table_into_a_row_named_by_them() -> None:
    assert SEARCH_COLUMNS == SearchRow._fields
    assert set(SEARCH_COLUMNS) <= set(flow.VISIT_COLUMNS)
    assert {"visit_number", "visit_number_authority"} <= set(flow.VISIT_COLUMNS)


def test_the_visits_table_indexes_the_visit_number_and_the_patient() -> None:
    statements = ddl("p_")
    assert "CREATE INDEX IF NOT EXISTS p_visits_number ON p_visits (visit_number, id)" in statements
    assert "CREATE INDEX IF NOT EXISTS p_visits_patient ON p_visits (patient_ref, id)" in statements


def test_the_fold_carries_the_visit_number_into_the_row() -> None:
    story = Story().do(
        "register_walk_in", at=START, patient_ref="pt-1", visit_class="EMER", service_unit="ED",
        visit_number="V-9", visit_number_authority="HOSP-A",
    )  # fmt: skip
    row = flow.visit_values(folded(story))
    assert (row.visit_number, row.visit_number_authority, row.patient_ref) == (
        "V-9", "HOSP-A", "pt-1",
    )  # fmt: skip
    without = Story().do("schedule", at=at(-60), patient_ref="pt-2", visit_class="AMB",
                         service_unit="OPD", scheduled_start=START)  # fmt: skip
    row = flow.visit_values(folded(without))
    assert (row.visit_number, row.visit_number_authority) == (None, None)


def test_long_identifiers_are_clipped_as_every_indexed_column_is() -> None:
    patient, number = "p" * 400, "n" * 400
    story = Story().do(
        "register_walk_in", at=START, patient_ref=patient, visit_class="EMER",
        service_unit="ED", visit_number=number,
    )  # fmt: skip
    row = flow.visit_values(folded(story))
    assert (row.patient_ref, row.visit_number) == (key_text(patient), key_text(number))
    assert len(row.visit_number) == 217


def test_a_summary_shows_each_column_under_its_own_name() -> None:
    story = Story().do(
        "register_walk_in", at=START, patient_ref="pt-1", visit_class="EMER", service_unit="ED",
        visit_number="V-9",
    ).do("admit", at=at(30), role="clinician", unit="W1", bed="B2")  # fmt: skip
    row = flow.visit_values(folded(story))
    item = visit_summary(tuple(getattr(row, name) for name in SEARCH_COLUMNS))
    assert (item.id, item.version, item.status, item.fhir_status) == (
        row.id, 2, "admitted", "in-progress",
    )  # fmt: skip
    assert (item.visit_number, item.visit_number_authority) == ("V-9", None)
    assert (item.visit_class, item.service_unit) == ("IMP", "ED")
    assert item.current_location is not None
    assert (item.current_location.unit, item.current_location.bed) == ("W1", "B2")
    assert to_micros(item.arrival_at) == to_micros(START)
    assert to_micros(item.admitted_at) == to_micros(at(30))
    assert item.departure_at is None and item.scheduled_start is None


def test_a_page_has_a_cursor_only_when_more_rows_follow() -> None:
    story = Story().do(
        "register_walk_in", at=START, patient_ref="pt-1", visit_class="EMER", service_unit="ED"
    )
    row = flow.visit_values(folded(story))
    values = tuple(getattr(row, name) for name in SEARCH_COLUMNS)
    rows = [(f"id-{n}", *values[1:]) for n in range(3)]
    assert page_of(rows, 2).next_cursor == "id-1"
    assert [item.id for item in page_of(rows, 2).items] == ["id-0", "id-1"]
    assert page_of(rows, 3).next_cursor is None
    assert page_of([], 5).items == [] and page_of([], 5).next_cursor is None
