"""The hospital day ``patient-services seed`` records: what happens, to whom and when.

A plan is a list of steps, each one command of the HTTP contract (the very Structs the API
decodes request bodies into, round-tripped through JSON so the wire's checks apply) on a
named subject: ``visit:ED-03``, ``complaint:C-05``, ``budget:CC-ED/staffing``.

Times are relative to ``now``, so the flow board looks live: every ``occurredAt`` is in the
past and in order within its subject. Only what the domain expects to lie ahead (a booked
start, a leave's expected return, a promised response, an agreed due date) is in the future.

A step's key comes from its subject and command type only, never from a time or a value, so
every run names the same steps and a second run is a replay (see :mod:`adapters.cli.seeding`).
Patients, complainants and staff are opaque ``seed-`` refs; the free text is short and
fictional.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from application.budget import commands as b
from application.budget.inputs import Category, MoneyAmount
from application.complaints import commands as c
from application.complaints.values import (
    Channel,
    ComplaintPolicyName,
    Kind,
    ResponseChecklist,
    Upheld,
)
from application.shared.commands import Command
from application.shared.policies import Policies
from application.visits import commands as v
from application.visits.values import Disposition, VisitClass
from domain.visits.identity import visit_id_for

SEED_ACTOR = "seed"
#: Approving a complaint's response takes a second person (segregation of duties): the
#: drafter may not approve it, so approvals are recorded under this second system actor.
SEED_APPROVER = "seed-approver"
#: Every role some step needs; each command is issued with the one the API would pick.
SEED_ROLES = ("clerk", "nurse", "clinician", "manager", "executive", "finance")
#: The assigning authority of the seeded visit numbers: with a number, a visit's id is
#: derived from it, so the seeded visits have fixed ids.
VISIT_NUMBER_AUTHORITY = "SEED"
CURRENCY = "GBP"

CommandT = TypeVar("CommandT", bound=Command)


@dataclass(frozen=True)
class Step:
    #: The step's fixed name: its idempotency key.
    key: str
    #: The record it acts on: the subject its first (creating) step named.
    subject: str
    command: Command
    actor: str = SEED_ACTOR


@dataclass
class Plan:
    now: datetime
    policies: Policies
    steps: list[Step] = field(default_factory=list)
    _names: Counter[str] = field(default_factory=Counter)
    _patients: int = 0

    def add(self, subject: str, command: Command, *, actor: str = SEED_ACTOR) -> None:
        name = f"{subject}/{type(command).__name__}"
        self._names[name] += 1
        count = self._names[name]
        key = name if count == 1 else f"{name}-{count}"
        self.steps.append(Step(key, subject, _as_sent(command), actor))

    def ago(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours, minutes=minutes)

    def ahead(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.now + timedelta(days=days, hours=hours, minutes=minutes)

    def patient(self) -> str:
        self._patients += 1
        return f"seed-pt-{self._patients:04d}"

    # ---- creations: each starts the chain of its subject's later steps --------------------
    def walk_in(
        self, code: str, unit: str, at: datetime, *, mode: str = "walk-in",
        visit_class: VisitClass = "EMER",
    ) -> VisitChain:  # fmt: skip
        visit = VisitChain(self, code, self.patient())
        visit.add(
            v.RegisterWalkIn(
                patient_ref=visit.patient_ref, visit_class=visit_class, service_unit=unit,
                arrival_at=at, arrival_mode=mode, visit_number=code,
                visit_number_authority=VISIT_NUMBER_AUTHORITY,
            )
        )  # fmt: skip
        return visit

    def booking(
        self, code: str, unit: str, *, booked: datetime, start: datetime, minutes: int,
        visit_class: VisitClass = "AMB", reason_code: str | None = None,
    ) -> VisitChain:  # fmt: skip
        visit = VisitChain(self, code, self.patient())
        visit.add(
            v.ScheduleVisit(
                patient_ref=visit.patient_ref, visit_class=visit_class, service_unit=unit,
                scheduled_start=start, scheduled_end=start + timedelta(minutes=minutes),
                reason_code=reason_code, visit_number=code,
                visit_number_authority=VISIT_NUMBER_AUTHORITY, occurred_at=booked,
            )
        )  # fmt: skip
        return visit

    def complaint(
        self, code: str, policy: ComplaintPolicyName, channel: Channel, received: datetime,
        categories: list[str], summary: str, *, unit: str | None = None,
        visit: VisitChain | None = None,
    ) -> ComplaintChain:  # fmt: skip
        case = ComplaintChain(self, code, policy)
        # The event complained of happened the day before the complaint (a local date).
        zone = self.policies.complaints.zone
        event_date = (received - timedelta(days=1)).astimezone(zone).date()
        case.add(
            c.RegisterComplaint(
                channel=channel, received_at=received, complainant_ref=f"seed-cp-{code}",
                categories=categories, summary=summary, policy=policy,
                patient_ref=visit.patient_ref if visit else None,
                visit_id=visit.id if visit else None, service_unit=unit,
                event_date=event_date if visit else None,
            )
        )  # fmt: skip
        return case

    def budget_line(
        self, cost_centre: str, category: Category, budget: str, at: datetime
    ) -> LineChain:
        fiscal_year = self.fiscal_year
        line = LineChain(self, f"budget:{cost_centre}/{category}")
        line.add(
            b.CreateBudgetLine(
                fiscal_year=fiscal_year, cost_centre=cost_centre, category=category,
                currency=CURRENCY, occurred_at=at,
            )
        )  # fmt: skip
        line.add(
            b.ApproveBudget(
                amount=money(budget), approval_ref=f"BOARD-{fiscal_year}-03", occurred_at=at
            )
        )
        return line

    # ---- the fiscal year the budget is seeded in -------------------------------------------
    @property
    def fiscal_year(self) -> int:
        rules = self.policies.budget
        return rules.fiscal_year_of(rules.local_date(self.now))

    def through_year(self, fraction: float) -> datetime:
        """The instant ``fraction`` of the way from the fiscal year's first local midnight
        to a minute ago: postings dated within the year so far, whatever the date today."""
        rules = self.policies.budget
        first_day = rules.period_start(self.fiscal_year, 1)
        start = _local_midnight(first_day, self.policies.budget.facility_timezone)
        elapsed = max(self.now - timedelta(minutes=1) - start, timedelta(0))
        return start + elapsed * fraction


@dataclass
class _Chain:
    """The later steps of one subject."""

    plan: Plan
    subject: str

    def add(self, command: Command, *, actor: str = SEED_ACTOR) -> None:
        self.plan.add(self.subject, command, actor=actor)


class VisitChain(_Chain):
    def __init__(self, plan: Plan, code: str, patient_ref: str) -> None:
        super().__init__(plan, f"visit:{code}")
        self.code, self.patient_ref = code, patient_ref

    @property
    def id(self) -> UUID:
        return visit_id_for(self.code, VISIT_NUMBER_AUTHORITY)

    def then(self, command: Command) -> VisitChain:
        self.add(command)
        return self

    def arrive(self, at: datetime) -> VisitChain:
        return self.then(v.RegisterArrival(occurred_at=at))

    def triage(self, at: datetime, level: int) -> VisitChain:
        # The Manchester Triage System: what UK emergency departments use.
        return self.then(v.RecordTriage(acuity_scale="MTS", acuity_level=level, occurred_at=at))

    def see(self, at: datetime, clinician: str = "seed-dr-01") -> VisitChain:
        return self.then(v.StartClinicianContact(clinician_ref=clinician, occurred_at=at))

    def decide_admission(self, at: datetime, unit: str) -> VisitChain:
        return self.then(v.RecordDecisionToAdmit(target_unit=unit, occurred_at=at))

    def admit(self, at: datetime, unit: str, bed: str) -> VisitChain:
        return self.then(v.AdmitPatient(unit=unit, bed=bed, occurred_at=at))

    def transfer(self, at: datetime, unit: str, bed: str) -> VisitChain:
        return self.then(v.TransferPatient(to_unit=unit, to_bed=bed, occurred_at=at))

    def leave(self, at: datetime, expected_return: datetime) -> VisitChain:
        return self.then(v.StartLeaveOfAbsence(expected_return=expected_return, occurred_at=at))

    def discharge(self, at: datetime, disposition: Disposition = "home") -> VisitChain:
        return self.then(v.DischargePatient(disposition=disposition, occurred_at=at))

    def close(self, at: datetime) -> VisitChain:
        return self.then(v.CloseVisit(occurred_at=at))

    def left_unseen(self, at: datetime) -> VisitChain:
        return self.then(v.RecordLeftWithoutBeingSeen(occurred_at=at))

    def cancel(self, at: datetime, reason: str) -> VisitChain:
        return self.then(v.CancelVisit(reason=reason, occurred_at=at))

    def no_show(self, at: datetime) -> VisitChain:
        return self.then(v.MarkNoShow(occurred_at=at))

    def entered_in_error(self, at: datetime, reason: str) -> VisitChain:
        return self.then(v.MarkEnteredInError(reason=reason, occurred_at=at))


#: The items of each policy's final-response checklist (each given as done).
_CHECKLISTS = {
    "us-cms": ResponseChecklist(
        contact_person=True, steps_taken=True, results=True, completion_date=True
    ),
    "nhs-england-2009": ResponseChecklist(
        how_considered=True, conclusions=True, remedial_action=True, confirmation=True,
        ombudsman_rights=True, signed_by=True,
    ),
}  # fmt: skip


class ComplaintChain(_Chain):
    def __init__(self, plan: Plan, code: str, policy: ComplaintPolicyName) -> None:
        super().__init__(plan, f"complaint:{code}")
        self.code, self.policy = code, policy

    def then(self, command: Command, *, actor: str = SEED_ACTOR) -> ComplaintChain:
        self.add(command, actor=actor)
        return self

    def acknowledge(self, at: datetime, method: str = "letter") -> ComplaintChain:
        return self.then(c.AcknowledgeComplaint(method=method, occurred_at=at))

    def classify(self, at: datetime, kind: Kind, category: str | None = None) -> ComplaintChain:
        return self.then(c.ClassifyComplaint(kind=kind, primary_category=category, occurred_at=at))

    def grade(self, at: datetime, consequence: int, likelihood: int) -> ComplaintChain:
        return self.then(
            c.GradeRisk(consequence=consequence, likelihood=likelihood, occurred_at=at)
        )

    def investigate(self, at: datetime, investigator: str = "seed-inv-01") -> ComplaintChain:
        self.then(c.AssignInvestigator(investigator_ref=investigator, occurred_at=at))
        return self.then(c.StartInvestigation(occurred_at=at))

    def request_information(self, at: datetime, details: str) -> ComplaintChain:
        return self.then(c.RequestInformation(details=details, occurred_at=at))

    def extend(self, at: datetime, agreed: datetime, new_due: datetime) -> ComplaintChain:
        return self.then(
            c.ExtendResponseDeadline(
                new_due_at=new_due, complainant_agreed_at=agreed, occurred_at=at
            )
        )

    def interim(self, at: datetime, promised_by: datetime) -> ComplaintChain:
        return self.then(c.SendInterimResponse(promised_by=promised_by, occurred_at=at))

    def findings(self, at: datetime, upheld: Upheld = "partly") -> ComplaintChain:
        return self.then(
            c.RecordFindings(
                steps_taken="Reviewed the record and spoke with the staff on duty.",
                conclusions="Communication with the patient fell short of our standard.",
                upheld=upheld, actions="Shared the learning at the unit's team meeting.",
                occurred_at=at,
            )
        )  # fmt: skip

    def draft(self, at: datetime) -> ComplaintChain:
        return self.then(c.DraftResponse(document_ref=self._document, occurred_at=at))

    def approve(self, at: datetime) -> ComplaintChain:
        command = c.ApproveResponse(document_ref=self._document, occurred_at=at)
        return self.then(command, actor=SEED_APPROVER)

    def send(self, at: datetime, channel: str = "letter") -> ComplaintChain:
        checklist = _CHECKLISTS[self.policy]
        return self.then(c.SendFinalResponse(channel=channel, checklist=checklist, occurred_at=at))

    def respond(
        self, *, findings: datetime, drafted: datetime, approved: datetime, sent: datetime
    ) -> ComplaintChain:
        """Findings, a draft, another person's approval and the final response."""
        return self.findings(findings).draft(drafted).approve(approved).send(sent)

    def close(
        self, at: datetime, resolution: str, staff: list[str] | None = None
    ) -> ComplaintChain:
        return self.then(c.CloseCase(resolution=resolution, staff_present=staff, occurred_at=at))

    def withdraw(self, at: datetime, reason: str) -> ComplaintChain:
        return self.then(c.WithdrawComplaint(reason=reason, occurred_at=at))

    def reopen(self, at: datetime, reason: str) -> ComplaintChain:
        return self.then(c.ReopenCase(reason=reason, occurred_at=at))

    @property
    def _document(self) -> str:
        return f"seed-doc-{self.code}"


class LineChain(_Chain):
    def then(self, command: Command) -> LineChain:
        self.add(command)
        return self

    def requisition(self, at: datetime, reference: str, amount: str) -> LineChain:
        return self.then(
            b.RecordPreEncumbrance(reference=reference, amount=money(amount), occurred_at=at)
        )

    def order(
        self, at: datetime, reference: str, amount: str, relieves: str | None = None
    ) -> LineChain:
        return self._spend(b.RecordCommitment, at, reference, amount, relieves)

    def invoice(
        self, at: datetime, reference: str, amount: str, relieves: str | None = None
    ) -> LineChain:
        return self._spend(b.RecordActual, at, reference, amount, relieves)

    def _spend(
        self,
        stage: type[b.RecordCommitment] | type[b.RecordActual],
        at: datetime,
        reference: str,
        amount: str,
        relieves: str | None,
    ) -> LineChain:
        return self.then(
            stage(reference=reference, amount=money(amount), relieves_reference=relieves,
                  occurred_at=at)
        )  # fmt: skip

    def forecast(self, at: datetime, estimate_to_complete: str) -> LineChain:
        return self.then(
            b.UpdateForecast(
                estimate_to_complete=money(estimate_to_complete), method="run-rate",
                occurred_at=at,
            )
        )  # fmt: skip


def money(amount: str) -> MoneyAmount:
    return MoneyAmount(amount=amount, currency=CURRENCY)


def _as_sent(command: CommandT) -> CommandT:
    """The command as the API would have it from its JSON body: decoding checks what building
    a Struct in Python does not (lengths, patterns of refs, ranges)."""
    return msgspec.json.decode(msgspec.json.encode(command), type=type(command))


def _local_midnight(day: date, zone_name: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone_name)).astimezone(timezone.utc)


# ---- the day ------------------------------------------------------------------------------
def seed_day(now: datetime, policies: Policies) -> Plan:
    """The whole plan: visits first (complaints name some of them), then complaints, then
    the budget."""
    plan = Plan(now, policies)
    visits = _visits(plan)
    _complaints(plan, visits)
    _budget(plan)
    return plan


def _visits(p: Plan) -> dict[str, VisitChain]:
    """ED, AMU, a surgical ward (SURG-7) and an outpatient clinic (OPD), with visits in every
    state of the lifecycle. A visit is on the board of its current unit (where it was
    admitted or transferred to), else of its service unit: walk-ins arrive in the ED and
    those admitted move to AMU or SURG-7. Waits past 4 and 12 hours, and boarders (decided
    to admit, not yet admitted) at each, give the board's every colour."""
    ed = {
        "ED-01": p.walk_in("ED-01", "ED", p.ago(minutes=12)),
        "ED-02": p.walk_in("ED-02", "ED", p.ago(minutes=40), mode="ambulance"),
        "ED-03": p.walk_in("ED-03", "ED", p.ago(hours=1, minutes=15))
        .triage(p.ago(hours=1, minutes=5), 3),
        "ED-04": p.walk_in("ED-04", "ED", p.ago(hours=4, minutes=40))
        .triage(p.ago(hours=4, minutes=25), 4),
        "ED-05": p.walk_in("ED-05", "ED", p.ago(hours=13, minutes=20))
        .triage(p.ago(hours=13, minutes=5), 3),
        "ED-06": p.walk_in("ED-06", "ED", p.ago(hours=2, minutes=5), mode="ambulance")
        .triage(p.ago(hours=1, minutes=55), 2)
        .see(p.ago(hours=1, minutes=25)),
        "ED-07": p.walk_in("ED-07", "ED", p.ago(minutes=28), mode="ambulance")
        .triage(p.ago(minutes=26), 1)
        .see(p.ago(minutes=24), clinician="seed-dr-02"),
        # Boarders: decided to admit, waiting for a bed (40 minutes, past 4 and 12 hours).
        "ED-08": p.walk_in("ED-08", "ED", p.ago(hours=3, minutes=10))
        .triage(p.ago(hours=3), 3)
        .see(p.ago(hours=2, minutes=20))
        .decide_admission(p.ago(minutes=40), "AMU"),
        "ED-09": p.walk_in("ED-09", "ED", p.ago(hours=6, minutes=30), mode="ambulance")
        .triage(p.ago(hours=6, minutes=15), 2)
        .see(p.ago(hours=5, minutes=40))
        .decide_admission(p.ago(hours=4, minutes=50), "AMU"),
        "ED-10": p.walk_in("ED-10", "ED", p.ago(hours=15, minutes=10), mode="ambulance")
        .triage(p.ago(hours=15), 2)
        .see(p.ago(hours=14, minutes=20), clinician="seed-dr-03")
        .decide_admission(p.ago(hours=13, minutes=30), "SURG-7"),
        # Those who left the ED.
        "ED-11": p.walk_in("ED-11", "ED", p.ago(hours=5, minutes=20))
        .triage(p.ago(hours=5, minutes=5), 5)
        .left_unseen(p.ago(hours=2, minutes=10)),
        "ED-12": p.walk_in("ED-12", "ED", p.ago(hours=7))
        .triage(p.ago(hours=6, minutes=50), 4)
        .see(p.ago(hours=5, minutes=30))
        .discharge(p.ago(hours=3, minutes=15)),
        "ED-13": p.walk_in("ED-13", "ED", p.ago(hours=11, minutes=45))
        .triage(p.ago(hours=11, minutes=30), 4)
        .see(p.ago(hours=10, minutes=40))
        .discharge(p.ago(hours=8, minutes=20))
        .close(p.ago(hours=1)),
        "ED-14": p.walk_in("ED-14", "ED", p.ago(hours=3, minutes=30))
        .entered_in_error(p.ago(hours=3, minutes=20), "Registered twice by mistake."),
    }  # fmt: skip
    amu = {
        # Referred by a GP straight to the acute medical unit.
        "AMU-01": p.walk_in("AMU-01", "AMU", p.ago(hours=1, minutes=5), mode="gp-referral"),
        "AMU-02": p.walk_in("AMU-02", "ED", p.ago(hours=9, minutes=10))
        .triage(p.ago(hours=9), 3)
        .see(p.ago(hours=8, minutes=15))
        .decide_admission(p.ago(hours=7, minutes=30), "AMU")
        .admit(p.ago(hours=5, minutes=45), "AMU", "AMU-B03"),
        "AMU-03": p.walk_in("AMU-03", "ED", p.ago(hours=20, minutes=30), mode="ambulance")
        .triage(p.ago(hours=20, minutes=15), 2)
        .see(p.ago(hours=19, minutes=40))
        .decide_admission(p.ago(hours=18, minutes=50), "AMU")
        .admit(p.ago(hours=15, minutes=30), "AMU", "AMU-B07"),
        "AMU-04": p.walk_in("AMU-04", "ED", p.ago(hours=23, minutes=10))
        .triage(p.ago(hours=23), 3)
        .see(p.ago(hours=22, minutes=20))
        .decide_admission(p.ago(hours=21, minutes=30), "AMU")
        .admit(p.ago(hours=18, minutes=40), "AMU", "AMU-B11")
        .discharge(p.ago(hours=2, minutes=30)),
        # Admitted to AMU, then moved to the surgical ward.
        "AMU-05": p.walk_in("AMU-05", "ED", p.ago(hours=12, minutes=40), mode="ambulance")
        .triage(p.ago(hours=12, minutes=30), 2)
        .see(p.ago(hours=12))
        .decide_admission(p.ago(hours=11, minutes=20), "AMU")
        .admit(p.ago(hours=10, minutes=5), "AMU", "AMU-B05")
        .transfer(p.ago(hours=6, minutes=10), "SURG-7", "S7-B04"),
    }  # fmt: skip
    # Elective surgery: booked days ahead, admitted on the day of the operation.
    surgical = {
        "S7-01": p.booking(
            "S7-01", "SURG-7", booked=p.ago(days=6), start=p.ahead(hours=3), minutes=240,
            visit_class="IMP", reason_code="elective",
        ),
        "S7-02": p.booking(
            "S7-02", "SURG-7", booked=p.ago(days=10), start=p.ago(hours=6, minutes=30),
            minutes=240, visit_class="IMP", reason_code="elective",
        )
        .arrive(p.ago(hours=6, minutes=40))
        .admit(p.ago(hours=6), "SURG-7", "S7-B02"),
        "S7-03": p.booking(
            "S7-03", "SURG-7", booked=p.ago(days=9), start=p.ago(hours=27), minutes=240,
            visit_class="IMP", reason_code="elective",
        )
        .arrive(p.ago(hours=27, minutes=10))
        .admit(p.ago(hours=26, minutes=30), "SURG-7", "S7-B09")
        .leave(p.ago(hours=2), expected_return=p.ahead(hours=4)),
        "S7-04": p.booking(
            "S7-04", "SURG-7", booked=p.ago(days=12), start=p.ago(hours=30), minutes=240,
            visit_class="IMP", reason_code="elective",
        )
        .arrive(p.ago(hours=30, minutes=15))
        .admit(p.ago(hours=29, minutes=50), "SURG-7", "S7-B11")
        .discharge(p.ago(hours=1, minutes=20), "rehab"),
        # Late: within the late-cancellation window before its start.
        "S7-05": p.booking(
            "S7-05", "SURG-7", booked=p.ago(days=8), start=p.ahead(hours=2), minutes=180,
            visit_class="IMP", reason_code="elective",
        ).cancel(p.ago(hours=3), "The theatre list overran."),
    }  # fmt: skip
    # A no-show can only be recorded once the grace period after the start has passed.
    grace = p.policies.visit.no_show_grace
    missed = p.now - grace - timedelta(minutes=90)
    clinic = {
        "OPD-01": p.booking(
            "OPD-01", "OPD", booked=p.ago(days=14), start=p.ahead(hours=1), minutes=20
        ),
        "OPD-02": p.booking("OPD-02", "OPD", booked=p.ago(days=21), start=missed, minutes=20)
        .no_show(missed + grace + timedelta(minutes=30)),
        "OPD-03": p.booking(
            "OPD-03", "OPD", booked=p.ago(days=5), start=p.ahead(days=3), minutes=20
        ).cancel(p.ago(minutes=50), "The patient asked to rebook."),
        "OPD-04": p.booking(
            "OPD-04", "OPD", booked=p.ago(days=7), start=p.ago(minutes=15), minutes=20
        ).arrive(p.ago(minutes=25)),
        "OPD-05": p.booking(
            "OPD-05", "OPD", booked=p.ago(days=10), start=p.ago(hours=3), minutes=20
        )
        .arrive(p.ago(hours=3, minutes=10))
        .see(p.ago(hours=2, minutes=50), clinician="seed-dr-04")
        .discharge(p.ago(hours=2, minutes=15)),
    }  # fmt: skip
    return {**ed, **amu, **surgical, **clinic}


def _complaints(p: Plan, visits: dict[str, VisitChain]) -> None:
    """A case at every stage of the lifecycle, under both policies. US CMS wants a response
    within 7 calendar days of receipt; NHS England (2009) an acknowledgement within 3
    working days and a response within 6 months: receipts days ago make C-02 (never
    acknowledged) and C-05 (no response) overdue, and C-04 due within a day or two."""
    nhs: ComplaintPolicyName = "nhs-england-2009"
    cms: ComplaintPolicyName = "us-cms"
    p.complaint(
        "C-01", nhs, "email", p.ago(hours=1, minutes=30), ["waiting-times"],
        "Waited a long time in the emergency department without an update.",
        unit="ED", visit=visits["ED-04"],
    )  # fmt: skip
    p.complaint(
        "C-02", nhs, "written", p.ago(days=12), ["appointments"],
        "A letter about a follow-up appointment never arrived.", unit="OPD",
    )  # fmt: skip
    (
        p.complaint(
            "C-03", nhs, "portal", p.ago(days=2), ["clinical-care"],
            "Pain relief on the ward took too long.", unit="AMU", visit=visits["AMU-03"],
        )
        .acknowledge(p.ago(days=1), "email")
        .classify(p.ago(days=1), "complaint", "clinical-care")
        .grade(p.ago(days=1), 2, 2)
    )  # fmt: skip
    (
        p.complaint(
            "C-04", cms, "verbal", p.ago(days=6), ["communication"],
            "Nobody explained the discharge plan.", unit="AMU", visit=visits["AMU-04"],
        )
        .acknowledge(p.ago(days=5, hours=23))
        .classify(p.ago(days=5, hours=23), "grievance", "communication")
        .grade(p.ago(days=5, hours=23), 3, 3)
        .investigate(p.ago(days=5))
    )  # fmt: skip
    (
        p.complaint(
            "C-05", cms, "written", p.ago(days=10), ["dignity"],
            "The curtains were left open during an examination.", unit="ED",
        )
        .acknowledge(p.ago(days=9))
        .classify(p.ago(days=9), "grievance", "dignity")
        .investigate(p.ago(days=8))
    )  # fmt: skip
    (
        p.complaint(
            "C-06", nhs, "email", p.ago(days=20), ["appointments"],
            "A clinic appointment was moved twice at short notice.", unit="OPD",
        )
        .acknowledge(p.ago(days=19))
        .investigate(p.ago(days=18))
        .request_information(p.ago(days=3), "Asked which dates the appointment letters gave.")
    )  # fmt: skip
    # The complainant agreed to a later response date before the first one expired.
    (
        p.complaint(
            "C-07", nhs, "written", p.ago(days=60), ["clinical-care"],
            "The wound dressing was not changed as planned.", unit="SURG-7",
        )
        .acknowledge(p.ago(days=59))
        .investigate(p.ago(days=55))
        .extend(p.ago(days=1), agreed=p.ago(days=2), new_due=p.ahead(days=150))
    )  # fmt: skip
    # Under US CMS an interim response moves the due date to the one it promises.
    (
        p.complaint(
            "C-08", cms, "portal", p.ago(days=4), ["car-parking"],
            "The car park barrier charged twice.",
        )
        .acknowledge(p.ago(days=3, hours=23))
        .investigate(p.ago(days=3))
        .interim(p.ago(days=1), promised_by=p.ahead(days=21))
    )  # fmt: skip
    # Graded extreme risk: the response needs the executive's sign-off (it has it).
    (
        p.complaint(
            "C-09", cms, "email", p.ago(days=3), ["clinical-care"],
            "A change in the patient's condition was not acted on quickly.",
            unit="ED", visit=visits["ED-12"],
        )
        .acknowledge(p.ago(days=2, hours=23))
        .grade(p.ago(days=2, hours=23), 5, 3)
        .investigate(p.ago(days=2, hours=20))
        .findings(p.ago(days=1))
        .draft(p.ago(hours=20))
        .approve(p.ago(hours=6))
    )  # fmt: skip
    (
        p.complaint(
            "C-10", nhs, "written", p.ago(days=40), ["discharge"],
            "Medicines to take home were not ready.", unit="SURG-7",
        )
        .acknowledge(p.ago(days=39))
        .investigate(p.ago(days=38))
        .respond(
            findings=p.ago(days=5), drafted=p.ago(days=4), approved=p.ago(days=3),
            sent=p.ago(days=1),
        )
    )  # fmt: skip
    (
        p.complaint(
            "C-11", cms, "verbal", p.ago(days=5), ["communication"],
            "The family were not told about a transfer.", unit="AMU", visit=visits["AMU-05"],
        )
        .acknowledge(p.ago(days=4, hours=23))
        .investigate(p.ago(days=4, hours=20))
        .respond(
            findings=p.ago(days=2), drafted=p.ago(days=1, hours=20),
            approved=p.ago(days=1, hours=12), sent=p.ago(days=1),
        )
        .close(p.ago(hours=2), "Apology given and the transfer process explained.")
    )  # fmt: skip
    (
        p.complaint(
            "C-12", nhs, "email", p.ago(days=4), ["waiting-times"],
            "The wait for a scan was too long.",
        )
        .acknowledge(p.ago(days=3))
        .withdraw(p.ago(hours=5), "The complainant no longer wishes to go on.")
    )  # fmt: skip
    # Resolved at the desk by the staff present: it needs no investigation nor response.
    (
        p.complaint(
            "C-13", nhs, "verbal", p.ago(hours=3), ["waiting-times"],
            "No one said how long the wait would be.", unit="ED", visit=visits["ED-03"],
        )
        .classify(p.ago(hours=2, minutes=55), "concern_resolved_on_spot")
        .close(
            p.ago(hours=2, minutes=50), "Explained the wait and the triage order.",
            staff=["seed-staff-07"],
        )
    )  # fmt: skip
    # Closed, then reopened on a new point: back under investigation, with a new due date.
    (
        p.complaint(
            "C-14", cms, "written", p.ago(days=9), ["communication"],
            "The reply did not answer the question about follow-up.", unit="OPD",
        )
        .acknowledge(p.ago(days=8, hours=23))
        .investigate(p.ago(days=8))
        .respond(
            findings=p.ago(days=6), drafted=p.ago(days=5, hours=20),
            approved=p.ago(days=5, hours=12), sent=p.ago(days=5),
        )
        .close(p.ago(days=4), "Follow-up explained in the response.")
        .reopen(p.ago(days=1), "The complainant raised a new point.")
    )  # fmt: skip


def _budget(p: Plan) -> None:
    """Five lines of this fiscal year (GBP), approved at its start, with requisitions,
    purchase orders, invoices and payroll dated through the year so far. Forecasts within
    2 % (green), 2 to 5 % under (amber), an overspent line and lines well under budget, so
    budget vs actual shows each colour."""
    at = p.through_year
    start = at(0)
    (
        p.budget_line("CC-ED", "staffing", "4200000.00", start)
        .invoice(at(0.3), "PAY-ED-1", "350000.00")
        .invoice(at(0.6), "PAY-ED-2", "350000.00")
        .invoice(at(0.95), "PAY-ED-3", "350000.00")
        .forecast(at(0.96), "3080000.00")
    )  # fmt: skip
    (
        p.budget_line("CC-ED", "supplies", "380000.00", start)
        .order(at(0.2), "PO-ED-101", "60000.00")
        .invoice(at(0.5), "INV-ED-101", "41250.00", relieves="PO-ED-101")
        .invoice(at(0.8), "INV-ED-102", "18730.40")
        .requisition(at(0.9), "REQ-ED-103", "9500.00")
    )  # fmt: skip
    (
        p.budget_line("CC-AMU", "staffing", "2900000.00", start)
        .invoice(at(0.3), "PAY-AMU-1", "240000.00")
        .invoice(at(0.6), "PAY-AMU-2", "240000.00")
        .order(at(0.7), "PO-AMU-AGENCY", "85000.00")
        .invoice(at(0.95), "PAY-AMU-3", "240000.00")
        .forecast(at(0.96), "1985000.00")
    )  # fmt: skip
    # Invoices past the budget: the second leaves the line overspent (OverspendDetected).
    (
        p.budget_line("CC-AMU", "supplies", "40000.00", start)
        .invoice(at(0.4), "INV-AMU-201", "26000.00")
        .invoice(at(0.85), "INV-AMU-202", "18500.00")
    )  # fmt: skip
    (
        p.budget_line("CC-SURG7", "equipment", "150000.00", start)
        .requisition(at(0.3), "REQ-S7-001", "48000.00")
        .requisition(at(0.35), "REQ-S7-002", "22000.00")
        .order(at(0.45), "PO-S7-002", "22000.00", relieves="REQ-S7-002")
        .invoice(at(0.7), "INV-S7-002", "21400.00", relieves="PO-S7-002")
        .order(at(0.75), "PO-S7-003", "35000.00")
    )  # fmt: skip
