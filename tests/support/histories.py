"""Histories that walk every event type of PatientVisit (with the capacity aggregates its
bookings write), ComplaintCase and BudgetLine.

A :class:`Scenario` issues commands straight to the application (no HTTP), with every text
field and every request-context field drawn from a :class:`Hostile` pool: the hostile-text
property fills the pool with NULs and controls, the legacy-store generator with plain words.
:data:`EXPECTED_EVENTS` names what the walks record, so a test can check coverage against
the log.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from adapters.readmodels.database import ReadDatabase
from adapters.readmodels.registry import read_model_factories
from adapters.readmodels.worker import ProjectionWorker
from application.budget import commands as b
from application.capacity import commands as k
from application.complaints import commands as c
from application.complaints import settings as cs
from application.service import PatientServices
from application.shared.commands import Command
from application.shared.context import RequestContext
from application.visits import commands as v
from application.visits.waitlist import AcceptOffer
from domain.capacity.identity import unit_id_for, waitlist_id_for
from domain.capacity.waitlist import ScheduleWaitlist
from domain.complaints.case import ComplaintCase
from domain.shared.errors import DomainError

NOW = datetime.now(timezone.utc)
#: Visit facts are dated from here, a minute apart: two days ago at noon UTC, so a no-show
#: and its reversal fall on one local day, whenever the test runs.
VISIT_DAY = (NOW - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


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
        self, command: Command, role: str, target: UUID | None = None, *,
        actor: str | None = None, feed: str | None = None,
    ) -> UUID:  # fmt: skip
        """``feed``: as a message of that source system (judged at the time it carries)."""
        context = self.context(role, actor)
        if feed is not None:
            context = replace(
                context,
                source_system=feed,
                source_message_id=context.source_message_id or self.text.unique(),
            )
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
    # As the PAS's feed reverts it, on the visit's day: a clerk's revert is judged by today's
    # date, and this visit's day is two days ago.
    s.run(v.RevertNoShow(reason=t(), occurred_at=at()), "integration", booked, feed="PAS")
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
    walk_capacity(s)


def walk_capacity(s: Scenario) -> None:
    """A unit and its beds, a clinic schedule with a cancelled session, and bookings into a
    slot: claimed, claimed again, one released by a cancellation."""
    t = s.text
    code = t.unique()
    s.run(k.ConfigureUnit(code=code, name=t(), kind="ward",
                          beds=[k.BedSpec(bed=t.unique(), type=t())]), "admin")  # fmt: skip
    unit = unit_id_for(code)
    s.run(k.CloseUnit(), "admin", unit)
    s.run(k.OpenUnit(), "admin", unit)
    s.run(k.ChangeBeds(beds=[k.BedSpec(bed=t.unique(), closed=True)]), "admin", unit)
    start = (NOW + timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    clinic = t()
    schedule = s.run(
        k.CreateSchedule(service_unit=clinic, service=t(), clinician_ref=t(), start=start,
                         end=start + timedelta(hours=1), slot_minutes=30, capacity_per_slot=2),
        "admin",
    )  # fmt: skip
    every_day = s.run(
        k.CreateSchedule(service_unit=clinic, start=start, end=start + timedelta(hours=1),
                         slot_minutes=30, capacity_per_slot=1,
                         repeat=k.Repeat(weekdays=["MON", "TUE", "WED", "THU", "FRI", "SAT",
                                                   "SUN"],
                                         until=(start + timedelta(days=30)).date())),
        "admin",
    )  # fmt: skip
    s.run(k.CancelSession(date=(start + timedelta(days=7)).date(), reason=t()), "admin",
          every_day)  # fmt: skip
    booked = [
        s.run(v.ScheduleVisit(patient_ref=t.unique(), visit_class="AMB", service_unit=clinic,
                              scheduled_start=start, schedule_id=schedule), "clerk")
        for _ in range(2)
    ]  # fmt: skip
    # Two wait; the cancellation offers the freed place to the first, who declines; the
    # second accepts it.
    waiting = [t.unique(), t.unique()]
    for patient in waiting:
        s.run(k.JoinWaitlist(patient_ref=patient, priority=2), "clerk", schedule)
    s.run(v.CancelVisit(reason=t()), "clerk", booked[0])
    entries = s.services.get_aggregate(waitlist_id_for(schedule), ScheduleWaitlist).entries
    first, second = (next(e for e, x in entries.items() if x["patient_ref"] == p) for p in waiting)
    s.run(k.DeclineOffer(entry_id=first), "clerk", schedule)
    accepted = s.run(AcceptOffer(entry_id=second), "clerk", schedule)
    s.visits.append(accepted)


def walk_complaints(s: Scenario) -> None:
    t = s.text
    # The facility's choices first: each differs from the one before, so a second walk over
    # the same store chooses afresh. The cases below follow the shipped calendar again.
    for policy in ("us-cms", "nhs-england-2009"):
        s.run(cs.ChooseComplaintPolicy(policy=policy, reason=t()), "admin")
    s.run(cs.ChooseHolidayCalendar(name=t.unique(), holidays=[NOW.date()]), "admin")
    s.run(cs.ChooseHolidayCalendar(name="england-and-wales"), "admin")
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
    "ComplaintSettings": {"SettingsOpened", "DefaultPolicyChosen", "HolidayCalendarChosen"},
    "PatientBookings": {"BookingsOpened", "BookingHeld", "BookingReleased"},
    "FacilityUnit": {"UnitConfigured", "UnitClosed", "UnitOpened", "BedsChanged"},
    "ClinicSchedule": {"ScheduleCreated", "SessionCancelled"},
    "SlotClaims": {"SlotOpened", "SlotClaimed", "SlotReleased"},
    "ScheduleWaitlist": {
        "WaitlistOpened", "PatientWaitlisted", "SlotOffered", "OfferAccepted", "OfferExpired",
    },
    "CommandAttempt": {"Refused"},
    "CommandRecord": {"Accepted"},
}  # fmt: skip


def catch_up_all(database: ReadDatabase) -> None:
    """Every read model at the head of the log, in batches of 40."""
    for factory in read_model_factories().values():
        worker = ProjectionWorker(database, factory, batch_size=40)
        with database.worker_connection() as conn:
            assert conn.try_lead(worker.lock_name)
            worker.catch_up(conn)
