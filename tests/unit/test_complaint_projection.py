"""The complaints fold, its rows and views (no I/O).

Events come from real commands (the canonical complaint stories) and are stored with the
library's own mapper, so the fold reads exactly what a worker reads from the events table.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from domain.complaints.case import ComplaintCase
from domain.complaints.vocabulary import NHS_ENGLAND_2009, STATES, US_CMS
from projections.complaints import worklist as view
from projections.complaints.worklist import CaseState
from projections.shared.records import StoredRecord, to_micros
from tests.support.complaint_view import assert_agrees, fold_all
from tests.support.complaints import (
    CHECKLISTS,
    RECEIVED_AT,
    RULES,
    CaseStory,
    register_kwargs,
    story_to,
)
from tests.support.records import MAPPER, records_of

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
ACK_DUE = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)  # the end of Thursday 5 March (GMT)
CMS_DUE = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("policy", [NHS_ENGLAND_2009, US_CMS])
@pytest.mark.parametrize("status", STATES)
def test_the_fold_agrees_with_the_aggregate_in_every_state(status: str, policy: str) -> None:
    story = story_to(status, policy=policy, grade=(2, 3))
    assert story.case is not None
    assert_agrees(fold_all(story.events), story.case)


def test_the_fold_follows_late_deadlines_extensions_interims_breaches_and_reopening() -> None:
    story = story_to("received", policy=US_CMS)
    story.do("flag_sla_breach", role="system", at=CMS_DUE + timedelta(hours=1),
             deadline="response", due_at=CMS_DUE)  # fmt: skip
    story.do("acknowledge", method="letter", at=CMS_DUE + timedelta(hours=2))
    promised = CMS_DUE + timedelta(days=20)
    story.do("send_interim_response", at=CMS_DUE + timedelta(hours=3), promised_by=promised,
             rules=RULES)  # fmt: skip
    story.do("extend_response_deadline", at=CMS_DUE + timedelta(hours=4),
             new_due_at=promised + timedelta(days=5), complainant_agreed_at=CMS_DUE)  # fmt: skip
    assert story.case is not None
    state = fold_all(story.events)
    assert_agrees(state, story.case)
    assert (state.response_missed, state.missed, state.breaches) == (True, 1, 1)
    assert state.response_due_at == to_micros(promised + timedelta(days=5))


def test_a_flag_disproved_by_a_back_dated_entry_does_not_hide_another_deadlines_breach() -> None:
    story = story_to("received")
    story.do("flag_sla_breach", role="system", at=ACK_DUE + timedelta(hours=12),
             deadline="acknowledgement", due_at=ACK_DUE)  # fmt: skip
    # Acknowledged on Thursday, entered on Friday after the watcher flagged it.
    story.do("acknowledge", method="letter", at=ACK_DUE - timedelta(hours=12))
    assert story.case is not None
    state = fold_all(story.events)
    assert_agrees(state, story.case)
    response_due = datetime(2026, 9, 2, 23, tzinfo=UTC)
    assert (state.breaches, state.unflagged_missed) == (1, 0)
    assert state.next_unflagged_due_at == to_micros(response_due)
    # The response deadline then passes: the case is a candidate though it has one flag.
    assert story.case.breached_deadlines(response_due + timedelta(days=1)) == [
        {"deadline": "response", "due_at": response_due}
    ]


def test_a_deadline_that_ended_late_is_a_candidate_until_its_breach_is_flagged() -> None:
    story = story_to("received").do("acknowledge", method="phone", at=ACK_DUE + timedelta(hours=1))
    assert story.case is not None
    state = fold_all(story.events)
    assert (state.unflagged_missed, state.missed) == (1, 1)
    story.do("flag_sla_breach", role="system", at=ACK_DUE + timedelta(hours=2),
             deadline="acknowledgement", due_at=ACK_DUE)  # fmt: skip
    state = fold_all(story.events)
    assert_agrees(state, story.case)
    assert (state.unflagged_missed, state.missed, state.breaches) == (0, 1, 1)


def test_a_reopened_case_runs_the_new_response_deadline_in_the_view() -> None:
    story = story_to("closed")
    reopened_at = datetime(2026, 10, 5, 9, tzinfo=UTC)
    story.do("reopen", at=reopened_at, reason="new evidence", rules=RULES)
    assert story.case is not None
    state = fold_all(story.events)
    assert_agrees(state, story.case)
    new_due = to_micros(datetime(2027, 4, 5, 23, tzinfo=UTC))
    assert (state.status, state.response_due_at, state.response_ended_at) == (
        "under_investigation", new_due, None,
    )  # fmt: skip
    assert state.next_due_at == state.next_unflagged_due_at == new_due


def _as_version_1(record: StoredRecord, *fields: str) -> StoredRecord:
    """The record as it was stored before ``fields`` (and the class version) were kept."""
    stored_state = msgspec.json.decode(record.state)
    for name in (*fields, "class_version"):
        del stored_state[name]
    return dataclasses.replace(record, state=msgspec.json.encode(stored_state))


def test_approvals_and_reopenings_stored_before_their_new_fields_still_load_and_fold() -> None:
    story = story_to("closed").do("reopen", reason="new evidence", rules=RULES)
    records = records_of(story.events)
    old = [
        _as_version_1(r, "document_ref") if r.topic.endswith(".ResponseApproved")
        else _as_version_1(r, "response_due_at") if r.topic.endswith(".ComplaintReopened")
        else r
        for r in records
    ]  # fmt: skip
    assert old != records
    events = [
        MAPPER.to_domain_event(dataclasses.replace(MAPPER.to_stored_event(e), state=r.state))
        for e, r in zip(story.events, old, strict=True)
    ]
    case = None
    for event in events:
        case = event.mutate(case)
    assert isinstance(case, ComplaintCase)
    [approved] = [e for e in events if isinstance(e, ComplaintCase.ResponseApproved)]
    [reopened] = [e for e in events if isinstance(e, ComplaintCase.ComplaintReopened)]
    assert (approved.document_ref, reopened.response_due_at) == (None, None)
    assert case.status == "under_investigation"
    assert case.running_deadlines == []  # an old reopening ran no deadline
    state = None
    for record in old:
        state = view.fold(state, record)
    assert state is not None
    assert_agrees(state, case)
    assert state.next_due_at is None


def test_a_row_holds_no_free_text_and_reads_back_equal() -> None:
    secret = "SECRET-narrative"
    story = CaseStory().do("register", role="clerk", **register_kwargs(summary=secret))
    story.do("acknowledge", method="letter").do("start_investigation")
    story.do("record_findings", steps_taken=secret, conclusions=secret, upheld="yes",
             actions=secret)  # fmt: skip
    story.do("draft_response", document_ref="doc-1", actor_id="a")
    story.do("approve_response", actor_id="b", role="executive")
    story.do("send_final_response", channel="letter", rules=RULES,
             checklist={**CHECKLISTS[NHS_ENGLAND_2009], "conclusions": secret})  # fmt: skip
    story.do("close", resolution=secret)
    state = fold_all(story.events)
    row = state.row()
    assert secret not in repr(row)
    assert "pt-0001" not in repr(row) and "cmp-0001" not in repr(row)
    assert CaseState.from_row(row) == state
    item = view.worklist_item(state, RECEIVED_AT, LONDON)
    assert secret.encode() not in msgspec.json.encode(item)


# ---- the worklist -------------------------------------------------------------------------------
def test_the_worklist_shows_the_next_deadline_days_to_it_and_rag() -> None:
    state = fold_all(story_to("received").events)  # received Monday 2 March 10:00
    item = view.worklist_item(state, RECEIVED_AT + timedelta(hours=1), LONDON)
    assert (item.next_deadline, item.next_due_at, item.days_to_due) == (
        "acknowledgement", ACK_DUE, 3,
    )  # fmt: skip
    assert (item.overdue, item.rag) == (False, "green")
    thursday = view.worklist_item(state, datetime(2026, 3, 5, 9, tzinfo=UTC), LONDON)
    assert (thursday.days_to_due, thursday.rag) == (0, "amber")
    friday = view.worklist_item(state, ACK_DUE + timedelta(seconds=1), LONDON)
    assert (friday.days_to_due, friday.overdue, friday.rag) == (-1, True, "red")
    acknowledged = fold_all(story_to("acknowledged").events)
    after = view.worklist_item(acknowledged, RECEIVED_AT + timedelta(days=1), LONDON)
    assert (after.next_deadline, after.next_due_at) == (
        "response", datetime(2026, 9, 2, 23, tzinfo=UTC),
    )  # fmt: skip
    sent = view.worklist_item(fold_all(story_to("response_sent").events), ACK_DUE, LONDON)
    assert (sent.next_deadline, sent.days_to_due, sent.rag) == (None, None, "green")


@pytest.mark.parametrize(
    ("hours_left", "expected"),
    [(-0.001, "red"), (0, "amber"), (24, "amber"), (25, "green")],
)
def test_rag_turns_amber_in_the_last_quarter_or_last_day(hours_left: float, expected: str) -> None:
    received, due = 0, 72 * 3_600_000_000  # a 3-day deadline: a quarter is 18 hours
    now = due - int(hours_left * 3_600_000_000)
    assert view.rag(received, due, now) == expected
    long_due = 100 * 86_400_000_000  # 100 days: amber in the last 25
    assert view.rag(0, long_due, long_due - 24 * 86_400_000_000) == "amber"
    assert view.rag(0, long_due, long_due - 26 * 86_400_000_000) == "green"


# ---- SLA compliance by month ---------------------------------------------------------------------
def case_received(at: datetime, policy: str = NHS_ENGLAND_2009) -> CaseStory:
    return CaseStory().do("register", role="clerk", at=at, **register_kwargs(policy))


def test_sla_counts_deadlines_met_missed_running_and_not_applicable_by_local_month() -> None:
    on_time = story_to("response_sent")  # March: acknowledged and answered in time
    late = case_received(RECEIVED_AT).do(
        "acknowledge", method="phone", at=ACK_DUE + timedelta(hours=1)
    )
    running = case_received(RECEIVED_AT)  # not acknowledged, not due yet at "now" below
    withdrawn = case_received(RECEIVED_AT).do(
        "withdraw", reason="settled", at=RECEIVED_AT + timedelta(hours=1)
    )
    # 23:30 UTC on 31 March is 00:30 BST on 1 April: an April case.
    april = case_received(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), US_CMS)
    states = [fold_all(s.events) for s in (on_time, late, running, withdrawn, april)]
    now = RECEIVED_AT + timedelta(hours=30)  # before the acknowledgement deadline
    months = view.sla_by_month(
        states, datetime(2026, 3, 1, tzinfo=LONDON), datetime(2026, 5, 1, tzinfo=LONDON), now,
        LONDON,
    )  # fmt: skip
    march, april_month = months
    assert (march.month, march.received, april_month.month, april_month.received) == (
        "2026-03", 4, "2026-04", 1,
    )  # fmt: skip
    assert march.acknowledged == view.Compliance(
        on_time=1, late=1, pending=1, not_applicable=1, percent_on_time=50.0
    )
    assert march.responded == view.Compliance(
        on_time=1, late=0, pending=2, not_applicable=1, percent_on_time=100.0
    )
    assert april_month.acknowledged.not_applicable == 1  # CMS has no acknowledgement deadline
    assert april_month.responded.pending == 1
    march_only = (datetime(2026, 3, 1, tzinfo=LONDON), datetime(2026, 4, 1, tzinfo=LONDON))
    later = view.sla_by_month(states, *march_only, ACK_DUE + timedelta(days=1), LONDON)
    assert later[0].acknowledged.late == 2  # the running one has now passed
    assert later[0].acknowledged.percent_on_time == pytest.approx(33.3)


def test_an_empty_month_has_no_percentage() -> None:
    (month,) = view.sla_by_month(
        [], datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), RECEIVED_AT, LONDON
    )
    assert (month.month, month.received, month.responded.percent_on_time) == ("2026-02", 0, None)


# ---- themes --------------------------------------------------------------------------------------
def test_themes_count_each_category_per_unit_and_month_with_grades_and_upheld() -> None:
    upheld = story_to("closed", grade=(5, 4))  # communication + waiting, ED, partly upheld
    other = case_received(RECEIVED_AT + timedelta(days=1))
    other.do("classify", kind="complaint", primary_category="billing")
    states = [fold_all(upheld.events), fold_all(other.events)]
    themes = {(t.category, t.unit, t.month): t for t in view.themes_of(states, LONDON)}
    assert set(themes) == {
        ("billing", "ED", "2026-03"), ("communication", "ED", "2026-03"),
        ("waiting", "ED", "2026-03"),
    }  # fmt: skip
    communication = themes[("communication", "ED", "2026-03")]
    assert communication.cases == 2
    assert communication.grades == {"low": 0, "moderate": 0, "high": 0, "extreme": 1, "ungraded": 1}
    assert communication.upheld == {"yes": 0, "partly": 1, "no": 0, "undecided": 1}
    assert communication.percent_upheld == 100.0
    assert themes[("billing", "ED", "2026-03")].percent_upheld is None
