"""Every ComplaintCase command of domain-spec §2 from every state: accepted from the states
it is allowed in (with its event and resulting status), refused as INVALID_TRANSITION with
no event from all others."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import pytest

from domain.complaints.case import ComplaintCase
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    AWAITING_INFORMATION,
    BEFORE_RESPONSE,
    CLOSED,
    OPEN_STATES,
    RECEIVED,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    STATES,
    UNDER_INVESTIGATION,
    WITHDRAWN,
)
from domain.shared.errors import InvalidTransitionError
from tests.support.complaints import CHECKLISTS, RULES, hours, path_to
from tests.support.gwt import Expect, given, then, then_refused, when

#: After every step of every canonical history.
LATER = hours(24)
UNCHANGED = "unchanged"


class Row(NamedTuple):
    kwargs: dict[str, Any]
    allowed: frozenset[str]
    event: type
    status: str  # the status after the event (UNCHANGED: the status it was in)


C = ComplaintCase
TABLE: dict[str, Row] = {
    "classify": Row({"kind": "complaint"}, OPEN_STATES, C.ComplaintClassified, UNCHANGED),
    "grade_risk": Row({"consequence": 2, "likelihood": 2}, OPEN_STATES, C.RiskGraded, UNCHANGED),
    "assign_investigator": Row(
        {"investigator_ref": "inv-9"}, BEFORE_RESPONSE, C.InvestigatorAssigned, UNCHANGED
    ),
    "refer_externally": Row(
        {"body": "PHSO", "reference": "PHSO-1"}, frozenset(STATES), C.ExternallyReferred, UNCHANGED
    ),
    "acknowledge": Row(
        {"method": "letter"}, frozenset({RECEIVED}), C.ComplaintAcknowledged, ACKNOWLEDGED
    ),
    "start_investigation": Row(
        {}, frozenset({ACKNOWLEDGED}), C.InvestigationStarted, UNDER_INVESTIGATION
    ),
    "request_information": Row(
        {"details": "notes"},
        frozenset({UNDER_INVESTIGATION}),
        C.InformationRequested,
        AWAITING_INFORMATION,
    ),
    "receive_information": Row(
        {}, frozenset({AWAITING_INFORMATION}), C.InformationReceived, UNDER_INVESTIGATION
    ),
    "extend_response_deadline": Row(
        {
            "new_due_at": datetime(2026, 12, 1, tzinfo=timezone.utc),
            "complainant_agreed_at": hours(20),
        },
        BEFORE_RESPONSE,
        C.ResponseDeadlineExtended,
        UNCHANGED,
    ),
    "send_interim_response": Row(
        {"promised_by": LATER + timedelta(days=20), "rules": RULES},
        BEFORE_RESPONSE - {RECEIVED},
        C.InterimResponseSent,
        UNCHANGED,
    ),
    "record_findings": Row(
        {"steps_taken": "reviewed", "conclusions": "not upheld", "upheld": "no"},
        frozenset({UNDER_INVESTIGATION}),
        C.FindingsRecorded,
        UNCHANGED,
    ),
    # The canonical histories have findings only once a response is drafted.
    "draft_response": Row(
        {"document_ref": "doc-2"}, frozenset({RESPONSE_DRAFTED}), C.ResponseDrafted, UNCHANGED
    ),
    "send_final_response": Row(
        {"channel": "letter", "checklist": CHECKLISTS["nhs-england-2009"], "rules": RULES},
        frozenset({RESPONSE_DRAFTED}),
        C.FinalResponseSent,
        RESPONSE_SENT,
    ),
    "close": Row({"resolution": "apology"}, frozenset({RESPONSE_SENT}), C.ComplaintClosed, CLOSED),
    "withdraw": Row({"reason": "withdrawn"}, OPEN_STATES, C.ComplaintWithdrawn, WITHDRAWN),
    "reopen": Row(
        {"reason": "new evidence", "rules": RULES},
        frozenset({CLOSED}),
        C.ComplaintReopened,
        UNDER_INVESTIGATION,
    ),
}

CASES = [(command, status) for command in TABLE for status in STATES]


@pytest.mark.parametrize(("command", "status"), CASES)
def test_a_command_is_accepted_only_from_the_states_that_allow_it(
    command: str, status: str
) -> None:
    row = TABLE[command]
    case = given(path_to(status))
    if status in row.allowed:
        outcome = when(case, command, at=LATER, role="manager", **row.kwargs)
        then(outcome, Expect(row.event))
        assert case.status == (status if row.status == UNCHANGED else row.status)
    else:
        then_refused(
            case, command, InvalidTransitionError, "INVALID_TRANSITION", at=LATER, **row.kwargs
        )


@pytest.mark.parametrize("status", STATES)
def test_approval_is_accepted_only_for_a_drafted_response_not_yet_approved(status: str) -> None:
    case = given(path_to(status, approve=False))
    if status == RESPONSE_DRAFTED:
        then(when(case, "approve_response", at=LATER, role="executive"), Expect(C.ResponseApproved))
    else:
        then_refused(
            case, "approve_response", InvalidTransitionError, "INVALID_TRANSITION", at=LATER
        )
    approved = given(path_to(RESPONSE_DRAFTED))
    then_refused(
        approved, "approve_response", InvalidTransitionError, "INVALID_TRANSITION", at=LATER
    )
