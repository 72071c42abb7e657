"""The complaints and budget folds meet an event class they do not know (one added to the
aggregate after the view was written): each skips the record with one warning and goes on
folding; a class the view lists as ignored is skipped without one.

Issue 11, item 5: an event class a projection does not handle is skipped with a warning,
never a worker wedged. (The flow board folds such a record timeline-only instead: see
test_flow_unknown_events.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from projections.budget import budget_vs_actual
from projections.complaints import worklist
from projections.shared.records import StoredRecord
from tests.support.budget import RULES, spent_line
from tests.support.complaints import story_to
from tests.support.records import records_of


class SkippingView(NamedTuple):
    """One view that skips what it does not know, and a story to fold through it."""

    fold: Callable[[Any, StoredRecord], Any]
    handled: frozenset[str]
    ignored: frozenset[str]
    records: Callable[[], list[StoredRecord]]
    #: A name new to the aggregate, a name the view ignores, its warning's event.
    new_class: str
    ignored_class: str
    warning: str
    #: The stored state of the unknown record: not even an event's (no ``occurred_at``).
    unknown_state: bytes


VIEWS = {
    "complaints": SkippingView(
        worklist.fold, worklist.HANDLED, worklist.IGNORED,
        lambda: records_of(story_to("response_sent").events),
        "ComplaintEscalated", "ExternallyReferred", "worklist.unknown_event",
        b'{"escalated_to": "the board"}',
    ),
    "budget": SkippingView(
        lambda state, record: budget_vs_actual.fold(state, record, RULES),
        budget_vs_actual.HANDLED, budget_vs_actual.IGNORED,
        lambda: records_of(spent_line().events),
        "BudgetRephased", "AmendmentRequested", "budget.unknown_event",
        b'{"amount_minor": 999999}',
    ),
}  # fmt: skip


def fold_records(view: SkippingView, records: list[StoredRecord]) -> Any:
    state = None
    for record in records:
        state = view.fold(state, record)
    assert state is not None
    return state


def with_unknown_after(
    view: SkippingView, records: list[StoredRecord], index: int, name: str
) -> list[StoredRecord]:
    """``records`` with a record of the class ``name`` after ``records[index]``: the later
    records move one version and one position on, as if it had been stored there."""
    before = records[index]
    unknown = StoredRecord(
        before.position + 1,
        before.originator_id,
        before.originator_version + 1,
        f"{before.topic.rsplit('.', 1)[0]}.{name}",
        view.unknown_state,
    )
    later = [
        dataclasses.replace(r, position=r.position + 1, originator_version=r.originator_version + 1)
        for r in records[index + 1 :]
    ]
    return [*records[: index + 1], unknown, *later]


def without_place(state: Any) -> Any:
    return dataclasses.replace(state, version=0, position=0)


@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS.keys())
def test_an_unknown_event_class_is_skipped_with_one_warning_and_the_fold_goes_on(
    view: SkippingView,
) -> None:
    name = f"{view.new_class}{uuid4().hex[:8]}"  # new to this process: warned once here
    assert name not in view.handled | view.ignored
    records = view.records()
    with_unknown = with_unknown_after(view, with_unknown_after(view, records, 1, name), 3, name)

    with capture_logs() as logs:
        state = fold_records(view, with_unknown)

    # Every later event was still folded: the state is what it would be without them...
    assert without_place(state) == without_place(fold_records(view, records))
    # ...and its version and position count the skipped records too.
    assert (state.version, state.position) == (
        with_unknown[-1].originator_version, with_unknown[-1].position,
    )  # fmt: skip
    warnings = [entry for entry in logs if entry["event"] == view.warning]
    assert warnings == [
        {
            "event": view.warning,
            "log_level": "warning",
            "topic": with_unknown[2].topic,
            "position": with_unknown[2].position,
        }
    ]


@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS.keys())
def test_an_ignored_event_class_moves_only_the_version_on_without_a_warning(
    view: SkippingView,
) -> None:
    records = view.records()
    ignored = with_unknown_after(view, records, len(records) - 1, view.ignored_class)

    with capture_logs() as logs:
        state = fold_records(view, ignored)

    assert view.ignored_class in view.ignored
    assert without_place(state) == without_place(fold_records(view, records))
    assert state.version == records[-1].originator_version + 1
    assert [entry for entry in logs if entry["log_level"] == "warning"] == []


def test_the_budget_figures_after_a_skipped_record_are_the_spent_lines() -> None:
    view = VIEWS["budget"]
    records = with_unknown_after(view, view.records(), 1, f"BudgetRephased{uuid4().hex[:8]}")
    assert fold_records(view, records).actual_minor == 160_000
