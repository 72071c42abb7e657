"""The complaints read model's fold, and the worklist it serves.

Each ComplaintCase record is folded into a :class:`~projections.complaints.case_state.CaseState`
(the case's status and classification now and the state of its two deadlines). The fold
mirrors the deadline ledger of :class:`domain.complaints.case.ComplaintCase` from the due
dates the events carry, so the view never consults a policy or a calendar.

**Declared coverage.** :data:`HANDLED` names the event classes the fold acts on and
:data:`IGNORED` every other event class of the aggregate (tests check the two against
``ComplaintCase``). A record of a class in neither (one added to the domain since) is
skipped: the case's version and position move on, nothing else changes, and a
``worklist.unknown_event`` warning names its topic once per class per process. It never
raises, so a new event class cannot stop the worker.

Personal data stays out: the complaint's narrative, findings, responses, resolutions and
reasons are never read; nor the complainant's and patient's references (the worklist needs
neither). Instants are integer microseconds since the epoch (UTC), as every read model
stores them; the views turn them back into datetimes and bucket months in the facility's
time zone.

Views: :func:`worklist_item` (due dates, days to due, RAG) here;
:func:`~projections.complaints.sla.sla_by_month` (% of deadlines met, by month of receipt) and
:func:`~projections.complaints.themes.themes_of` (category × unit × month: grade mix and %
upheld) in their own modules, re-exported here as the read model's one entry point.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import msgspec
import structlog

from domain.complaints.case import ComplaintCase
from domain.complaints.deadlines import last_day_allowed
from projections.complaints.case_state import CASE_COLUMNS, CaseState
from projections.complaints.instants import micros, moment
from projections.complaints.sla import Compliance, SlaMonth, deadline_outcome, sla_by_month
from projections.complaints.themes import Theme, themes_of
from projections.shared.records import (
    FirstSighting,
    StoredRecord,
    decode_state,
    from_micros,
    is_event_of,
    to_micros,
)

__all__ = [
    "AMBER_SHARE", "CASE_COLUMNS", "HANDLED", "IGNORED", "CaseState", "Compliance", "SlaMonth",
    "Theme", "WorklistItem", "deadline_outcome", "fold", "rag", "sla_by_month", "themes_of",
    "wants", "worklist_item",
]  # fmt: skip

log = structlog.get_logger("projections")


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every ComplaintCase event."""
    return is_event_of(topic, ComplaintCase)


#: Event class names this projection folds, and those it knowingly leaves alone.
HANDLED: frozenset[str] = frozenset({
    "ComplaintReceived", "ComplaintClassified", "RiskGraded", "InvestigatorAssigned",
    "SlaBreached", "ComplaintAcknowledged", "InvestigationStarted", "InformationReceived",
    "ComplaintReopened", "InformationRequested", "ResponseDeadlineExtended",
    "InterimResponseSent", "FindingsRecorded", "ResponseDrafted", "FinalResponseSent",
    "ComplaintClosed", "ComplaintWithdrawn",
})  # fmt: skip
#: The aggregate's base event classes (never stored themselves), and facts the worklist
#: does not show: an external referral and its outcome, a response's approval.
IGNORED: frozenset[str] = frozenset({
    "Event", "Created", "ExternallyReferred", "ExternalReviewConcluded", "ResponseApproved",
})  # fmt: skip

#: The unknown event class names already warned about (once per class per process).
_UNKNOWN = FirstSighting()


def _skip_unknown(kind: str, record: StoredRecord) -> None:
    if _UNKNOWN.first(kind):
        # The topic and position only: a record's values may be personal data.
        log.warning("worklist.unknown_event", topic=record.topic, position=record.position)


def fold(state: CaseState | None, record: StoredRecord) -> CaseState:
    """The case after one more record, as the view sees it.

    The first record of a case must be its receipt: anything else is a broken log, which
    raises (the worker parks that record, see ``adapters.readmodels.worker``). A record the
    view has no use for (:data:`IGNORED`, or a class it does not know) only moves the case's
    version and position on."""
    kind = record.topic.rsplit(".", 1)[-1]
    if state is not None and kind not in HANDLED:
        if kind not in IGNORED:
            _skip_unknown(kind, record)
        state.version, state.position = record.originator_version, record.position
        return state
    event = decode_state(record.state)
    at = micros(event["occurred_at"])
    if state is None:
        assert kind == "ComplaintReceived", f"a case's first record is its receipt, not {kind}"
        state = CaseState(
            id=str(record.originator_id), status="received", policy=event["policy"],
            received_at=at, service_unit=event["service_unit"],
            categories=list(event["categories"]),
            ack_due_at=to_micros(event["acknowledgement_due_at"]),
            response_due_at=to_micros(event["response_due_at"]),
        )  # fmt: skip
    state.version, state.position = record.originator_version, record.position
    if kind == "ComplaintClassified":
        state.kind, state.primary_category = event["kind"], event["primary_category"]
    elif kind == "RiskGraded":
        state.risk_grade = event["grade"]
    elif kind == "InvestigatorAssigned":
        state.investigator_ref = event["investigator_ref"]
    elif kind == "SlaBreached":
        state.flag(event["deadline"], micros(event["due_at"]))
    elif kind == "ComplaintAcknowledged":
        state.status, state.acknowledged_at = "acknowledged", at
        state.end("ack", at, met=True)
    elif kind in ("InvestigationStarted", "InformationReceived"):
        state.status = "under_investigation"
    elif kind == "ComplaintReopened":
        state.status, state.closed_at = "under_investigation", None
        if event.get("response_due_at") is not None:  # absent from events before it was kept
            state.run_response(micros(event["response_due_at"]), at)
    elif kind == "InformationRequested":
        state.status = "awaiting_information"
    elif kind == "ResponseDeadlineExtended":
        state.run_response(micros(event["response_due_at"]), at)
    elif kind == "InterimResponseSent":
        due = micros(event["response_due_at"])
        if due != state.response_due_at:
            state.run_response(due, at)
    elif kind == "FindingsRecorded":
        state.upheld = event["upheld"]
    elif kind == "ResponseDrafted":
        state.status = "response_drafted"
    elif kind == "FinalResponseSent":
        state.status = "response_sent"
        if state.responded_at is None:
            state.responded_at = at
        state.end("response", at, met=True)
    elif kind in ("ComplaintClosed", "ComplaintWithdrawn"):
        state.status = "closed" if kind == "ComplaintClosed" else "withdrawn"
        state.closed_at = at
        state.end("ack", at, met=False)
        state.end("response", at, met=False)
    return state


# ---- the worklist ---------------------------------------------------------------------------
_DAY = 86_400_000_000
#: Amber when no more than this share of the time from receipt to the due instant is left
#: (and always within the last day); red once the deadline has passed.
AMBER_SHARE = 0.25


class WorklistItem(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """One open case. ``daysToDue`` counts local days from today to the day the next
    deadline ends (0: due today; negative: overdue). Beside each due instant (the exclusive
    end of its deadline), ``…DueOn`` is the last local day allowed."""

    id: str
    version: int
    #: The case's state: received, acknowledged, under_investigation, awaiting_information,
    #: response_drafted or response_sent.
    status: str
    #: What the case is: concern_resolved_on_spot, complaint or grievance (null until classified).
    kind: str | None
    #: The complaint-handling rules the case follows: us-cms or nhs-england-2009.
    policy: str
    #: When the complaint was received.
    received_at: datetime
    service_unit: str | None
    #: The main category, from the classification (null if none).
    primary_category: str | None
    #: The NPSA risk grade: low, moderate, high or extreme (null until graded).
    risk_grade: str | None
    #: The investigator's opaque reference (null until assigned).
    investigator_ref: str | None
    #: When acknowledgement is due (null: the policy sets no acknowledgement deadline).
    acknowledgement_due_at: datetime | None
    #: The last local day allowed for the acknowledgement (null with no deadline).
    acknowledgement_due_on: date | None
    #: When the complaint was acknowledged (null until then).
    acknowledged_at: datetime | None
    #: When the final response is due, after any extension or interim response.
    response_due_at: datetime | None
    #: The last local day allowed for the final response.
    response_due_on: date | None
    #: When the first final response was sent (null until then).
    responded_at: datetime | None
    #: The running deadline due first: acknowledgement or response (null when none is running).
    next_deadline: str | None
    #: When the next deadline is due (null when none is running).
    next_due_at: datetime | None
    #: The last local day allowed for the next deadline (null when none is running).
    next_due_on: date | None
    #: Local days from today to `nextDueOn`: 0 due today, negative overdue (null when none is
    #: running).
    days_to_due: int | None
    #: Whether the next deadline's due instant has passed.
    overdue: bool
    #: red once the next deadline has passed; amber in the last quarter of the time to it (at least
    #: the last day); else green.
    rag: str
    #: How many deadline breaches the watcher has flagged on the case.
    breaches: int


def worklist_item(state: CaseState, now: datetime, zone: ZoneInfo) -> WorklistItem:
    now_us = micros(now)
    next_due = state.next_due_at
    deadline = None
    if next_due is not None:
        ack_running = state.ack_due_at is not None and state.ack_ended_at is None
        deadline = "acknowledgement" if ack_running and state.ack_due_at == next_due else "response"
    due_day = last_day_allowed(from_micros(next_due), zone)
    days = None if due_day is None else (due_day - now.astimezone(zone).date()).days
    ack_due, response_due = from_micros(state.ack_due_at), from_micros(state.response_due_at)
    return WorklistItem(
        id=state.id, version=state.version, status=state.status, kind=state.kind,
        policy=state.policy, received_at=moment(state.received_at),
        service_unit=state.service_unit, primary_category=state.primary_category,
        risk_grade=state.risk_grade, investigator_ref=state.investigator_ref,
        acknowledgement_due_at=ack_due,
        acknowledgement_due_on=last_day_allowed(ack_due, zone),
        acknowledged_at=from_micros(state.acknowledged_at),
        response_due_at=response_due, response_due_on=last_day_allowed(response_due, zone),
        responded_at=from_micros(state.responded_at), next_deadline=deadline,
        next_due_at=from_micros(next_due), next_due_on=due_day, days_to_due=days,
        overdue=next_due is not None and next_due < now_us,
        rag=rag(state.received_at, next_due, now_us), breaches=state.breaches,
    )  # fmt: skip


def rag(received_at: int, due: int | None, now: int) -> str:
    """Red once the due instant has passed; amber in the last quarter of the time from
    receipt to due (at least the last day); green otherwise or with nothing due."""
    if due is None:
        return "green"
    if now > due:
        return "red"
    if due - now <= max(_DAY, int((due - received_at) * AMBER_SHARE)):
        return "amber"
    return "green"
