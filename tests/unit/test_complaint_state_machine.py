"""ComplaintCase under random commands (conventions.md, Tests).

Every command of domain-spec §2 is a rule with drawn arguments, a drawn actor and a drawn
time (mostly forward, sometimes backwards, to hit TIMESTAMP_ORDER; sometimes months ahead,
to pass deadlines). A small model predicts whether the command is accepted, with which
error it is refused, and what it changes; it keeps its own ledger of deadlines to predict
the breaches. After every step: the case matches the model; each breach is flagged at most
once; at most one deadline of each kind runs; the events stored through a real application
(JSON transcoder, in-memory recorder) rebuild a case equal to the live one; and the
complaints read model's fold of those events agrees with the case.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import event as note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.memory import MEMORY_ENV
from application.service import PatientServices
from domain.complaints.case import ComplaintCase
from domain.complaints.policy import ComplaintRules
from domain.complaints.vocabulary import (
    ACKNOWLEDGED,
    ACKNOWLEDGEMENT,
    AWAITING_INFORMATION,
    BEFORE_RESPONSE,
    CLOSED,
    CONCERN_RESOLVED_ON_SPOT,
    EXTERNAL_BODIES,
    KINDS,
    NHS_ENGLAND_2009,
    OPEN_STATES,
    RECEIVED,
    RESPONSE,
    RESPONSE_DRAFTED,
    RESPONSE_SENT,
    UNDER_INVESTIGATION,
    UPHELD_VALUES,
    US_CMS,
    WITHDRAWN,
    risk_grade,
)
from domain.shared.envelope import recording
from domain.shared.errors import (
    ApprovalRequiredError,
    DomainError,
    DomainValidationError,
    ExtensionTooLateError,
    InvalidTransitionError,
    ResponseIncompleteError,
    SegregationOfDutiesError,
    TimestampOrderError,
)
from tests.support.complaint_view import assert_agrees, fold_all
from tests.support.complaints import CHECKLISTS
from tests.support.gwt import make_envelope

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
RULES = ComplaintRules()
HOUR = timedelta(hours=1)

#: Hours from the latest time used: mostly forward, sometimes back, sometimes months on.
steps = st.one_of(st.integers(-6, 60), st.integers(-6, 60), st.sampled_from([24 * 30, 24 * 100]))
texts = st.sampled_from(["", " ", "given", "given", "given"])
actors = st.sampled_from(["mgr-a", "mgr-b"])
documents = st.sampled_from(["doc-1", "doc-2"])


# ---- the model ------------------------------------------------------------------------------
@dataclass
class Deadline:
    kind: str
    due: datetime
    ended: datetime | None = None


@dataclass
class Model:
    policy: str
    received_at: datetime
    response_due: datetime
    deadlines: list[Deadline]
    status: str = RECEIVED
    version: int = 1
    last_step: datetime = T0
    acknowledged: bool = False
    kind: str | None = None
    grade: str | None = None
    investigator: str | None = None
    investigated: bool = False
    findings: bool = False
    drafter: str | None = None
    draft_ref: str | None = None
    approval_role: str | None = None
    #: a final response was ever sent (``responded_at``); the current one is sent
    #: (``final_response``: none again once reopened).
    responded: bool = False
    response_sent: bool = False
    reopened: bool = False
    referrals: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[tuple[str, datetime]] = field(default_factory=list)

    def end(self, kind: str, at: datetime) -> None:
        for deadline in self.deadlines:
            if deadline.kind == kind and deadline.ended is None:
                deadline.ended = at

    def move_response(self, due: datetime, at: datetime) -> None:
        self.end(RESPONSE, at)
        self.deadlines.append(Deadline(RESPONSE, due))
        self.response_due = due

    def breached(self, at: datetime) -> list[tuple[str, datetime]]:
        return sorted(
            {
                (d.kind, d.due)
                for d in self.deadlines
                if d.due < (d.ended or at) and d.due < at and (d.kind, d.due) not in self.flagged
            },
            key=lambda b: (b[1], b[0]),
        )

    def step(self, at: datetime, status: str | None = None) -> None:
        self.last_step = max(self.last_step, at)
        if status is not None:
            self.status = status


def blank(text: str) -> bool:
    return not text.strip()


# ---- the machine -------------------------------------------------------------------------------
class ComplaintMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = PatientServices(env=dict(MEMORY_ENV))
        self.case: ComplaintCase
        self.model: Model
        self.now = T0
        self.stored: list[Any] = []

    def at(self, hours: int) -> datetime:
        return self.now + hours * HOUR

    def attempt(
        self, name: str, at: datetime, refusal: type[DomainError] | None,
        command: Callable[[ComplaintCase], None], *, role: str = "manager",
        actor_id: str = "mgr-a", reason: str | None = None,
    ) -> Any:  # fmt: skip
        """Run the command; check the predicted refusal or the one event, and save it."""
        before = copy.deepcopy(vars(self.case))
        envelope = make_envelope(at, role=role, actor_id=actor_id, reason=reason)
        raised: DomainError | None = None
        with recording(envelope):
            try:
                command(self.case)
            except DomainError as error:
                raised = error
        if refusal is not None:
            note(f"{name}: refused {refusal.code}")
            assert raised is not None, f"{name} at {at} was accepted; expected {refusal.__name__}"
            assert type(raised) is refusal, f"{name} raised {raised!r}, expected {refusal.__name__}"
            assert self.case.pending_events == []
            assert vars(self.case) == before, f"the refused {name} changed the case"
            return None
        note(f"{name}: accepted")
        assert raised is None, f"{name} at {at} was refused ({raised.code}: {raised})"
        (new,) = self.case.pending_events
        assert (new.command_id, new.occurred_at) == (envelope.command_id, at)
        self.save()
        self.model.version += 1
        return new

    def save(self) -> None:
        self.stored.extend(self.case.pending_events)
        self.app.save(self.case)

    # ---- creation ------------------------------------------------------------------------------
    @initialize(policy=st.sampled_from([NHS_ENGLAND_2009, US_CMS]), offset=st.integers(0, 200))
    def register(self, policy: str, offset: int) -> None:
        received_at = T0 + offset * HOUR
        with recording(make_envelope(received_at, role="clerk")):
            self.case = ComplaintCase.register(
                channel="email", complainant_ref="cmp-1", categories=["waiting"],
                summary="(narrative)", policy=policy, at=received_at, rules=RULES,
            )  # fmt: skip
        terms = RULES.policy(policy)
        ack_due = RULES.acknowledgement_due(terms, received_at)
        response_due = RULES.response_due(terms, received_at)
        deadlines = [Deadline(RESPONSE, response_due)]
        if ack_due is not None:
            deadlines.insert(0, Deadline(ACKNOWLEDGEMENT, ack_due))
        self.model = Model(policy, received_at, response_due, deadlines, last_step=received_at)
        self.now = received_at
        self.stored = []
        self.save()

    @precondition(lambda self: self.model.status in (WITHDRAWN, CLOSED))
    @rule(policy=st.sampled_from([NHS_ENGLAND_2009, US_CMS]), offset=st.integers(0, 200))
    def next_case(self, policy: str, offset: int) -> None:
        self.register(policy, offset)

    # ---- facts -----------------------------------------------------------------------------------
    @rule(step=steps, kind=st.sampled_from([*KINDS, "rumour"]))
    def classify(self, step: int, kind: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status not in OPEN_STATES
            else DomainValidationError if kind not in KINDS
            else InvalidTransitionError if kind == CONCERN_RESOLVED_ON_SPOT and m.investigated
            else TimestampOrderError if at < m.received_at
            else None
        )  # fmt: skip
        if self.attempt("classify", at, refusal, lambda c: c.classify(kind=kind, at=at)):
            m.kind = kind

    @rule(step=steps, consequence=st.integers(0, 6), likelihood=st.integers(1, 5))
    def grade_risk(self, step: int, consequence: int, likelihood: int) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status not in OPEN_STATES
            else DomainValidationError if not 1 <= consequence <= 5
            else TimestampOrderError if at < m.received_at
            else None
        )  # fmt: skip
        new = self.attempt(
            "grade_risk", at, refusal,
            lambda c: c.grade_risk(consequence=consequence, likelihood=likelihood, at=at),
        )  # fmt: skip
        if new is not None:
            m.grade = risk_grade(consequence, likelihood)[1]
            assert new.grade == m.grade

    @rule(step=steps, investigator=st.sampled_from(["inv-1", "inv-2"]))
    def assign_investigator(self, step: int, investigator: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status not in BEFORE_RESPONSE
            else InvalidTransitionError if investigator == m.investigator
            else TimestampOrderError if at < m.received_at
            else None
        )  # fmt: skip
        if self.attempt(
            "assign_investigator", at, refusal,
            lambda c: c.assign_investigator(investigator_ref=investigator, at=at),
        ):  # fmt: skip
            m.investigator = investigator

    @rule(step=steps, body=st.sampled_from([*EXTERNAL_BODIES, "press"]))
    def refer_externally(self, step: int, body: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            DomainValidationError if body not in EXTERNAL_BODIES
            else InvalidTransitionError
            if any(r["body"] == body and r["open"] for r in m.referrals)
            else TimestampOrderError if at < m.received_at
            else None
        )  # fmt: skip
        if self.attempt(
            "refer_externally", at, refusal,
            lambda c: c.refer_externally(body=body, reference=f"{body}-1", at=at),
        ):  # fmt: skip
            m.referrals.append({"body": body, "open": True, "at": at})

    @rule(step=steps, body=st.sampled_from([None, *EXTERNAL_BODIES]))
    def record_external_outcome(self, step: int, body: str | None) -> None:
        m, at = self.model, self.at(step)
        candidates = [r for r in m.referrals if r["open"] and body in (None, r["body"])]
        refusal = (
            InvalidTransitionError if not candidates
            else DomainValidationError if len(candidates) > 1
            else TimestampOrderError if at < candidates[0]["at"]
            else None
        )  # fmt: skip
        if self.attempt(
            "record_external_outcome", at, refusal,
            lambda c: c.record_external_outcome(outcome="not upheld", body=body, at=at),
        ):  # fmt: skip
            candidates[0]["open"] = False

    @rule(step=steps, pick=st.integers(0, 5))
    def flag_sla_breach(self, step: int, pick: int) -> None:
        m, at = self.model, self.at(step)
        known = [(d.kind, d.due) for d in m.deadlines] + [(RESPONSE, m.received_at)]
        deadline, due = known[pick % len(known)]
        refusal = (
            InvalidTransitionError if (deadline, due) in m.flagged
            else InvalidTransitionError if (deadline, due) not in m.breached(at)
            else None
        )  # fmt: skip
        if self.attempt(
            "flag_sla_breach", at, refusal,
            lambda c: c.flag_sla_breach(deadline=deadline, due_at=due, at=at),
            role="system", actor_id="deadline-watcher",
        ):  # fmt: skip
            m.flagged.append((deadline, due))

    # ---- the lifecycle --------------------------------------------------------------------------
    def lifecycle(
        self, name: str, at: datetime, refusal: type[DomainError] | None,
        command: Callable[[ComplaintCase], None], **kwargs: Any,
    ) -> Any:  # fmt: skip
        """A step of the lifecycle: also refused when before the latest step."""
        if refusal is None and at < self.model.last_step:
            refusal = TimestampOrderError
        new = self.attempt(name, at, refusal, command, **kwargs)
        if new is not None:
            self.now = max(self.now, at)
            self.model.step(at)
        return new

    @rule(step=steps)
    def acknowledge(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = InvalidTransitionError if m.acknowledged or m.status != RECEIVED else None
        if self.lifecycle(
            "acknowledge", at, refusal, lambda c: c.acknowledge(method="letter", at=at)
        ):
            m.acknowledged, m.status = True, ACKNOWLEDGED
            m.end(ACKNOWLEDGEMENT, at)

    @rule(step=steps)
    def start_investigation(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = InvalidTransitionError if m.status != ACKNOWLEDGED else None
        if self.lifecycle(
            "start_investigation", at, refusal, lambda c: c.start_investigation(at=at)
        ):
            m.status, m.investigated = UNDER_INVESTIGATION, True

    @rule(step=steps)
    def request_information(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = InvalidTransitionError if m.status != UNDER_INVESTIGATION else None
        if self.lifecycle(
            "request_information", at, refusal, lambda c: c.request_information(at=at)
        ):
            m.status = AWAITING_INFORMATION

    @rule(step=steps)
    def receive_information(self, step: int) -> None:
        m, at = self.model, self.at(step)
        refusal = InvalidTransitionError if m.status != AWAITING_INFORMATION else None
        if self.lifecycle(
            "receive_information", at, refusal, lambda c: c.receive_information(at=at)
        ):
            m.status = UNDER_INVESTIGATION

    @rule(step=steps, days=st.integers(-2, 40), agreed=st.integers(-30, 3))
    def extend_response_deadline(self, step: int, days: int, agreed: int) -> None:
        m, at = self.model, self.at(step)
        new_due, agreed_at = m.response_due + timedelta(days=days), at + agreed * HOUR
        refusal = (
            InvalidTransitionError if m.status not in BEFORE_RESPONSE or m.response_sent
            else ExtensionTooLateError if at >= m.response_due or agreed_at >= m.response_due
            else ExtensionTooLateError if (RESPONSE, m.response_due) in m.flagged
            else TimestampOrderError if agreed_at > at or agreed_at < m.received_at
            else InvalidTransitionError if new_due <= m.response_due
            else None
        )  # fmt: skip
        if self.lifecycle(
            "extend_response_deadline", at, refusal,
            lambda c: c.extend_response_deadline(
                new_due_at=new_due, complainant_agreed_at=agreed_at, at=at
            ),
        ):  # fmt: skip
            m.move_response(new_due, at)

    @rule(step=steps, promised=st.one_of(st.none(), st.integers(-5, 24 * 200)))
    def send_interim_response(self, step: int, promised: int | None) -> None:
        m, at = self.model, self.at(step)
        promised_by = None if promised is None else at + promised * HOUR
        cms = m.policy == US_CMS
        refusal = (
            InvalidTransitionError
            if m.status not in BEFORE_RESPONSE - {RECEIVED} or m.response_sent
            else DomainValidationError if promised_by is not None and promised_by <= at
            else InvalidTransitionError
            if not cms and promised_by is not None and promised_by > m.response_due
            else None
        )  # fmt: skip
        new = self.lifecycle(
            "send_interim_response", at, refusal,
            lambda c: c.send_interim_response(promised_by=promised_by, at=at, rules=RULES),
        )  # fmt: skip
        if new is not None:
            if cms:
                default = RULES.due(RULES.policy(US_CMS).interim_default, m.received_at)
                due = promised_by or default
            else:
                due = m.response_due
            assert new.response_due_at == due
            if due != m.response_due:
                m.move_response(due, at)

    @rule(step=steps, upheld=st.sampled_from([*UPHELD_VALUES, "unsure"]))
    def record_findings(self, step: int, upheld: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status != UNDER_INVESTIGATION
            else DomainValidationError if upheld not in UPHELD_VALUES
            else None
        )  # fmt: skip
        if self.lifecycle(
            "record_findings", at, refusal,
            lambda c: c.record_findings(steps_taken="s", conclusions="c", upheld=upheld, at=at),
        ):  # fmt: skip
            m.findings = True

    @rule(step=steps, actor=actors, ref=documents)
    def draft_response(self, step: int, actor: str, ref: str = "doc-1") -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError
            if m.status not in (UNDER_INVESTIGATION, RESPONSE_DRAFTED) or not m.findings
            else None
        )
        if self.lifecycle(
            "draft_response", at, refusal, lambda c: c.draft_response(document_ref=ref, at=at),
            actor_id=actor,
        ):  # fmt: skip
            m.status, m.drafter, m.approval_role = RESPONSE_DRAFTED, actor, None
            m.draft_ref = ref

    @rule(
        step=steps, actor=actors, role=st.sampled_from(["manager", "executive"]),
        reviewed=st.one_of(st.none(), documents),
    )  # fmt: skip
    def approve_response(
        self, step: int, actor: str, role: str, reviewed: str | None = None
    ) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status != RESPONSE_DRAFTED or m.approval_role
            else InvalidTransitionError if reviewed not in (None, m.draft_ref)
            else SegregationOfDutiesError if actor == m.drafter
            else ApprovalRequiredError if m.grade == "extreme" and role != "executive"
            else None
        )  # fmt: skip
        new = self.lifecycle(
            "approve_response", at, refusal,
            lambda c: c.approve_response(document_ref=reviewed, at=at),
            role=role, actor_id=actor,
        )  # fmt: skip
        if new is not None:
            m.approval_role = role
            assert new.document_ref == m.draft_ref

    @rule(step=steps, complete=st.booleans())
    def send_final_response(self, step: int, complete: bool) -> None:
        m, at = self.model, self.at(step)
        checklist = dict(CHECKLISTS[m.policy])
        if not complete:
            checklist.popitem()
        refusal = (
            InvalidTransitionError if m.status != RESPONSE_DRAFTED
            else ApprovalRequiredError if m.approval_role is None
            else ApprovalRequiredError if m.grade == "extreme" and m.approval_role != "executive"
            else ResponseIncompleteError if not complete
            else None
        )  # fmt: skip
        if self.lifecycle(
            "send_final_response", at, refusal,
            lambda c: c.send_final_response(
                channel="letter", checklist=checklist, at=at, rules=RULES
            ),
        ):  # fmt: skip
            m.status, m.responded, m.response_sent = RESPONSE_SENT, True, True
            m.end(RESPONSE, at)

    @rule(step=steps, resolution=texts, staff=st.booleans())
    def close(self, step: int, resolution: str, staff: bool) -> None:
        m, at = self.model, self.at(step)
        on_the_spot = (
            m.kind == CONCERN_RESOLVED_ON_SPOT and m.status != RESPONSE_SENT
            and not m.investigated and not m.reopened
        )  # fmt: skip
        refusal = (
            InvalidTransitionError if m.status not in OPEN_STATES
            else InvalidTransitionError if on_the_spot and not staff
            else InvalidTransitionError
            if not on_the_spot and (not m.findings or m.status != RESPONSE_SENT)
            else DomainValidationError if blank(resolution)
            else None
        )  # fmt: skip
        if self.lifecycle(
            "close", at, refusal,
            lambda c: c.close(
                resolution=resolution, staff_present=["rn-1"] if staff else None, at=at
            ),
        ):  # fmt: skip
            m.status = CLOSED
            m.end(ACKNOWLEDGEMENT, at)
            m.end(RESPONSE, at)

    @rule(step=steps, reason=st.sampled_from(["", " ", "given"]))
    def withdraw(self, step: int, reason: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status not in OPEN_STATES
            else DomainValidationError if blank(reason)
            else None
        )  # fmt: skip
        if self.lifecycle(
            "withdraw", at, refusal, lambda c: c.withdraw(reason=reason, at=at), reason=reason
        ):
            m.status = WITHDRAWN
            m.end(ACKNOWLEDGEMENT, at)
            m.end(RESPONSE, at)

    @rule(step=steps, reason=texts)
    def reopen(self, step: int, reason: str) -> None:
        m, at = self.model, self.at(step)
        refusal = (
            InvalidTransitionError if m.status != CLOSED
            else DomainValidationError if blank(reason)
            else None
        )  # fmt: skip
        new = self.lifecycle(
            "reopen", at, refusal, lambda c: c.reopen(reason=reason, at=at, rules=RULES),
            reason=reason,
        )  # fmt: skip
        if new is not None:
            m.status, m.drafter, m.approval_role = UNDER_INVESTIGATION, None, None
            m.draft_ref, m.reopened, m.response_sent = None, True, False
            # The new response is due the policy's response period after the reopening.
            due = RULES.response_due(RULES.policy(m.policy), at)
            assert new.response_due_at == due > at
            m.move_response(due, at)

    # ---- a nudge along the usual path, so deep states are reached --------------------------
    def next_usual_step(self, step: int, choice: int) -> None:
        m = self.model
        other = "mgr-b" if m.drafter == "mgr-a" else "mgr-a"
        options: dict[str, list[Callable[[], None]]] = {
            RECEIVED: [
                lambda: self.acknowledge(step),
                lambda: self.grade_risk(step, 3 + choice % 3, 2 + choice % 4),
                lambda: self.classify(step, KINDS[choice % 3]),
            ],
            ACKNOWLEDGED: [
                lambda: self.start_investigation(step),
                lambda: self.send_interim_response(step, 24 * (choice + 2)),
            ],
            UNDER_INVESTIGATION: [
                lambda: self.record_findings(step, UPHELD_VALUES[choice % 3]),
                lambda: (
                    self.draft_response(step, "mgr-a", ("doc-1", "doc-2")[choice % 2])
                    if m.findings
                    else self.request_information(step)
                ),
            ],
            AWAITING_INFORMATION: [lambda: self.receive_information(step)],
            RESPONSE_DRAFTED: [
                lambda: self.approve_response(
                    step,
                    other,
                    ("executive", "manager")[choice // 2 % 2],
                    (None, m.draft_ref)[choice % 2],
                ),
                lambda: self.send_final_response(step, choice % 3 > 0),
            ],
            RESPONSE_SENT: [lambda: self.close(step, "apology", False)],
            CLOSED: [
                lambda: self.reopen(step, "new evidence"),
                lambda: self.register(NHS_ENGLAND_2009, choice),
            ],
            WITHDRAWN: [lambda: self.register(US_CMS, choice)],
        }
        usual = options[m.status]
        if any(r["open"] for r in m.referrals):
            usual.append(lambda: self.record_external_outcome(step, None))
        breached = m.breached(self.at(step))
        if breached:
            known = [(d.kind, d.due) for d in m.deadlines]
            usual.append(lambda: self.flag_sla_breach(step, known.index(breached[0])))
        usual[choice % len(usual)]()

    # ---- invariants ----------------------------------------------------------------------------
    @invariant()
    def the_case_matches_the_model(self) -> None:
        c, m = self.case, self.model
        note(f"status: {c.status}")
        assert (c.status, c.version) == (m.status, m.version)
        assert (c.kind, c.risk_grade, c.investigator_ref) == (m.kind, m.grade, m.investigator)
        assert (c.findings is not None, c.responded_at is not None) == (m.findings, m.responded)
        assert (c.approval or {}).get("role") == m.approval_role
        assert (c.final_response is not None, c.investigation_started_at is not None) == (
            m.response_sent, m.investigated,
        )  # fmt: skip
        assert (c.draft or {}).get("document_ref") == m.draft_ref
        assert c.response_due_at == m.response_due
        assert [(b["deadline"], b["due_at"]) for b in c.breaches] == m.flagged
        assert [(b["deadline"], b["due_at"]) for b in c.breached_deadlines(self.now)] == (
            m.breached(self.now)
        )

    @invariant()
    def each_breach_is_flagged_once_and_one_deadline_of_a_kind_runs(self) -> None:
        flagged = [(b["deadline"], b["due_at"]) for b in self.case.breaches]
        assert len(flagged) == len(set(flagged))
        kinds = [d["deadline"] for d in self.case.running_deadlines]
        assert len(kinds) == len(set(kinds))
        if self.case.status not in OPEN_STATES:
            assert kinds == []

    @invariant()
    def the_stored_events_rebuild_an_equal_case(self) -> None:
        assert self.case.pending_events == []
        stored = list(self.app.events.get(self.case.id))
        assert stored == self.stored  # every field survives the JSON transcoder
        assert self.app.repository.get(self.case.id) == self.case

    @invariant()
    def the_read_models_fold_agrees_with_the_case(self) -> None:
        assert_agrees(fold_all(self.stored), self.case)


# Identical rules (rules are drawn uniformly), so about one step in two follows the usual
# path: without them, deep states (a sent response, a reopened case) are rare.
for _n in range(20):
    setattr(
        ComplaintMachine,
        f"usual_step_{_n}",
        rule(step=st.integers(min_value=0, max_value=30), choice=st.integers(0, 11))(
            lambda self, step, choice: self.next_usual_step(step, choice)
        ),
    )

ComplaintMachine.TestCase.settings = settings(
    ComplaintMachine.TestCase.settings, stateful_step_count=50
)
TestComplaintStateMachine = ComplaintMachine.TestCase
