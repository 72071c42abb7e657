"""ComplaintCase deadlines (domain-spec §2): computed from the policy when the command runs
and frozen in the event; extensions only before the due date with the complainant's
agreement; interim responses; and the SLA breaches the deadline watcher flags, once each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.complaints.case import ComplaintCase
from domain.complaints.deadlines import last_day_allowed
from domain.complaints.policy import US_CMS_POLICY, ComplaintRules
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    NHS_ENGLAND_2009,
    RECEIVED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    US_CMS,
)
from domain.shared.errors import (
    DomainValidationError,
    ExtensionTooLateError,
    InvalidTransitionError,
    TimestampOrderError,
)
from domain.shared.working_days import HolidayCalendar, Period
from tests.support.complaints import (
    RECEIVED_AT,
    RULES,
    hours,
    path_to,
    register_kwargs,
    story_to,
)
from tests.support.gwt import Expect, given, then, then_refused, when

UTC = timezone.utc
C = ComplaintCase
#: Received Monday 2 March 2026 10:00 GMT: acknowledge by the end of Thursday 5 March;
#: respond (NHS) by the end of 2 September 2026 (BST); (CMS) by the end of 9 March.
NHS_ACK_DUE = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
NHS_RESPONSE_DUE = datetime(2026, 9, 2, 23, 0, tzinfo=UTC)
CMS_RESPONSE_DUE = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def refused(case: Any, command: str, error: type, code: str, *, at: datetime, **kw: Any) -> Any:
    return then_refused(case, command, error, code, at=at, role="manager", **kw)


# ---- due dates at registration -------------------------------------------------------------
def test_an_nhs_complaint_is_due_acknowledged_in_3_working_days_and_answered_in_6_months() -> None:
    outcome = when(C, "register", at=RECEIVED_AT, **register_kwargs(NHS_ENGLAND_2009))
    then(
        outcome,
        Expect(
            C.ComplaintReceived,
            acknowledgement_due_at=NHS_ACK_DUE,
            response_due_at=NHS_RESPONSE_DUE,
        ),
    )
    assert [(d["deadline"], d["due_at"]) for d in outcome.aggregate.running_deadlines] == [
        ("acknowledgement", NHS_ACK_DUE),
        ("response", NHS_RESPONSE_DUE),
    ]


def test_a_us_cms_grievance_has_no_acknowledgement_deadline_and_a_7_day_response() -> None:
    outcome = when(C, "register", at=RECEIVED_AT, **register_kwargs(US_CMS))
    then(
        outcome,
        Expect(C.ComplaintReceived, acknowledgement_due_at=None, response_due_at=CMS_RESPONSE_DUE),
    )


def test_a_later_change_of_calendar_or_policy_never_changes_history() -> None:
    events = path_to(ACKNOWLEDGED, policy=NHS_ENGLAND_2009)
    cms_events = path_to(RECEIVED, policy=US_CMS)
    changed = ComplaintRules(
        policies=(replace(US_CMS_POLICY, response=Period(10, "calendar_days")),),
        calendar=HolidayCalendar.of("changed", [date(2026, 3, 3), date(2026, 3, 4)]),
        facility_timezone="America/New_York",
    )
    # Today's rules give other dates to a new complaint...
    fresh = when(C, "register", at=RECEIVED_AT, **register_kwargs(US_CMS, rules=changed))
    assert fresh.aggregate.response_due_at != CMS_RESPONSE_DUE
    nhs = replace(changed, policies=RULES.policies)
    fresh_nhs = when(C, "register", at=RECEIVED_AT, **register_kwargs(rules=nhs))
    assert fresh_nhs.aggregate.acknowledgement_due_at != NHS_ACK_DUE
    # ...but the stored events replay to the dates computed when they were recorded.
    case, cms_case = given(events), given(cms_events)
    assert (case.acknowledgement_due_at, case.response_due_at) == (NHS_ACK_DUE, NHS_RESPONSE_DUE)
    assert cms_case.response_due_at == CMS_RESPONSE_DUE
    assert case.breached_deadlines(NHS_RESPONSE_DUE + SECOND) == [
        {"deadline": "response", "due_at": NHS_RESPONSE_DUE}
    ]


# ---- extensions ---------------------------------------------------------------------------------
def test_the_response_deadline_is_extended_before_it_passes_with_the_complainants_agreement() -> (
    None
):
    case = given(path_to(UNDER_INVESTIGATION))
    new_due = NHS_RESPONSE_DUE + timedelta(days=30)
    agreed = NHS_RESPONSE_DUE - timedelta(days=2)
    at = NHS_RESPONSE_DUE - timedelta(days=1)
    outcome = when(
        case, "extend_response_deadline", at=at, new_due_at=new_due, complainant_agreed_at=agreed
    )
    then(
        outcome,
        Expect(
            C.ResponseDeadlineExtended, previous_due_at=NHS_RESPONSE_DUE, response_due_at=new_due,
            complainant_agreed_at=agreed,
        ),
    )  # fmt: skip
    assert case.response_due_at == new_due
    assert case.breached_deadlines(new_due - SECOND) == []  # the old due was superseded


@pytest.mark.parametrize(
    ("at", "agreed"),
    [
        (NHS_RESPONSE_DUE, NHS_RESPONSE_DUE - timedelta(days=1)),  # at the due instant
        (NHS_RESPONSE_DUE + timedelta(days=1), NHS_RESPONSE_DUE - timedelta(days=1)),
        (NHS_RESPONSE_DUE + timedelta(days=1), NHS_RESPONSE_DUE + SECOND),  # agreed late too
    ],
)
def test_an_extension_once_the_deadline_has_passed_is_too_late(
    at: datetime, agreed: datetime
) -> None:
    refused(
        given(path_to(UNDER_INVESTIGATION)), "extend_response_deadline", ExtensionTooLateError,
        "EXTENSION_TOO_LATE", at=at, new_due_at=at + timedelta(days=30),
        complainant_agreed_at=agreed,
    )  # fmt: skip


def test_an_extension_agreed_only_after_the_deadline_is_too_late() -> None:
    late_agreement = NHS_RESPONSE_DUE + SECOND
    error = refused(
        given(path_to(UNDER_INVESTIGATION)), "extend_response_deadline", ExtensionTooLateError,
        "EXTENSION_TOO_LATE", at=NHS_RESPONSE_DUE - SECOND,
        new_due_at=NHS_RESPONSE_DUE + timedelta(days=9), complainant_agreed_at=late_agreement,
    )  # fmt: skip
    assert error.field == "complainantAgreedAt"


@pytest.mark.parametrize(
    ("new_due", "agreed", "error", "field"),
    [
        (NHS_RESPONSE_DUE, hours(20), InvalidTransitionError, "newDueAt"),
        (NHS_RESPONSE_DUE - timedelta(days=1), hours(20), InvalidTransitionError, "newDueAt"),
        (
            NHS_RESPONSE_DUE + timedelta(days=9),
            hours(30),
            TimestampOrderError,
            "complainantAgreedAt",
        ),
        (
            NHS_RESPONSE_DUE + timedelta(days=9),
            hours(-1),
            TimestampOrderError,
            "complainantAgreedAt",
        ),
    ],
)
def test_an_extension_must_move_the_date_later_on_an_agreement_already_given(
    new_due: datetime, agreed: datetime, error: type, field: str
) -> None:
    refusal = refused(
        given(path_to(UNDER_INVESTIGATION)), "extend_response_deadline", error, error.code,
        at=hours(24), new_due_at=new_due, complainant_agreed_at=agreed,
    )  # fmt: skip
    assert refusal.field == field


def test_a_deadline_already_met_cannot_be_extended() -> None:
    refused(
        given(path_to(RESPONSE_SENT)), "extend_response_deadline", InvalidTransitionError,
        "INVALID_TRANSITION", at=hours(24), new_due_at=NHS_RESPONSE_DUE + timedelta(days=9),
        complainant_agreed_at=hours(20),
    )  # fmt: skip


def test_a_breach_already_flagged_cannot_be_undone_by_a_back_dated_extension() -> None:
    story = story_to(ACKNOWLEDGED)
    story.do("flag_sla_breach", role="system", at=NHS_RESPONSE_DUE + timedelta(days=14),
             deadline="response", due_at=NHS_RESPONSE_DUE)  # fmt: skip
    case = given(story.events)
    # Entered after the flag, but said to have been agreed and recorded before the due date.
    error = refused(
        case, "extend_response_deadline", ExtensionTooLateError, "EXTENSION_TOO_LATE",
        at=NHS_RESPONSE_DUE - timedelta(days=1), new_due_at=NHS_RESPONSE_DUE + timedelta(days=30),
        complainant_agreed_at=NHS_RESPONSE_DUE - timedelta(days=2),
    )  # fmt: skip
    assert "flagged" in error.message
    assert case.response_due_at == NHS_RESPONSE_DUE


def test_a_reopened_case_runs_a_new_response_deadline_that_may_be_extended_again() -> None:
    case = given(path_to("closed"))
    reopened_at = datetime(2026, 10, 5, 9, tzinfo=UTC)  # Monday 5 October, 10:00 BST
    new_due = datetime(2027, 4, 5, 23, tzinfo=UTC)  # six months on: the end of 5 April (BST)
    then(
        when(case, "reopen", at=reopened_at, reason="new evidence", rules=RULES),
        Expect(C.ComplaintReopened, response_due_at=new_due),
    )
    assert case.running_deadlines == [{"deadline": "response", "due_at": new_due}]
    assert case.breached_deadlines(new_due) == []
    assert case.breached_deadlines(new_due + SECOND) == [
        {"deadline": "response", "due_at": new_due}
    ]
    # An interim response and an agreed extension work again for the new response.
    then(
        when(case, "send_interim_response", at=reopened_at + timedelta(days=1),
             promised_by=new_due - timedelta(days=1), rules=RULES),
        Expect(C.InterimResponseSent, response_due_at=new_due),
    )  # fmt: skip
    then(
        when(case, "extend_response_deadline", at=reopened_at + timedelta(days=2),
             new_due_at=new_due + timedelta(days=30),
             complainant_agreed_at=reopened_at + timedelta(days=2)),
        Expect(C.ResponseDeadlineExtended, previous_due_at=new_due),
    )  # fmt: skip
    assert case.response_due_at == new_due + timedelta(days=30)
    assert case.responded_at is not None  # the first response is still on record


# ---- interim responses ------------------------------------------------------------------------
def test_a_cms_interim_response_makes_the_final_due_by_the_promised_date() -> None:
    case = given(path_to(UNDER_INVESTIGATION, policy=US_CMS))
    promised = datetime(2026, 3, 31, 17, tzinfo=UTC)
    outcome = when(case, "send_interim_response", at=hours(48), promised_by=promised, rules=RULES)
    then(outcome, Expect(C.InterimResponseSent, promised_by=promised, response_due_at=promised))
    assert case.response_due_at == promised
    # The interim answered the 7-day deadline in time: no breach when it passes.
    assert case.breached_deadlines(CMS_RESPONSE_DUE + SECOND) == []


def test_a_cms_interim_response_without_a_date_defaults_to_30_days_after_receipt() -> None:
    case = given(path_to(ACKNOWLEDGED, policy=US_CMS))
    outcome = when(case, "send_interim_response", at=hours(48), promised_by=None, rules=RULES)
    then(
        outcome, Expect(C.InterimResponseSent, response_due_at=datetime(2026, 4, 1, 23, tzinfo=UTC))
    )


def test_an_nhs_interim_response_leaves_the_response_deadline_where_it_was() -> None:
    case = given(path_to(UNDER_INVESTIGATION))
    promised = NHS_RESPONSE_DUE - timedelta(days=10)
    outcome = when(case, "send_interim_response", at=hours(48), promised_by=promised, rules=RULES)
    then(outcome, Expect(C.InterimResponseSent, response_due_at=NHS_RESPONSE_DUE))
    error = refused(
        case, "send_interim_response", InvalidTransitionError, "INVALID_TRANSITION", at=hours(49),
        promised_by=NHS_RESPONSE_DUE + SECOND, rules=RULES,
    )  # fmt: skip
    assert error.field == "promisedBy"


def test_an_interim_response_promising_a_past_date_is_refused() -> None:
    error = refused(
        given(path_to(UNDER_INVESTIGATION, policy=US_CMS)), "send_interim_response",
        DomainValidationError, "VALIDATION", at=hours(48), promised_by=hours(48), rules=RULES,
    )  # fmt: skip
    assert error.field == "promisedBy"


# ---- SLA breaches -------------------------------------------------------------------------------
def test_an_unacknowledged_complaint_breaches_just_after_its_due_instant() -> None:
    case = given(path_to(RECEIVED))
    assert case.breached_deadlines(NHS_ACK_DUE) == []
    assert case.breached_deadlines(NHS_ACK_DUE + SECOND) == [
        {"deadline": "acknowledgement", "due_at": NHS_ACK_DUE}
    ]


def test_a_breach_is_flagged_once_with_no_change_of_status() -> None:
    case = given(path_to(RECEIVED))
    now = NHS_ACK_DUE + timedelta(minutes=5)
    outcome = when(
        case, "flag_sla_breach", at=now, role="system", deadline="acknowledgement",
        due_at=NHS_ACK_DUE,
    )  # fmt: skip
    then(outcome, Expect(C.SlaBreached, deadline="acknowledgement", due_at=NHS_ACK_DUE))
    assert case.status == RECEIVED
    assert case.breaches == [
        {"deadline": "acknowledgement", "due_at": NHS_ACK_DUE, "flagged_at": now}
    ]
    assert case.breached_deadlines(now) == []
    error = then_refused(
        case, "flag_sla_breach", InvalidTransitionError, "INVALID_TRANSITION", at=now,
        role="system", deadline="acknowledgement", due_at=NHS_ACK_DUE,
    )  # fmt: skip
    assert "already flagged" in error.message


@pytest.mark.parametrize(
    ("deadline", "due_at", "error"),
    [
        ("acknowledgement", NHS_ACK_DUE + timedelta(days=1), InvalidTransitionError),  # no such
        ("response", NHS_RESPONSE_DUE, InvalidTransitionError),  # not passed yet
        ("triage", NHS_ACK_DUE, DomainValidationError),
    ],
)
def test_a_flag_for_a_deadline_that_is_not_breached_is_refused(
    deadline: str, due_at: datetime, error: type
) -> None:
    then_refused(
        given(path_to(RECEIVED)), "flag_sla_breach", error, error.code,
        at=NHS_ACK_DUE + timedelta(days=2), role="system", deadline=deadline, due_at=due_at,
    )  # fmt: skip


def test_an_acknowledgement_in_time_breaches_nothing_and_a_late_one_still_breached() -> None:
    on_time = given(path_to(ACKNOWLEDGED))
    assert on_time.breached_deadlines(NHS_RESPONSE_DUE) == []
    late = story_to(RECEIVED).do(
        "acknowledge", method="letter", at=NHS_ACK_DUE + timedelta(hours=9)
    )
    case = given(late.events)
    assert case.breached_deadlines(NHS_ACK_DUE + timedelta(days=3)) == [
        {"deadline": "acknowledgement", "due_at": NHS_ACK_DUE}
    ]


def test_a_late_cms_interim_breaches_the_7_days_and_runs_a_new_deadline() -> None:
    story = story_to(ACKNOWLEDGED, policy=US_CMS)
    promised = CMS_RESPONSE_DUE + timedelta(days=10)
    story.do(
        "send_interim_response",
        at=CMS_RESPONSE_DUE + timedelta(days=1),
        promised_by=promised,
        rules=RULES,
    )
    case = given(story.events)
    assert case.breached_deadlines(promised) == [
        {"deadline": "response", "due_at": CMS_RESPONSE_DUE}
    ]
    assert case.breached_deadlines(promised + SECOND) == [
        {"deadline": "response", "due_at": CMS_RESPONSE_DUE},
        {"deadline": "response", "due_at": promised},
    ]


def test_a_final_response_in_time_and_a_withdrawal_end_their_deadlines() -> None:
    assert (
        given(path_to(RESPONSE_SENT)).breached_deadlines(NHS_RESPONSE_DUE + timedelta(days=1)) == []
    )
    assert (
        given(path_to("withdrawn")).breached_deadlines(NHS_RESPONSE_DUE + timedelta(days=1)) == []
    )


def test_a_flagged_breach_does_not_block_a_late_entry_of_what_happened_before_it() -> None:
    story = story_to(RECEIVED)
    story.do(
        "flag_sla_breach",
        role="system",
        actor_id="watcher",
        at=NHS_ACK_DUE + timedelta(hours=1),
        deadline="acknowledgement",
        due_at=NHS_ACK_DUE,
    )
    case = given(story.events)
    # Acknowledged by phone on Thursday, entered on Friday after the watcher flagged it.
    then(
        when(case, "acknowledge", at=NHS_ACK_DUE - timedelta(hours=3), method="phone"),
        Expect(C.ComplaintAcknowledged),
    )
    assert case.breaches[0]["due_at"] == NHS_ACK_DUE  # the flag stays: a fact, never edited


# ---- the last local day allowed ------------------------------------------------------------
@pytest.mark.parametrize(
    ("due_at", "zone", "day"),
    [
        # The end of 30 December, as the exclusive next midnight: the 30th is the last day.
        (datetime(2025, 12, 31, tzinfo=UTC), "UTC", date(2025, 12, 30)),
        # The end of Thursday 8 May in London (BST): 23:00 UTC.
        (datetime(2025, 5, 8, 23, tzinfo=UTC), "Europe/London", date(2025, 5, 8)),
        # An agreed extension to a time within a day: that day.
        (datetime(2025, 6, 3, 15, 30, tzinfo=UTC), "Europe/London", date(2025, 6, 3)),
        # The end of 2 November in New York (EST): 05:00 UTC on the 3rd.
        (datetime(2025, 11, 3, 5, tzinfo=UTC), "America/New_York", date(2025, 11, 2)),
    ],
)
def test_the_last_day_allowed_is_the_local_day_that_ends_at_the_due_instant(
    due_at: datetime, zone: str, day: date
) -> None:
    assert last_day_allowed(due_at, ZoneInfo(zone)) == day


def test_no_due_instant_has_no_last_day() -> None:
    assert last_day_allowed(None, ZoneInfo("UTC")) is None
