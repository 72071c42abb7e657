"""BudgetLine corrections, given-when-then: a posting entered by mistake is reversed by a
compensating event naming the event it corrects (domain-spec §0), which also releases a
requisition no longer wanted; and a release of a commitment named by a release reference is
idempotent. The read model folds both as the aggregate does."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.memory import MEMORY_ENV
from application.service import PatientServices
from domain.budget.line import BudgetLine
from domain.shared.errors import (
    AlreadyCancelledError,
    DomainValidationError,
    InvalidTransitionError,
)
from projections.budget.budget_vs_actual import LineState, fold
from projections.shared.records import StoredRecord
from tests.support.budget import RULES, BudgetStory, at, gbp, spent_line
from tests.support.gwt import Expect, then, then_refused, when

INVALID, VALIDATION = "INVALID_TRANSITION", "VALIDATION"
Reversed = BudgetLine.PostingReversed


def recorded(story: BudgetStory, event_class: type, reference: str) -> Any:
    return next(
        e for e in story.events if type(e) is event_class and e.reference == reference
    )  # fmt: skip


def reverse(line: BudgetLine, stage: str, reference: str, *, role: str = "finance",
            **kwargs: Any) -> Any:  # fmt: skip
    return when(
        line, "reverse_posting", at=at(1), role=role, stage=stage, reference=reference,
        reason=kwargs.pop("reason", "keyed twice"), **kwargs,
    )  # fmt: skip


# ---- reversal ------------------------------------------------------------------------------
def test_a_mistaken_actual_is_reversed_in_full_naming_the_event_that_recorded_it() -> None:
    story = spent_line()  # INV-1: 1,600 actual; available 9,500
    line = story.given()
    outcome = reverse(line, "actual", "INV-1")
    then(
        outcome,
        Expect(
            Reversed, stage="actual", reference="INV-1", amount_minor=160_000, currency="GBP",
            corrects_event_id=recorded(story, BudgetLine.ActualRecorded, "INV-1").event_id,
            reason="keyed twice", year_end_adjustment=False,
        ),
    )  # fmt: skip
    assert (line.actual_minor, line.available_minor) == (0, 1_110_000)


def test_a_commitment_is_reversed_for_what_is_still_open_of_it() -> None:
    line = spent_line().given()  # PO-1: 2,000, of which 400 still open
    then(reverse(line, "commitment", "PO-1"), Expect(Reversed, amount_minor=40_000))
    assert (line.committed_minor, line.actual_minor) == (0, 160_000)


def test_a_requisition_no_longer_wanted_is_released_even_on_a_frozen_line() -> None:
    story = spent_line().do("freeze")  # REQ-1: 500 open
    line = story.given()
    event_id = recorded(story, BudgetLine.PreEncumbranceRecorded, "REQ-1").event_id
    outcome = reverse(line, "pre_encumbrance", "REQ-1", corrects_event_id=event_id)
    then(outcome, Expect(Reversed, amount_minor=50_000, corrects_event_id=event_id))
    assert line.pre_encumbered_minor == 0


def test_finance_reverses_on_a_closed_line_as_a_year_end_adjustment_and_no_one_else() -> None:
    line = spent_line().do("close").given()
    then_refused(
        line, "reverse_posting", InvalidTransitionError, INVALID, at=at(1), role="manager",
        stage="actual", reference="INV-1", reason="keyed twice",
    )  # fmt: skip
    then(reverse(line, "actual", "INV-1"), Expect(Reversed, year_end_adjustment=True))


@pytest.mark.parametrize(
    ("stage", "reference", "error", "code", "field"),
    [
        ("actual", "INV-9", InvalidTransitionError, INVALID, "reference"),
        ("commitment", "INV-1", InvalidTransitionError, INVALID, "reference"),
        ("pre_encumbrance", "REQ-2", InvalidTransitionError, INVALID, "reference"),  # relieved
        ("invoice", "INV-1", DomainValidationError, VALIDATION, "stage"),
    ],
)
def test_a_posting_unknown_at_that_stage_or_with_nothing_open_is_not_reversed(
    stage: str, reference: str, error: type, code: str, field: str
) -> None:
    refusal = then_refused(
        spent_line().given(), "reverse_posting", error, code, at=at(1), role="finance",
        stage=stage, reference=reference, reason="keyed twice",
    )  # fmt: skip
    assert refusal.field == field


def test_a_posting_already_reversed_is_already_cancelled() -> None:
    line = spent_line().do("reverse_posting", stage="actual", reference="INV-1",
                           reason="keyed twice").given()  # fmt: skip
    then_refused(
        line, "reverse_posting", AlreadyCancelledError, "ALREADY_CANCELLED", at=at(1),
        role="finance", stage="actual", reference="INV-1", reason="again",
    )  # fmt: skip


def test_a_reversal_without_a_reason_or_naming_another_event_is_refused() -> None:
    story = spent_line()
    other = recorded(story, BudgetLine.ActualRecorded, "INV-1").event_id
    line = story.given()
    for kwargs, field in (({"reason": " "}, "reason"), ({"corrects_event_id": other}, None)):
        refusal = then_refused(
            line, "reverse_posting", DomainValidationError, VALIDATION, at=at(1),
            role="finance", stage="commitment", reference="PO-1",
            **{"reason": "keyed twice", **kwargs},
        )  # fmt: skip
        assert refusal.field == (field or "correctsEventId")


# ---- releases named by a release reference -------------------------------------------------
def committed() -> BudgetLine:
    return spent_line().do("record_commitment", reference="PO-2", amount=gbp("1000")).given()


def test_a_release_repeated_with_its_release_reference_records_nothing() -> None:
    line = committed()
    first = when(line, "release_commitment", at=at(1), role="finance", reference="PO-2",
                 amount=gbp("300"), release_reference="REL-1")  # fmt: skip
    then(first, Expect(BudgetLine.CommitmentReleased, amount_minor=30_000,
                       release_reference="REL-1"))  # fmt: skip
    for amount in (gbp("300"), None):  # the same release, or "the rest" it released
        again = when(line, "release_commitment", at=at(2), role="finance", reference="PO-2",
                     amount=amount, release_reference="REL-1")  # fmt: skip
        then(again)
    assert line.postings["commitment"]["PO-2"]["open"] == 70_000


@pytest.mark.parametrize(("reference", "amount"), [("PO-2", "200"), ("PO-1", "300")])
def test_a_release_reference_used_for_another_commitment_or_amount_is_refused(
    reference: str, amount: str
) -> None:
    line = committed()
    when(line, "release_commitment", at=at(1), role="finance", reference="PO-2",
         amount=gbp("300"), release_reference="REL-1")  # fmt: skip
    refusal = then_refused(
        line, "release_commitment", InvalidTransitionError, INVALID, at=at(2), role="finance",
        reference=reference, amount=gbp(amount), release_reference="REL-1",
    )  # fmt: skip
    assert refusal.field == "releaseReference"


def test_without_a_release_reference_each_release_releases_again() -> None:
    line = committed()
    for day in (1, 2):
        then(
            when(line, "release_commitment", at=at(day), role="finance", reference="PO-2",
                 amount=gbp("300")),
            Expect(BudgetLine.CommitmentReleased, release_reference=None),
        )  # fmt: skip
    assert line.postings["commitment"]["PO-2"]["open"] == 40_000


def test_a_release_stored_before_release_references_reads_as_unnamed() -> None:
    """Version 1 of CommitmentReleased had no ``release_reference``."""
    story = spent_line().do("release_commitment", reference="PO-1")
    mapper = PatientServices(env=dict(MEMORY_ENV)).mapper
    stored = mapper.to_stored_event(story.events[-1])
    state = msgspec.json.decode(stored.state)
    assert (state.pop("class_version"), state.pop("release_reference")) == (2, None)
    version_1 = StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=msgspec.json.encode(state),
    )  # fmt: skip
    line: Any = None
    for event in [*story.events[:-1], mapper.to_domain_event(version_1)]:
        line = event.mutate(line)
    assert line == story.given() and line.releases == {}


# ---- the read model -----------------------------------------------------------------------
def folded(story: BudgetStory) -> LineState:
    mapper = PatientServices(env=dict(MEMORY_ENV)).mapper
    state = None
    for position, event in enumerate(story.events, start=1):
        stored = mapper.to_stored_event(event)
        record = StoredRecord(
            position, stored.originator_id, stored.originator_version, stored.topic, stored.state
        )
        state = fold(state, record, RULES)
    assert state is not None
    return state


def test_the_read_model_folds_reversals_to_the_aggregates_totals() -> None:
    story = (
        spent_line()
        .do("reverse_posting", stage="pre_encumbrance", reference="REQ-1", reason="not wanted")
        .do("reverse_posting", stage="commitment", reference="PO-1", reason="cancelled")
        .do("reverse_posting", stage="actual", reference="INV-1", reason="keyed twice")
    )
    line, state = story.given(), folded(story)
    assert (state.pre_minor, state.committed_minor, state.actual_minor) == (
        line.pre_encumbered_minor, line.committed_minor, line.actual_minor,
    ) == (0, 0, 0)  # fmt: skip
    for stage in range(1, 4):  # each period's net movements add up to the totals
        assert sum(period[stage] for period in state.periods) == 0
