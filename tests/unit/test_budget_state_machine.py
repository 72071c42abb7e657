"""BudgetLine under random commands (conventions.md, Tests).

Every command of domain-spec §3 on one line is a rule with drawn arguments; references come
from small pools, so repeats (idempotent or conflicting) and reliefs happen often. A small
model tracks the budget, each posting's open amount and so the available balance, predicts
whether each command is accepted (and with which events) or refused (and with which code).
After every step: the line agrees with the model; available = budget − pre-encumbered −
committed − actual, and each total is the sum of its postings' open amounts; the phasing sums
to the budget; a balance below zero is explained (an actual flagged it, or an authorisation
covered it); and the events stored through a real application (JSON transcoder, in-memory
recorder) rebuild a line equal to the live one. Two people ask for amendments and overspend
authorisations and approve or reject each other's (and their own) requests, so the
segregation of duties is drawn as often as an approval. Postings are reversed (the model
predicts unknown, already reversed and fully relieved ones), releases may be named by a
release reference (a repeat is a no-op), and huge actuals reach the bound on what a stage may
ever move (``MAX_TOTAL_MINOR``: the read model's figures must stay representable), where the
model predicts the refusal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import event as note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.memory import MEMORY_ENV
from application.service import PatientServices
from domain.budget.line import BudgetLine
from domain.budget.vocabulary import ACTIVE, ACTUAL, CLOSED, COMMITMENT, DRAFT, PRE_ENCUMBRANCE
from domain.shared.envelope import recording
from domain.shared.errors import DomainError
from domain.shared.money import MAX_TOTAL_MINOR, Money
from tests.support.budget import FY, RULES, T0
from tests.support.gwt import make_envelope

NOOP = "NOOP"  # an idempotent repeat: accepted, no event
amounts = st.integers(min_value=1, max_value=400_000)  # minor units: up to 4,000.00
#: Near the bound (GBP amounts are below 10^17 minor units): two such actuals pass it.
huge = st.integers(min_value=MAX_TOTAL_MINOR // 3, max_value=MAX_TOTAL_MINOR - 1)
release_refs = st.one_of(st.none(), st.sampled_from(["REL-0", "REL-1"]))
signed = st.one_of(
    st.integers(min_value=-7_000_000, max_value=-1), st.integers(min_value=1, max_value=7_000_000)
)
days = st.integers(min_value=0, max_value=12)
roles = st.sampled_from(["manager", "finance", "finance_director", "board"])
people = st.sampled_from(["ann", "bob"])
refs = {stage: st.sampled_from([f"{stage[:3].upper()}-{n}" for n in range(3)])
        for stage in (PRE_ENCUMBRANCE, COMMITMENT, ACTUAL)}  # fmt: skip
relieves = {
    COMMITMENT: st.one_of(st.none(), refs[PRE_ENCUMBRANCE]),
    ACTUAL: st.one_of(st.none(), refs[COMMITMENT]),
}


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (integers would favour the boundary 0)."""
    return st.sampled_from([False] * (n - 1) + [True])


TIERS = {"manager": 500_000, "finance": 5_000_000, "finance_director": 25_000_000}


def gbp(minor: int) -> Money:
    return Money.from_minor(minor, "GBP")


@dataclass
class Posting:
    amount: int
    open: int
    relieves: str | None
    reversed: bool = False


@dataclass
class Request:
    kind: str  # "amendment" (amount) or "overspend" (amount is the limit, with expires)
    amount: int
    expires: datetime | None
    by: str
    status: str = "open"


@dataclass
class Model:
    status: str = DRAFT
    frozen: bool = False
    version: int = 1
    budget: int = 0
    postings: dict[str, dict[str, Posting]] = field(
        default_factory=lambda: {PRE_ENCUMBRANCE: {}, COMMITMENT: {}, ACTUAL: {}}
    )
    limit: int = 0
    expires: datetime | None = None
    #: Why the balance may be below zero: an actual flagged it or an authorisation covered it.
    explained_overspend: bool = False
    #: Every request by its id, in the order asked.
    requests: dict[UUID, Request] = field(default_factory=dict)
    #: Everything each stage ever moved, in or out (bounded by MAX_TOTAL_MINOR).
    moved: dict[str, int] = field(
        default_factory=lambda: {PRE_ENCUMBRANCE: 0, COMMITMENT: 0, ACTUAL: 0}
    )
    #: release reference → (commitment reference, amount released)
    releases: dict[str, tuple[str, int]] = field(default_factory=dict)

    def beyond_bound(self, **moves: int) -> bool:
        return any(self.moved[stage] + minor > MAX_TOTAL_MINOR for stage, minor in moves.items())

    def open(self, stage: str) -> int:
        return sum(p.open for p in self.postings[stage].values())

    @property
    def available(self) -> int:
        return self.budget - sum(self.open(stage) for stage in self.postings)

    def covered(self, after: int, at: datetime) -> bool:
        return self.expires is not None and at < self.expires and -after <= self.limit


class BudgetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = PatientServices(env=dict(MEMORY_ENV))
        self.now = T0
        self.stored: list[Any] = []
        with recording(make_envelope(self.now, role="finance")):
            self.line = BudgetLine.create(
                fiscal_year=FY, cost_centre="CC-1", category="supplies", currency="GBP",
                at=self.now,
            )  # fmt: skip
        self.save()
        self.model = Model()

    @initialize(approved=st.sampled_from([True, True, True, False]),
                amount=st.integers(0, 5_000_000))  # fmt: skip
    def start(self, approved: bool, amount: int) -> None:
        """Most runs start from an approved budget, so spend is reached early."""
        if approved:
            self.approve(0, amount)

    def save(self) -> None:
        self.stored.extend(self.line.pending_events)
        self.app.save(self.line)

    def attempt(
        self, name: str, step: int, expected: str | None, command: Callable[[datetime], None],
        *, role: str = "finance", events: tuple[type, ...] = (), actor: str = "staff-1",
    ) -> bool:  # fmt: skip
        """Run the command; check the predicted refusal code, or the predicted events. True
        if it recorded something (the model should follow)."""
        at = self.now + timedelta(days=step)
        before = copy.deepcopy(vars(self.line))
        raised: DomainError | None = None
        with recording(make_envelope(at, role=role, actor_id=actor)):
            try:
                command(at)
            except DomainError as error:
                raised = error
        note(f"{name}: {expected or 'accepted'}")
        if expected not in (None, NOOP):
            assert raised is not None, f"{name} was accepted; expected {expected}"
            assert raised.code == expected, f"{name} raised {raised.code}, expected {expected}"
            assert self.line.pending_events == [] and vars(self.line) == before
            return False
        assert raised is None, f"{name} refused ({raised.code}: {raised}); expected {expected}"
        new = list(self.line.pending_events)
        assert [type(e) for e in new] == list(events if expected is None else ()), new
        self.save()
        self.now = at
        if new:
            self.model.version += len(new)
        return bool(new)

    # ---- the budget ------------------------------------------------------------------------
    @rule(step=days, amount=st.integers(min_value=0, max_value=5_000_000))
    def approve(self, step: int, amount: int) -> None:
        m = self.model
        expected = None if m.status == DRAFT else "INVALID_TRANSITION"
        if self.attempt("approve", step, expected, lambda at: self.line.approve(
                amount=gbp(amount), approval_ref="FIN-1", at=at),
                events=(BudgetLine.BudgetApproved,)):  # fmt: skip
            m.status, m.budget = ACTIVE, amount

    @rule(step=days, amount=signed, role=roles)
    def amend(self, step: int, amount: int, role: str) -> None:
        m = self.model
        expected = (
            "INVALID_TRANSITION" if m.status != ACTIVE
            else "APPROVAL_REQUIRED" if abs(amount) > TIERS.get(role, abs(amount))
            else "INSUFFICIENT_FUNDS" if amount < 0 and m.available + amount < 0
            else None
        )  # fmt: skip
        if self.attempt("amend", step, expected, lambda at: self.line.amend(
                amount=gbp(amount), approval_ref="CHG-1", at=at, rules=RULES),
                role=role, events=(BudgetLine.BudgetAmended,)):  # fmt: skip
            m.budget += amount

    @rule(step=days, limit=amounts, expiry=st.integers(min_value=0, max_value=30), role=roles)
    def authorise_overspend(self, step: int, limit: int, expiry: int, role: str) -> None:
        m = self.model
        expected = (
            "INVALID_TRANSITION" if m.status != ACTIVE
            else "VALIDATION" if expiry == 0
            else "APPROVAL_REQUIRED" if limit > TIERS.get(role, limit)
            else None
        )  # fmt: skip
        expires = self.now + timedelta(days=step + expiry)
        if self.attempt("authorise_overspend", step, expected, lambda at: (
                self.line.authorise_overspend(limit=gbp(limit), expires_at=expires, at=at,
                                              rules=RULES)),
                role=role, events=(BudgetLine.OverspendAuthorised,)):  # fmt: skip
            m.limit, m.expires = limit, expires

    # ---- requests and their approval by someone else -----------------------------------------
    @rule(step=days, amount=signed, by=people)
    def request_amendment(self, step: int, amount: int, by: str) -> None:
        expected = None if self.model.status == ACTIVE else "INVALID_TRANSITION"
        if self.attempt("request_amendment", step, expected, lambda at: (
                self.line.request_amendment(amount=gbp(amount), reason="re-plan", at=at)),
                role="manager", actor=by, events=(BudgetLine.AmendmentRequested,)):  # fmt: skip
            self.model.requests[self.stored[-1].event_id] = Request("amendment", amount, None, by)

    @rule(step=days, limit=amounts, expiry=st.integers(min_value=0, max_value=30), by=people)
    def request_overspend(self, step: int, limit: int, expiry: int, by: str) -> None:
        expected = (
            "INVALID_TRANSITION" if self.model.status != ACTIVE
            else "VALIDATION" if expiry == 0
            else None
        )  # fmt: skip
        expires = self.now + timedelta(days=step + expiry)
        if self.attempt("request_overspend", step, expected, lambda at: (
                self.line.request_overspend_authorisation(
                    limit=gbp(limit), expires_at=expires, reason="agency", at=at)),
                role="manager", actor=by,
                events=(BudgetLine.OverspendAuthorisationRequested,)):  # fmt: skip
            self.model.requests[self.stored[-1].event_id] = Request("overspend", limit, expires, by)

    @rule(step=days, choice=st.integers(0, 10), role=roles, by=people)
    def approve_request(self, step: int, choice: int, role: str, by: str) -> None:
        """Approve a request (open or not) with its own terms, as either person."""
        m = self.model
        if not m.requests:
            return
        request_id, request = list(m.requests.items())[choice % len(m.requests)]
        at = self.now + timedelta(days=step)
        expected = (
            "INVALID_TRANSITION" if m.status != ACTIVE
            else "VALIDATION" if request.expires is not None and request.expires <= at
            else "INVALID_TRANSITION" if request.status != "open"
            else "SEGREGATION_OF_DUTIES" if request.by == by
            else "APPROVAL_REQUIRED" if abs(request.amount) > TIERS.get(role, abs(request.amount))
            else "INSUFFICIENT_FUNDS" if request.kind == "amendment"
            and request.amount < 0 and m.available + request.amount < 0
            else None
        )  # fmt: skip
        if request.kind == "amendment":
            decided = self.attempt("approve_amendment", step, expected, lambda at: (
                self.line.amend(amount=gbp(request.amount), approval_ref="CHG-1", at=at,
                                rules=RULES, request_id=request_id)),
                role=role, actor=by, events=(BudgetLine.BudgetAmended,))  # fmt: skip
            m.budget += request.amount if decided else 0
        else:
            decided = self.attempt("approve_overspend", step, expected, lambda at: (
                self.line.authorise_overspend(limit=gbp(request.amount),
                                              expires_at=request.expires, at=at, rules=RULES,
                                              request_id=request_id)),
                role=role, actor=by, events=(BudgetLine.OverspendAuthorised,))  # fmt: skip
            if decided:
                m.limit, m.expires = request.amount, request.expires
        if decided:
            request.status = "approved"

    @rule(step=days, choice=st.integers(0, 10), by=people)
    def reject_request(self, step: int, choice: int, by: str) -> None:
        m = self.model
        if not m.requests:
            return
        request_id, request = list(m.requests.items())[choice % len(m.requests)]
        expected = None if request.status == "open" else "INVALID_TRANSITION"
        if self.attempt("reject_request", step, expected, lambda at: self.line.reject_request(
                request_id=request_id, reason="not now", at=at),
                role="manager", actor=by, events=(BudgetLine.RequestRejected,)):  # fmt: skip
            request.status = "rejected"

    @rule(step=days, estimate=st.integers(min_value=0, max_value=1_000_000))
    def update_forecast(self, step: int, estimate: int) -> None:
        expected = None if self.model.status == ACTIVE else "INVALID_TRANSITION"
        self.attempt("update_forecast", step, expected, lambda at: self.line.update_forecast(
            estimate_to_complete=gbp(estimate), method="run_rate", at=at),
            role="manager", events=(BudgetLine.ForecastUpdated,))  # fmt: skip
        if expected is None:
            assert self.line.estimate_to_complete_minor == estimate

    @rule(step=days, now=one_in(4))
    def freeze(self, step: int, now: bool) -> None:
        if not now:  # a frozen line refuses most spend: one draw in four tries it
            return
        m = self.model
        ok = m.status == ACTIVE and not m.frozen
        if self.attempt(
            "freeze",
            step,
            None if ok else "INVALID_TRANSITION",
            lambda at: self.line.freeze(at=at),
            events=(BudgetLine.LineFrozen,),
        ):
            m.frozen = True

    @rule(step=days)
    def unfreeze(self, step: int) -> None:
        m = self.model
        ok = m.status == ACTIVE and m.frozen
        if self.attempt(
            "unfreeze",
            step,
            None if ok else "INVALID_TRANSITION",
            lambda at: self.line.unfreeze(at=at),
            events=(BudgetLine.LineUnfrozen,),
        ):
            m.frozen = False

    @rule(step=days, now=one_in(20))
    def close(self, step: int, now: bool) -> None:
        if not now:  # a closed line takes little: only one draw in twenty tries it
            return
        ok = self.model.status in (DRAFT, ACTIVE)
        if self.attempt("close", step, None if ok else "INVALID_TRANSITION",
                        lambda at: self.line.close(at=at),
                        events=(BudgetLine.BudgetLineClosed,)):  # fmt: skip
            self.model.status = CLOSED

    # ---- spend -----------------------------------------------------------------------------
    def predict_posting(self, stage: str, ref: str, amount: int, relief: str | None,
                        at: datetime) -> tuple[str | None, int]:  # fmt: skip
        """The refusal code (or NOOP, or None) and the amount relieved."""
        m = self.model
        earlier = m.postings[stage].get(ref)
        if earlier is not None:
            same = (earlier.amount, earlier.relieves) == (amount, relief)
            return (NOOP if same else "INVALID_TRANSITION"), 0
        if stage != ACTUAL and (m.status != ACTIVE or m.frozen):
            return "INVALID_TRANSITION", 0
        relieved = 0
        if relief is not None:
            target = m.postings[PRE_ENCUMBRANCE if stage == COMMITMENT else COMMITMENT].get(relief)
            if target is None:
                return "INVALID_TRANSITION", 0
            relieved = min(amount, target.open)
        if stage != ACTUAL:
            after = m.available + relieved - amount
            if after < 0 and not m.covered(after, at):
                return "INSUFFICIENT_FUNDS", 0
        moves = {stage: amount}
        if relief is not None:
            moves[PRE_ENCUMBRANCE if stage == COMMITMENT else COMMITMENT] = relieved
        if m.beyond_bound(**moves):
            return "VALIDATION", 0
        return None, relieved

    def post(self, stage: str, step: int, ref: str, amount: int, relief: str | None) -> None:
        m = self.model
        at = self.now + timedelta(days=step)
        expected, relieved = self.predict_posting(stage, ref, amount, relief, at)
        method = {
            PRE_ENCUMBRANCE: self.line.record_pre_encumbrance,
            COMMITMENT: self.line.record_commitment,
            ACTUAL: self.line.record_actual,
        }[stage]
        event = {
            PRE_ENCUMBRANCE: BudgetLine.PreEncumbranceRecorded,
            COMMITMENT: BudgetLine.CommitmentRecorded,
            ACTUAL: BudgetLine.ActualRecorded,
        }
        after = m.available + relieved - amount
        flagged = stage == ACTUAL and after < 0
        events = (event[stage], *((BudgetLine.OverspendDetected,) if flagged else ()))
        if not self.attempt(stage, step, expected, lambda at: method(
                reference=ref, amount=gbp(amount), relieves_reference=relief, at=at),
                events=events):  # fmt: skip
            return
        if relief is not None:
            relieved_stage = PRE_ENCUMBRANCE if stage == COMMITMENT else COMMITMENT
            m.postings[relieved_stage][relief].open -= relieved
            m.moved[relieved_stage] += relieved
        m.postings[stage][ref] = Posting(amount, amount, relief)
        m.moved[stage] += amount
        if after < 0:
            note("overspend flagged" if flagged else "overspend covered by an authorisation")
            m.explained_overspend = True
        if flagged:
            assert self.line.collect_events() == []  # already saved
            assert self.stored[-1].available_minor == m.available

    @rule(step=days, ref=refs[PRE_ENCUMBRANCE], amount=amounts)
    def record_pre_encumbrance(self, step: int, ref: str, amount: int) -> None:
        self.post(PRE_ENCUMBRANCE, step, ref, amount, None)

    @rule(step=days, ref=refs[COMMITMENT], amount=amounts, relief=relieves[COMMITMENT])
    def record_commitment(self, step: int, ref: str, amount: int, relief: str | None) -> None:
        self.post(COMMITMENT, step, ref, amount, relief)

    @rule(step=days, ref=refs[ACTUAL], amount=amounts, relief=relieves[ACTUAL])
    def record_actual(self, step: int, ref: str, amount: int, relief: str | None) -> None:
        self.post(ACTUAL, step, ref, amount, relief)

    @rule(step=days, ref=refs[COMMITMENT], amount=st.one_of(st.none(), amounts),
          named=release_refs)  # fmt: skip
    def release_commitment(
        self, step: int, ref: str, amount: int | None, named: str | None = None
    ) -> None:
        m = self.model
        posting = m.postings[COMMITMENT].get(ref)
        release = None if posting is None else posting.open if amount is None else amount
        ok = posting is not None and posting.open > 0 and release is not None
        ok = ok and release <= posting.open  # type: ignore[operator,union-attr]
        expected = None if ok else "INVALID_TRANSITION"
        if named in m.releases:
            earlier_ref, earlier_amount = m.releases[named]
            same = earlier_ref == ref and amount in (None, earlier_amount)
            expected = NOOP if same else "INVALID_TRANSITION"
        elif ok and m.beyond_bound(**{COMMITMENT: release}):  # type: ignore[arg-type]
            expected = "VALIDATION"
        if self.attempt("release_commitment", step, expected,
                        lambda at: self.line.release_commitment(
                            reference=ref, amount=None if amount is None else gbp(amount), at=at,
                            release_reference=named),
                        events=(BudgetLine.CommitmentReleased,)):  # fmt: skip
            assert posting is not None and release is not None
            posting.open -= release
            m.moved[COMMITMENT] += release
            if named is not None:
                m.releases[named] = (ref, release)

    @rule(step=days, stage=st.sampled_from([PRE_ENCUMBRANCE, COMMITMENT, ACTUAL]),
          choice=st.integers(0, 10), known=st.sampled_from([True, True, True, False]))  # fmt: skip
    def reverse_posting(self, step: int, stage: str, choice: int, known: bool) -> None:
        """Reverse a posting recorded at that stage (or, one draw in four, any reference)."""
        m = self.model
        earlier = sorted(m.postings[stage]) if known else []
        ref = earlier[choice % len(earlier)] if earlier else f"{stage[:3].upper()}-{choice % 3}"
        posting = m.postings[stage].get(ref)
        expected = (
            "INVALID_TRANSITION" if posting is None
            else "ALREADY_CANCELLED" if posting.reversed
            else "INVALID_TRANSITION" if posting.open == 0
            else "VALIDATION" if m.beyond_bound(**{stage: posting.open})
            else None
        )  # fmt: skip
        if self.attempt("reverse_posting", step, expected, lambda at: self.line.reverse_posting(
                stage=stage, reference=ref, reason="keyed in error", at=at),
                events=(BudgetLine.PostingReversed,)):  # fmt: skip
            assert posting is not None
            m.moved[stage] += posting.open
            posting.open, posting.reversed = 0, True

    # ---- nudges towards the interesting cases ----------------------------------------------
    @rule(step=days, stage=st.sampled_from([PRE_ENCUMBRANCE, COMMITMENT, ACTUAL]),
          choice=st.integers(0, 10))  # fmt: skip
    def repeat_a_posting(self, step: int, stage: str, choice: int) -> None:
        """The same reference and amount again: idempotent."""
        earlier = sorted(self.model.postings[stage].items())
        if earlier:
            ref, posting = earlier[choice % len(earlier)]
            self.post(stage, step, ref, posting.amount, posting.relieves)

    @rule(step=days, ref=refs[ACTUAL], amount=huge, now=one_in(8))
    def record_a_huge_actual(self, step: int, ref: str, amount: int, now: bool) -> None:
        """Near the bound: the second such actual would take what actuals ever moved past
        it, and is refused however it is otherwise never refused."""
        if now:
            self.post(ACTUAL, step, ref, amount, None)

    @rule(step=days, ref=refs[COMMITMENT], extra=st.integers(min_value=1, max_value=60_000))
    def commit_past_the_available_balance(self, step: int, ref: str, extra: int) -> None:
        """Refused, unless an authorisation covers the overspend."""
        self.post(COMMITMENT, step, ref, max(self.model.available, 0) + extra, None)

    @rule(step=days, choice=st.integers(0, 10), part=st.integers(0, 3))
    def release_a_commitment(self, step: int, choice: int, part: int) -> None:
        """All (part 0) or a share of an existing commitment's open amount."""
        earlier = sorted(self.model.postings[COMMITMENT].items())
        if earlier:
            ref, posting = earlier[choice % len(earlier)]
            amount = None if part == 0 else max(1, posting.open // part)
            self.release_commitment(step, ref, amount, None)

    # ---- invariants ------------------------------------------------------------------------
    @invariant()
    def the_line_agrees_with_the_model(self) -> None:
        line, m = self.line, self.model
        assert (line.status, line.frozen, line.version) == (m.status, m.frozen, m.version)
        assert line.current_budget_minor == m.budget
        assert {UUID(i): r["status"] for i, r in line.requests.items()} == {
            i: r.status for i, r in m.requests.items()
        }
        assert line.available_minor == m.available
        assert line.moved_minor == m.moved
        assert {k: (r["reference"], r["amount"]) for k, r in line.releases.items()} == m.releases
        for stage in m.postings:
            assert {
                ref: (p["amount"], p["open"], p["reversed"])
                for ref, p in line.postings[stage].items()
            } == {ref: (p.amount, p.open, p.reversed) for ref, p in m.postings[stage].items()}

    @invariant()
    def available_is_budget_less_every_stage_of_spend(self) -> None:
        line = self.line
        assert line.available_minor == (
            line.current_budget_minor - line.pre_encumbered_minor - line.committed_minor
            - line.actual_minor
        )  # fmt: skip
        assert line.available == line.current_budget - line.pre_encumbered - line.committed \
            - line.actual  # fmt: skip
        totals = (line.pre_encumbered_minor, line.committed_minor, line.actual_minor)
        assert totals == tuple(
            sum(p["open"] for p in line.postings[stage].values())
            for stage in (PRE_ENCUMBRANCE, COMMITMENT, ACTUAL)
        )
        assert min(p["open"] for stages in line.postings.values()
                   for p in [*stages.values(), {"open": 0}]) >= 0  # fmt: skip
        assert sum(line.phasing_minor) == line.current_budget_minor

    @invariant()
    def a_balance_below_zero_is_explained(self) -> None:
        if self.line.available_minor < 0:
            assert self.model.explained_overspend

    @invariant()
    def the_stored_events_rebuild_an_equal_line(self) -> None:
        assert self.line.pending_events == []
        stored = list(self.app.events.get(self.line.id))
        assert stored == self.stored  # every field survives the JSON transcoder
        assert self.app.repository.get(self.line.id) == self.line


BudgetMachine.TestCase.settings = settings(BudgetMachine.TestCase.settings, stateful_step_count=40)
TestBudgetStateMachine = BudgetMachine.TestCase
