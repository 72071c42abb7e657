"""Every read-model store can hold anything the log can hold.

HTTP commands refuse control characters, but the log may already hold them (records written
before that rule, or by a feed), and a store must not need the parking safety net for them.
A hypothesis property builds command Structs directly (msgspec validates patterns only when
*decoding*), with every free-text and identifier field — and every field of the request
context — taken from hostile text: NUL, C0/C1 controls, astral characters, bidi marks,
COPY's escape sequences, and 10,000-character strings. It walks as many event types of
PatientVisit, ComplaintCase and BudgetLine as a plausible history reaches, then catches up
every read model on both stores and asserts that nothing is parked, every position is the
head, every read route answers 200, and the audit trail shows each actor as
:func:`shown_as_key` predicts (the same on SQLite and PostgreSQL: the sanitising is in the
backend-neutral projections).

Lone surrogates cannot reach a projection: the event store's JSON transcoder cannot encode
them, so such a command fails and records nothing (``test_the_log_refuses_lone_surrogates``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from adapters.auth_tokens import mint_token
from adapters.http.app import create_app
from adapters.readmodels import tracking as tr
from adapters.readmodels.audit_store import verify
from adapters.readmodels.database import ReadDatabase, open_read_database
from adapters.readmodels.registry import prepare_read_models, read_model_factories
from adapters.readmodels.status import read_model_status
from adapters.readmodels.worker import ProjectionWorker
from adapters.settings import Settings
from application import budget_commands as b
from application import complaint_commands as c
from application import visit_commands as v
from application.commands import Command
from application.context import RequestContext
from application.service import PatientServices
from domain.budget_policy import BudgetRules
from domain.complaints import ComplaintCase
from domain.errors import DomainError
from projections.audit import names_of
from projections.records import decode_state, key_text, without_nul
from tests.support.raw_log import raw_events, sql

NOW = datetime.now(timezone.utc)
#: Visit facts are dated from here, a minute apart: two days ago at noon UTC, so a no-show
#: and its reversal fall on one local day, whenever the test runs.
VISIT_DAY = (NOW - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
LONG = 10_000

# ---- hostile text -------------------------------------------------------------------------
#: Pieces that have broken or could break a store: NUL (PostgreSQL text), COPY's text-format
#: escapes (backslash, \N, the end-of-data marker \.), tabs and newlines, a JSON-looking
#: escape that is *text* (it must stay as written), quotes, LIKE wildcards, C1 controls (CSI),
#: bidi overrides, a byte-order mark, an emoji and an astral ideograph.
PIECES = (
    "\x00", "\\", "\\N", "\\.", "\\.\n", "\t", "\n", "\r\n", "\\u0000", "\\\\u0000", '"', "'",
    "%", "_", "\x1b[31m", "\x85", "\x9b", "\u200f", "\u202e", "\ufeff", "\U0001f600",
    "\U00020000", "\x7f", "\ufffd", "…",
)  # fmt: skip
#: Any code point the log can hold (not a surrogate: see the lone-surrogate test).
any_character = st.characters(exclude_categories=("Cs",))
#: A pool of characters long strings are drawn from: NULs and controls included.
LONG_POOL = [chr(n) for n in (*range(0x20), 0x7F, 0x85, 0x9B, 0x200F, 0x202E, 0x1F600)]
LONG_POOL += [chr(n) for n in range(0x21, 0x7F)] + ["é", "ß", "中", "\U00020000"]


def long_text(seed: int, repeated: bool) -> str:
    """10,000 characters: random (incompressible, as an index tuple cannot shrink it), or a
    short hostile chunk repeated. Built from a seed: hypothesis generating 10,000 characters
    one by one is far too slow."""
    rng = random.Random(seed)
    if repeated:
        chunk = "".join(rng.choices(LONG_POOL, k=rng.randint(1, 9)))
        return (chunk * (LONG // len(chunk) + 1))[:LONG]
    return "".join(rng.choices(LONG_POOL, k=LONG))


def visible(text: str) -> str:
    """Domain rules refuse blank reasons and references: keep one visible character."""
    return text if text.strip() else text + "x"


short_text = st.lists(st.one_of(any_character, st.sampled_from(PIECES)), min_size=1, max_size=12)
hostile_text = st.one_of(
    short_text.map("".join),
    st.builds(long_text, st.integers(0, 2**32), st.booleans()),
).map(visible)

#: Above this many characters a value is clipped in indexed columns (see projections.records).
KEY_MAX, KEY_HEAD = 256, 200


def sanitised(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def shown_as_key(text: str) -> str:
    """How a read model shows an identifier it keeps in an indexed column: NUL as U+FFFD,
    and a value over 256 characters as its first 200, "…" and 16 hex digits of the SHA-256
    of the whole (sanitised) value."""
    text = sanitised(text)
    if len(text) <= KEY_MAX:
        return text
    return text[:KEY_HEAD] + "…" + hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- the scenario ---------------------------------------------------------------------------
@dataclass
class Hostile:
    """Hands out the pool's strings in turn; ``unique`` ones get a suffix, so references the
    domain wants distinct (a posting's, a transfer's units) always are."""

    pool: list[str]
    turn: Iterator[int] = field(default_factory=itertools.count)

    def __call__(self) -> str:
        return self.pool[next(self.turn) % len(self.pool)]

    def unique(self) -> str:
        n = next(self.turn)
        return f"{self.pool[n % len(self.pool)]}~{n}"


@dataclass
class Scenario:
    services: PatientServices
    text: Hostile
    #: Every actor id that acted (to find it in the trail), by aggregate.
    actors: dict[UUID, set[str]] = field(default_factory=dict)
    reasons: dict[UUID, set[str]] = field(default_factory=dict)
    #: The actors of refused or denied attempts, by their target.
    attempt_actors: dict[UUID, set[str]] = field(default_factory=dict)
    visits: list[UUID] = field(default_factory=list)
    minutes: Iterator[int] = field(default_factory=itertools.count)

    def context(self, role: str, actor_id: str | None = None) -> RequestContext:
        """A request context with hostile text in every field. Its source message id is
        unique (a feed's message is applied once: a repeat would be a replay), and so is
        whom it acts for (requester and approver must be two people, also on whose behalf)."""
        return RequestContext(
            actor_id=actor_id or self.text(), actor_role=role, correlation_id=self.text(),
            on_behalf_of=self.text.unique(), source_system=self.text(),
            source_message_id=self.text.unique(),
        )  # fmt: skip

    def run(
        self, command: Command, role: str, target: UUID | None = None, *, actor: str | None = None
    ) -> UUID:
        context = self.context(role, actor)
        result = self.services.execute(command, context, target=target)
        if result.created and isinstance(command, v.VisitCreation):
            self.visits.append(result.id)
        self.actors.setdefault(result.id, set()).add(context.actor_id)
        if command.reason is not None:
            self.reasons.setdefault(result.id, set()).add(command.reason)
        return result.id

    def refused(self, command: Command, role: str, target: UUID) -> None:
        """A command the domain refuses (or the role may not issue): an audited attempt."""
        context = self.context(role)
        with pytest.raises(DomainError):
            self.services.execute(command, context, target=target)
        self.attempt_actors.setdefault(target, set()).add(context.actor_id)

    def newest_request(self, line: UUID) -> UUID:
        """The id of a budget line's newest request for approval."""
        return UUID(list(self.services.repository.get(line).requests)[-1])

    def visit_time(self) -> datetime:
        return VISIT_DAY + timedelta(minutes=next(self.minutes))


def walk_visits(s: Scenario) -> None:
    t, at = s.text, s.visit_time
    # Scheduled: rescheduled, corrected, a no-show reverted, arrives; another is cancelled.
    start = VISIT_DAY
    booked = s.run(
        v.ScheduleVisit(
            patient_ref=t(), visit_class="AMB", service_unit=t(), scheduled_start=start,
            scheduled_end=start + timedelta(hours=1), reason_code=t(), reason=t(),
            occurred_at=start - timedelta(hours=1),
        ),
        "clerk",
    )  # fmt: skip
    s.run(v.RescheduleVisit(scheduled_start=start, scheduled_end=start + timedelta(hours=2),
                            occurred_at=at()), "clerk", booked)  # fmt: skip
    changes = v.VisitDetailChanges(reason_code=t.unique(), service_unit=t.unique())
    s.run(v.CorrectVisitDetails(changes=changes, reason=t(), occurred_at=at()), "clerk", booked)
    s.minutes = itertools.count(20)  # past the no-show grace
    s.run(v.MarkNoShow(occurred_at=at()), "clerk", booked)
    s.run(v.RevertNoShow(reason=t(), occurred_at=at()), "clerk", booked)
    s.run(v.RegisterArrival(arrival_mode=t(), occurred_at=at()), "clerk", booked)
    s.run(v.MarkEnteredInError(reason=t(), occurred_at=at()), "clerk", booked)
    cancelled = s.run(
        v.ScheduleVisit(patient_ref=t(), visit_class="AMB", service_unit=t(),
                        scheduled_start=NOW + timedelta(days=3)),
        "clerk",
    )  # fmt: skip
    s.run(v.CancelVisit(reason=t()), "clerk", cancelled)

    # A walk-in through the whole stay, each compensation on the way.
    stay = s.run(v.RegisterWalkIn(patient_ref=t(), visit_class="EMER", service_unit=t.unique(),
                                  arrival_mode=t(), occurred_at=at()), "clerk")  # fmt: skip
    s.run(v.RecordTriage(acuity_scale="ESI", acuity_level=2, occurred_at=at()), "nurse", stay)
    s.run(v.StartClinicianContact(clinician_ref=t(), occurred_at=at()), "clinician", stay)
    s.run(v.RecordDecisionToAdmit(target_unit=t(), occurred_at=at()), "clinician", stay)
    s.run(v.AdmitPatient(unit=t.unique(), bed=t(), occurred_at=at()), "clinician", stay)
    s.run(v.CancelAdmission(reason=t(), occurred_at=at()), "clinician", stay)
    s.run(v.AdmitPatient(unit=t.unique(), bed=t(), occurred_at=at()), "clinician", stay)
    s.run(v.TransferPatient(to_unit=t.unique(), to_bed=t(), occurred_at=at()), "nurse", stay)
    s.run(v.CancelTransfer(reason=t(), occurred_at=at()), "nurse", stay)
    s.run(v.TransferPatient(to_unit=t.unique(), to_bed=t(), occurred_at=at()), "nurse", stay)
    s.run(v.StartLeaveOfAbsence(expected_return=NOW + timedelta(days=1), occurred_at=at()),
          "nurse", stay)  # fmt: skip
    s.run(v.EndLeaveOfAbsence(occurred_at=at()), "nurse", stay)
    s.run(v.DischargePatient(disposition="home", destination=t(), occurred_at=at()),
          "clinician", stay)  # fmt: skip
    s.run(v.CancelDischarge(reason=t(), occurred_at=at()), "clinician", stay)
    s.run(v.DischargePatient(disposition="oth", destination=t(), occurred_at=at()),
          "clinician", stay)  # fmt: skip
    s.run(v.CloseVisit(occurred_at=at()), "manager", stay)
    s.refused(v.CloseVisit(), "manager", stay)  # refused: already closed
    s.refused(v.CloseVisit(), "clerk", stay)  # denied: a clerk may not close a visit

    # One who leaves before being seen, then comes back; another still waiting on the board.
    left = s.run(v.RegisterWalkIn(patient_ref=t(), visit_class="EMER", service_unit=t(),
                                  occurred_at=at()), "clerk")  # fmt: skip
    s.run(v.RecordLeftWithoutBeingSeen(occurred_at=at()), "nurse", left)
    s.run(v.CancelLeftWithoutBeingSeen(reason=t(), occurred_at=at()), "nurse", left)
    s.run(v.RegisterWalkIn(patient_ref=t(), visit_class="EMER", service_unit=t(),
                           occurred_at=at()), "clerk")  # fmt: skip


def walk_complaints(s: Scenario) -> None:
    t = s.text
    checklist = c.ResponseChecklist(
        how_considered=t(), conclusions=t(), remedial_action=t(), confirmation=True,
        ombudsman_rights=True, signed_by=t(),
    )  # fmt: skip
    received = NOW - timedelta(days=20)
    case = s.run(
        c.RegisterComplaint(
            channel="email", received_at=received, complainant_ref=t(),
            categories=[t.unique(), t.unique()], summary=t(), policy="nhs-england-2009",
            patient_ref=t(), service_unit=t(), late_acceptance_reason=t(), reason=t(),
        ),
        "clerk",
    )  # fmt: skip
    s.run(c.ClassifyComplaint(kind="complaint", primary_category=t()), "manager", case)
    s.run(c.GradeRisk(consequence=2, likelihood=3), "manager", case)
    [due] = [breach["due_at"] for breach in s.services.repository.get(case).breached_deadlines(NOW)
             if breach["deadline"] == "acknowledgement"]  # fmt: skip
    s.run(c.FlagSlaBreach(deadline="acknowledgement", due_at=due), "system", case)
    s.run(c.AcknowledgeComplaint(method=t()), "manager", case)
    s.refused(c.AcknowledgeComplaint(method=t()), "manager", case)
    s.run(c.AssignInvestigator(investigator_ref=t()), "manager", case)
    s.run(c.StartInvestigation(), "manager", case)
    s.run(c.RequestInformation(details=t()), "manager", case)
    s.run(c.ReceiveInformation(), "manager", case)
    current: ComplaintCase = s.services.repository.get(case)
    s.run(c.ExtendResponseDeadline(new_due_at=current.response_due_at + timedelta(days=30),
                                   complainant_agreed_at=NOW - timedelta(hours=1)),
          "manager", case)  # fmt: skip
    s.run(c.SendInterimResponse(promised_by=NOW + timedelta(days=7)), "manager", case)
    s.run(c.ReferExternally(body="PHSO", reference=t()), "manager", case)
    s.run(c.RecordExternalOutcome(outcome=t()), "manager", case)
    s.run(c.RecordFindings(steps_taken=t(), conclusions=t(), upheld="partly", actions=t()),
          "manager", case)  # fmt: skip
    drafter, approver = t.unique(), t.unique()
    s.run(c.DraftResponse(document_ref=t()), "manager", case, actor=drafter)
    s.run(c.ApproveResponse(), "executive", case, actor=approver)
    s.run(c.SendFinalResponse(channel=t(), checklist=checklist, document_hash=t()),
          "manager", case)  # fmt: skip
    s.run(c.CloseCase(resolution=t(), staff_present=[t(), t()]), "manager", case)
    s.run(c.ReopenCase(reason=t()), "manager", case)
    withdrawn = s.run(
        c.RegisterComplaint(channel="portal", received_at=NOW - timedelta(hours=2),
                            complainant_ref=t(), categories=[t()], summary=t(),
                            policy="us-cms", service_unit=t()),
        "nurse",
    )  # fmt: skip
    s.run(c.WithdrawComplaint(reason=t()), "manager", withdrawn)


def gbp(amount: str) -> b.MoneyAmount:
    return b.MoneyAmount(amount=amount, currency="GBP")


def walk_budget(s: Scenario, fiscal_year: int) -> None:
    t = s.text
    centre = t.unique()  # unique: a line's id is its (year, cost centre, category)
    line = s.run(b.CreateBudgetLine(fiscal_year=fiscal_year, cost_centre=centre,
                                    category="supplies", currency="GBP"), "finance")  # fmt: skip
    other = s.run(b.CreateBudgetLine(fiscal_year=fiscal_year, cost_centre=centre,
                                     category="equipment", currency="GBP"), "finance")  # fmt: skip
    s.run(b.ApproveBudget(amount=gbp("1000.00"), approval_ref=t()), "finance", line)
    s.run(b.ApproveBudget(amount=gbp("500.00"), approval_ref=t()), "finance", other)
    requester, approver = t.unique(), t.unique()
    s.run(b.RequestAmendment(amount=gbp("100.00"), reason=t()), "manager", line, actor=requester)
    request = s.newest_request(line)
    s.run(b.AmendBudget(amount=gbp("100.00"), approval_ref=t(), request_id=request),
          "finance", line, actor=approver)  # fmt: skip
    s.run(b.RequestAmendment(amount=gbp("-50.00"), reason=t()), "manager", line, actor=requester)
    request = s.newest_request(line)
    s.run(b.RejectRequest(request_id=request, reason=t()), "finance", line, actor=approver)
    requisition, order, invoice = t.unique(), t.unique(), t.unique()
    s.run(b.RecordPreEncumbrance(reference=requisition, amount=gbp("200.00")), "manager", line)
    s.run(b.RecordCommitment(reference=order, amount=gbp("200.00"),
                             relieves_reference=requisition), "finance", line)  # fmt: skip
    s.run(b.RecordActual(reference=invoice, amount=gbp("150.00"), relieves_reference=order),
          "finance", line)  # fmt: skip
    s.run(b.ReleaseCommitment(reference=order, release_reference=t()), "finance", line)
    s.run(b.ReversePosting(stage="actual", reference=invoice, reason=t()), "finance", line)
    s.run(b.UpdateForecast(estimate_to_complete=gbp("300.00"), method=t()), "manager", line)
    expires = NOW + timedelta(days=30)
    s.run(b.RequestOverspendAuthorisation(limit=gbp("800.00"), expires_at=expires, reason=t()),
          "manager", line, actor=requester)  # fmt: skip
    request = s.newest_request(line)
    s.run(b.AuthoriseOverspend(limit=gbp("800.00"), expires_at=expires, request_id=request),
          "finance", line, actor=approver)  # fmt: skip
    s.run(b.RecordCommitment(reference=t.unique(), amount=gbp("1500.00")), "finance", line)
    s.run(b.RecordActual(reference=t.unique(), amount=gbp("100.00")), "finance", line)  # over
    s.refused(b.RecordCommitment(reference=t.unique(), amount=gbp("900000.00")), "finance", line)
    s.run(b.TransferBudget(from_line_id=other, to_line_id=line, amount=gbp("100.00"),
                           reason=t()), "finance")  # fmt: skip
    s.actors.setdefault(other, set())  # the transfer's actor is recorded under its source
    s.run(b.FreezeLine(), "finance", other)
    s.run(b.UnfreezeLine(), "finance", other)
    s.run(b.CloseLine(), "finance", other)


#: The event types the scenario records (checked against the log, so coverage is explicit).
#: Not covered, and why: ``TrailExport`` (an audit export, not a command; it holds no free
#: text but the auditor's context); abstract bases (``Event``, ``Created``, ``Compensation``,
#: ``Posting``, ``BudgetChanged``) are never recorded themselves.
EXPECTED_EVENTS = {
    "PatientVisit": {
        "VisitScheduled", "VisitRescheduled", "VisitDetailsCorrected", "VisitMarkedNoShow",
        "NoShowReverted", "PatientArrived", "VisitMarkedEnteredInError", "VisitCancelled",
        "WalkInRegistered", "PatientTriaged", "ClinicianContactStarted", "AdmissionDecided",
        "PatientAdmitted", "AdmissionCancelled", "PatientTransferred", "TransferCancelled",
        "LeaveOfAbsenceStarted", "LeaveOfAbsenceEnded", "PatientDischarged",
        "DischargeCancelled", "VisitClosed", "PatientLeftWithoutBeingSeen",
        "LeftWithoutBeingSeenCancelled",
    },
    "ComplaintCase": {
        "ComplaintReceived", "ComplaintClassified", "RiskGraded", "SlaBreached",
        "ComplaintAcknowledged", "InvestigatorAssigned", "InvestigationStarted",
        "InformationRequested", "InformationReceived", "ResponseDeadlineExtended",
        "InterimResponseSent", "ExternallyReferred", "ExternalReviewConcluded",
        "FindingsRecorded", "ResponseDrafted", "ResponseApproved", "FinalResponseSent",
        "ComplaintClosed", "ComplaintReopened", "ComplaintWithdrawn",
    },
    "BudgetLine": {
        "BudgetLineCreated", "BudgetApproved", "AmendmentRequested", "BudgetAmended",
        "RequestRejected", "PreEncumbranceRecorded", "CommitmentRecorded", "ActualRecorded",
        "CommitmentReleased", "PostingReversed", "ForecastUpdated",
        "OverspendAuthorisationRequested", "OverspendAuthorised", "OverspendDetected",
        "BudgetTransferredOut", "BudgetTransferredIn", "LineFrozen", "LineUnfrozen",
        "BudgetLineClosed",
    },
    "CommandAttempt": {"Refused"},
    "CommandRecord": {"Accepted"},
}  # fmt: skip


# ---- the stores -------------------------------------------------------------------------------
READ_MODELS = read_model_factories()


@pytest.fixture
def database(store_settings: Settings, services: PatientServices) -> Iterator[ReadDatabase]:
    db = open_read_database(store_settings)
    prepare_read_models(db, READ_MODELS.values())
    yield db
    db.close()


def catch_up_all(database: ReadDatabase) -> None:
    for factory in READ_MODELS.values():
        worker = ProjectionWorker(database, factory, batch_size=40)
        with database.worker_connection() as conn:
            assert conn.try_lead(worker.lock_name)
            worker.catch_up(conn)


def assert_every_model_at_the_head_with_nothing_parked(database: ReadDatabase) -> None:
    statuses = read_model_status(database, READ_MODELS)
    with database.read() as tx:
        parked = {name: tr.parked_records(tx, name, 1) for name in READ_MODELS}
    assert {name: [p.error for p in kept] for name, kept in parked.items() if kept} == {}
    for status in statuses:
        assert (status.name, status.position, status.parked) == (status.name, status.head, 0)


def recorded_event_types(settings: Settings) -> dict[str, set[str]]:
    with raw_events(settings) as (conn, events, _):
        topics = [row[0] for row in sql(conn, f"SELECT DISTINCT topic FROM {events}")]
    found: dict[str, set[str]] = {}
    for topic in topics:
        aggregate, event = names_of(topic)
        found.setdefault(aggregate, set()).add(event)
    return found


def coverage_gaps(recorded: dict[str, set[str]]) -> dict[str, tuple[set[str], set[str]]]:
    """Per aggregate type whose events differ from EXPECTED_EVENTS: (unexpected, missing)."""
    return {
        kind: (found - expected, expected - found)
        for kind in recorded.keys() | EXPECTED_EVENTS.keys()
        if (found := recorded.get(kind, set())) != (expected := EXPECTED_EVENTS.get(kind, set()))
    }


def headers(settings: Settings, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'reader-1', list(roles))}"}


def read_everything(
    client: TestClient[Any], settings: Settings, scenario: Scenario, fiscal_year: int
) -> dict[str, list[dict[str, Any]]]:
    """Every read route over the hostile data answers 200 (no 5xx, no refusal): the trail
    of each aggregate."""
    staff = headers(settings, "clerk", "nurse", "clinician", "manager")
    finance = headers(settings, "finance")
    auditor = headers(settings, "auditor")
    window = f"from={(NOW - timedelta(days=30)).isoformat()}&to={NOW.isoformat()}"
    window = window.replace("+", "%2B")
    routes: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/flow/board", staff), ("/api/v1/flow/census", staff),
        (f"/api/v1/flow/metrics?{window}", staff), ("/api/v1/complaints/worklist", staff),
        (f"/api/v1/complaints/sla?{window}", staff),
        (f"/api/v1/complaints/themes?{window}", staff),
        (f"/api/v1/budget/summary?fiscalYear={fiscal_year}", finance),
        ("/api/v1/audit/events?limit=500&includeBookkeeping=true", auditor),
        ("/api/v1/audit/verify", auditor), ("/ready", {}),
    ]  # fmt: skip
    routes += [(f"/api/v1/visits/{visit}/timeline", staff) for visit in scenario.visits]
    for path, auth in routes:
        reply = client.get(path, headers=auth)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
    trails = {}
    for aggregate in scenario.actors:
        reply = client.get(f"/api/v1/audit/events?aggregateId={aggregate}&limit=500",
                           headers=auditor)  # fmt: skip
        assert reply.status_code == 200, reply.text[:300]
        trails[str(aggregate)] = reply.json()["items"]
    return trails


# ---- the property ---------------------------------------------------------------------------
#: An explicit example: a NUL, two 10,000-character strings, COPY's escapes around a NUL,
#: and values that are exactly COPY's NULL marker and end-of-data line.
NUL_AND_LONG = [
    visible(text)
    for text in (
        "a\x00b",
        long_text(1, False),
        long_text(2, True),
        "\\\x00\\N\t\n\\.\n",
        "\\N",
        "\\.",
    )
]


@settings(
    max_examples=4, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@example(pool=NUL_AND_LONG)
@given(pool=st.lists(hostile_text, min_size=3, max_size=8))
def test_every_read_model_holds_any_text_the_log_holds(
    store_settings: Settings, services: PatientServices, database: ReadDatabase, pool: list[str]
) -> None:
    # Each example appends new aggregates to the same store and catches up incrementally.
    scenario = Scenario(services, Hostile(pool))
    rules = BudgetRules()
    fiscal_year = rules.fiscal_year_of(rules.local_date(NOW))
    walk_visits(scenario)
    walk_complaints(scenario)
    walk_budget(scenario, fiscal_year)
    assert len(scenario.visits) == 5
    assert coverage_gaps(recorded_event_types(store_settings)) == {}

    catch_up_all(database)
    assert_every_model_at_the_head_with_nothing_parked(database)
    assert verify(database).ok  # the chain hashes the stored bytes, NULs and all

    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        trails = read_everything(client, store_settings, scenario, fiscal_year)
    for aggregate, actors in scenario.actors.items():
        entries = trails[str(aggregate)]
        assert entries, aggregate
        recorded = [e for e in entries if e["outcome"] == "recorded"]
        # Identifiers kept in indexed columns are shown as the test predicts, on every store.
        assert {e["actorId"] for e in recorded} >= {shown_as_key(a) for a in actors}
        attempted = {e["actorId"] for e in entries if e["outcome"] != "recorded"}
        assert attempted == {shown_as_key(a) for a in scenario.attempt_actors.get(aggregate, ())}
        # Free text stays whole (NULs shown as U+FFFD).
        reasons = {e["reason"] for e in recorded if e["reason"] is not None}
        assert reasons >= {sanitised(r) for r in scenario.reasons.get(aggregate, ())}


# ---- lone surrogates ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: (v.RegisterWalkIn(patient_ref="pt-\ud800", visit_class="EMER", service_unit="ED"),
                 RequestContext(actor_id="c1", actor_role="clerk", correlation_id="t")),
        lambda: (v.RegisterWalkIn(patient_ref="pt-1", visit_class="EMER", service_unit="ED"),
                 RequestContext(actor_id="c-\udfff", actor_role="clerk", correlation_id="t")),
    ],
    ids=["in-a-command", "in-the-context"],
)  # fmt: skip
def test_the_log_refuses_lone_surrogates(
    store_settings: Settings,
    services: PatientServices,
    make: Callable[[], tuple[Command, RequestContext]],
) -> None:
    command, context = make()
    before = services.recorder.max_notification_id() or 0
    with pytest.raises(UnicodeEncodeError):
        services.execute(command, context)
    assert (services.recorder.max_notification_id() or 0) == before


# ---- NUL: decoded as U+FFFD, hashed as stored ------------------------------------------------
def test_a_chain_over_a_record_holding_a_nul_verifies_and_the_trail_shows_u_fffd(
    store_settings: Settings, services: PatientServices, database: ReadDatabase
) -> None:
    clerk = RequestContext(actor_id="clerk\x00one", actor_role="clerk", correlation_id="t")
    walk_in = v.RegisterWalkIn(patient_ref="pt-\x00", visit_class="EMER", service_unit="ED")
    visit = services.execute(walk_in, clerk).id
    with raw_events(store_settings) as (conn, events, _):
        [(state,)] = sql(conn, f"SELECT state FROM {events} WHERE originator_id = ?",
                         (visit if store_settings.postgres else visit.hex,))  # fmt: skip
    assert b'"pt-\\u0000"' in bytes(state)  # the log holds the NUL, as JSON escapes it
    catch_up_all(database)
    assert_every_model_at_the_head_with_nothing_parked(database)
    assert verify(database).ok  # the chain hashed the stored bytes, not the decoded ones
    app = create_app(store_settings, services, read_database=database)
    with TestClient(app) as client:
        reply = client.get(f"/api/v1/audit/events?aggregateId={visit}",
                           headers=headers(store_settings, "auditor"))  # fmt: skip
    [entry] = reply.json()["items"]
    assert (entry["actorId"], entry["patientRef"]) == ("clerk\ufffdone", "pt-\ufffd")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x00b", "a\ufffdb"),
        ("\\u0000", "\\u0000"),  # the text backslash-u0000 is not a NUL: it stays
        ("\\\x00", "\\\ufffd"),  # a backslash, then a NUL
        ("\\\\u0000\x00", "\\\\u0000\ufffd"),
        ("\x00\x00", "\ufffd\ufffd"),
        ("no nul", "no nul"),
    ],
)
def test_without_nul_replaces_only_escaped_nul_characters(text: str, shown: str) -> None:
    stored = json.dumps({"reason": text}, ensure_ascii=False, separators=(",", ":")).encode()
    assert decode_state(stored) == {"reason": shown}


def test_without_nul_takes_a_state_sqlite_holds_as_text() -> None:
    assert without_nul('{"reason":"a\\u0000b"}') == b'{"reason":"a\\ufffdb"}'
    assert without_nul(memoryview(b'{"reason":"ab"}')) == b'{"reason":"ab"}'


def test_key_text_clips_long_identifiers_deterministically() -> None:
    assert key_text("ED") == "ED"
    assert key_text("x" * 256) == "x" * 256
    long = "é" * 300
    clipped = key_text(long)
    assert clipped == "é" * 200 + "…" + hashlib.sha256(long.encode()).hexdigest()[:16]
    assert len(clipped) == 217 and key_text(clipped) == clipped
    assert key_text(long + "!") != clipped  # distinct values stay distinct
    assert shown_as_key(long) == clipped
