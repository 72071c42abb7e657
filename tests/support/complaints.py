"""Canonical ComplaintCase histories, the *given* of the complaint tests
(``tests/unit/test_complaint_stories.py`` checks that each one reaches the state it promises
and replays to an equal case).

Times: the complaint is received on Monday 2 March 2026, 10:00 UTC (GMT in Europe/London);
each later step an hour after the one before, so every step is well inside every deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from domain.complaints.case import ComplaintCase
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    AWAITING_INFORMATION,
    CLOSED,
    NHS_ENGLAND_2009,
    RECEIVED,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    US_CMS,
    WITHDRAWN,
)
from tests.support.gwt import make_envelope, when

UTC = timezone.utc
RECEIVED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULES = ComplaintRules()
DRAFTER, APPROVER = "mgr-drafter", "exec-approver"

CHECKLISTS: dict[str, dict[str, Any]] = {
    US_CMS: {
        "contactPerson": "patient relations office", "stepsTaken": "reviewed the record",
        "results": "apology and retraining", "completionDate": "2026-03-09",
    },
    NHS_ENGLAND_2009: {
        "howConsidered": "reviewed the record and interviewed staff",
        "conclusions": "partly upheld", "remedialAction": "retraining",
        "confirmation": True, "ombudsmanRights": True, "signedBy": "chief executive",
    },
}  # fmt: skip


def hours(n: float) -> datetime:
    """``n`` hours after the complaint was received."""
    return RECEIVED_AT + timedelta(hours=n)


class CaseStory:
    """Runs real commands on one live case and keeps every event (the *given*)."""

    def __init__(self) -> None:
        self.case: ComplaintCase | None = None
        self.events: list[Any] = []
        self.last: datetime | None = None

    def do(
        self, command: str, *, role: str = "manager", actor_id: str = "mgr-1",
        at: datetime | None = None, **kwargs: Any,
    ) -> CaseStory:  # fmt: skip
        """Run ``command`` at ``at``, by default an hour after the story's latest step."""
        if at is None:
            at = RECEIVED_AT if self.last is None else self.last + timedelta(hours=1)
        self.last = at if self.last is None else max(self.last, at)
        target: Any = self.case if self.case is not None else ComplaintCase
        envelope = make_envelope(at, role=role, actor_id=actor_id, reason=kwargs.get("reason"))
        outcome = when(target, command, at=at, envelope=envelope, **kwargs)
        self.case = outcome.aggregate
        self.events.extend(outcome.events)
        return self


def register_kwargs(policy: str = NHS_ENGLAND_2009, **changes: Any) -> dict[str, Any]:
    return {
        "channel": "email", "complainant_ref": "cmp-0001", "patient_ref": "pt-0001",
        "categories": ["communication", "waiting"], "summary": "(personal narrative)",
        "policy": policy, "service_unit": "ED", "rules": RULES, **changes,
    }  # fmt: skip


def story_to(
    status: str, *, policy: str = NHS_ENGLAND_2009, grade: tuple[int, int] | None = None,
    approve: bool = True,
) -> CaseStory:  # fmt: skip
    """A plausible history that leaves the case in ``status`` (``response_drafted`` with the
    draft approved by an executive unless ``approve`` is false; later states always have it)."""
    story = CaseStory().do("register", role="clerk", **register_kwargs(policy))
    if grade is not None:
        story.do("grade_risk", consequence=grade[0], likelihood=grade[1])
    if status == RECEIVED:
        return story
    if status == WITHDRAWN:
        return story.do("withdraw", reason="complainant withdrew")
    story.do("acknowledge", method="letter")
    if status == ACKNOWLEDGED:
        return story
    story.do("assign_investigator", investigator_ref="inv-1")
    story.do("start_investigation")
    if status == UNDER_INVESTIGATION:
        return story
    if status == AWAITING_INFORMATION:
        return story.do("request_information", details="ward notes")
    story.do("record_findings", steps_taken="reviewed", conclusions="partly", upheld="partly")
    story.do("draft_response", document_ref="doc-1", actor_id=DRAFTER)
    if approve or status != RESPONSE_DRAFTED:
        story.do("approve_response", role="executive", actor_id=APPROVER)
    if status == RESPONSE_DRAFTED:
        return story
    story.do("send_final_response", channel="letter", checklist=CHECKLISTS[policy], rules=RULES)
    if status == RESPONSE_SENT:
        return story
    if status == CLOSED:
        return story.do("close", resolution="apology given")
    raise ValueError(status)


def path_to(status: str, **options: Any) -> list[Any]:
    return story_to(status, **options).events
