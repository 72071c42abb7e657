"""The complaints view folded from a story's events, and the check that it agrees with the
aggregate (for the fields it keeps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.complaints.case import ComplaintCase
from projections.complaints import worklist as view
from projections.complaints.worklist import CaseState
from projections.shared.records import to_micros
from tests.support.records import records_of


def fold_all(events: Sequence[Any]) -> CaseState:
    state = None
    for record in records_of(events):
        state = view.fold(state, record)
    assert state is not None
    return state


def assert_agrees(state: CaseState, case: ComplaintCase) -> None:
    """The view holds what the aggregate holds (for the fields it keeps)."""
    assert (state.id, state.version, state.status) == (str(case.id), case.version, case.status)
    assert (state.kind, state.primary_category, state.risk_grade) == (
        case.kind, case.primary_category, case.risk_grade,
    )  # fmt: skip
    assert (state.investigator_ref, state.upheld, state.categories) == (
        case.investigator_ref, case.upheld, case.categories,
    )  # fmt: skip
    assert state.received_at == to_micros(case.received_at)
    assert state.acknowledged_at == to_micros(case.acknowledged_at)
    assert state.responded_at == to_micros(case.responded_at)
    assert state.response_due_at == to_micros(case.response_due_at)
    assert state.breaches == len(case.breaches)
    running = {d["deadline"]: to_micros(d["due_at"]) for d in case.running_deadlines}
    assert state.next_due_at == min(running.values(), default=None)
    late = [d for d in case.deadlines if d["ended_at"] is not None and d["ended_at"] > d["due_at"]]
    assert state.missed == len(late)
    # What the deadline watcher asks: per (kind, due instant), as the case flags them.
    flagged = {(b["deadline"], b["due_at"]) for b in case.breaches}
    unflagged_late = {(d["deadline"], d["due_at"]) for d in late} - flagged
    assert state.unflagged_missed == len(unflagged_late)
    unflagged_running = [
        to_micros(d["due_at"])
        for d in case.running_deadlines
        if (d["deadline"], d["due_at"]) not in flagged
    ]
    assert state.next_unflagged_due_at == min(unflagged_running, default=None)
