"""The complaints read model, backend-neutral: the fold, its rows and the views.

Each ComplaintCase record is folded into a :class:`CaseState`: the case's status and
classification now and, for each of its two deadlines (acknowledgement, response), the
due instant in force, when it stopped running, whether it was met and whether a deadline of
that kind was missed. It mirrors the deadline ledger of
:class:`domain.complaints.case.ComplaintCase`
from the due dates the events carry, so the view never consults a policy or a calendar.

For the deadline watcher it keeps breaches per deadline, keyed (kind, due instant) as the
case flags them: the deadlines that ended late and the breaches flagged. A flag that a
back-dated entry later disproves (an acknowledgement entered late but sent in time) then
matches no missed deadline, and cannot hide another, real breach.

Personal data stays out: the complaint's narrative, findings, responses, resolutions and
reasons are never read; nor the complainant's and patient's references (the worklist needs
neither). Instants are integer microseconds since the epoch (UTC), as every read model
stores them; the views turn them back into datetimes and bucket months in the facility's
time zone.

Views: :func:`worklist_item` (due dates, days to due, RAG), :func:`sla_by_month` (% of
deadlines met, by month of receipt) and :func:`themes_of` (category × unit × month: grade mix
and % upheld).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from domain.complaints.case import ComplaintCase
from domain.complaints.deadlines import last_day_allowed
from domain.complaints.vocabulary import GRADES, OPEN_STATES, UPHELD_VALUES
from projections.shared.records import (
    StoredRecord,
    decode_state,
    from_micros,
    is_event_of,
    to_micros,
)


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every ComplaintCase event."""
    return is_event_of(topic, ComplaintCase)


_DAY = 86_400_000_000
#: Amber when no more than this share of the time from receipt to the due instant is left
#: (and always within the last day); red once the deadline has passed.
AMBER_SHARE = 0.25

CASE_COLUMNS = (
    "id", "version", "position", "status", "kind", "policy", "received_at", "service_unit",
    "primary_category", "categories", "risk_grade", "investigator_ref", "upheld",
    "acknowledged_at", "responded_at", "closed_at", "breaches", "missed",
    "ack_due_at", "ack_ended_at", "ack_met", "ack_missed",
    "response_due_at", "response_ended_at", "response_met", "response_missed",
    "late_deadlines", "flagged_deadlines",
    "is_open", "next_due_at", "unflagged_missed", "next_unflagged_due_at",
)  # fmt: skip
_BOOLEAN = frozenset({"ack_met", "ack_missed", "response_met", "response_missed", "is_open"})
#: Columns computed from the others when a row is written (not read back).
_DERIVED = ("is_open", "next_due_at", "missed", "unflagged_missed", "next_unflagged_due_at")
#: The (kind, due instant) pairs kept as JSON; ``kind`` is "ack" or "response".
_PAIRS = ("late_deadlines", "flagged_deadlines")
_KIND = {"acknowledgement": "ack", "response": "response"}


@dataclasses.dataclass
class CaseState:
    """One case as the view holds it (instants in microseconds)."""

    id: str
    version: int = 0
    position: int = 0
    status: str = ""
    kind: str | None = None
    policy: str = ""
    received_at: int = 0
    service_unit: str | None = None
    primary_category: str | None = None
    categories: list[str] = dataclasses.field(default_factory=list)
    risk_grade: str | None = None
    investigator_ref: str | None = None
    upheld: str | None = None
    acknowledged_at: int | None = None
    responded_at: int | None = None
    closed_at: int | None = None
    #: SlaBreached facts recorded.
    breaches: int = 0
    ack_due_at: int | None = None
    ack_ended_at: int | None = None
    ack_met: bool = False
    ack_missed: bool = False
    response_due_at: int | None = None
    response_ended_at: int | None = None
    response_met: bool = False
    response_missed: bool = False
    #: [kind, due] of each deadline that ended after its due instant, and of each breach
    #: flagged (``kind``: "ack" or "response").
    late_deadlines: list[list[Any]] = dataclasses.field(default_factory=list)
    flagged_deadlines: list[list[Any]] = dataclasses.field(default_factory=list)

    # ---- the deadline ledger ---------------------------------------------------------
    def end(self, kind: str, at: int, *, met: bool) -> None:
        """The running deadline of ``kind`` stops at ``at`` (met or not)."""
        due, ended = getattr(self, f"{kind}_due_at"), getattr(self, f"{kind}_ended_at")
        if due is None or ended is not None:
            return
        setattr(self, f"{kind}_ended_at", at)
        setattr(self, f"{kind}_met", met)
        if at > due:
            setattr(self, f"{kind}_missed", True)
            if [kind, due] not in self.late_deadlines:
                self.late_deadlines.append([kind, due])

    def flag(self, deadline: str, due: int) -> None:
        self.breaches += 1
        if [_KIND[deadline], due] not in self.flagged_deadlines:
            self.flagged_deadlines.append([_KIND[deadline], due])

    def run_response(self, due: int, at: int) -> None:
        """A new response deadline replaces the running one (an extension or an interim)."""
        self.end("response", at, met=False)
        self.response_due_at, self.response_ended_at, self.response_met = due, None, False

    def _running(self) -> list[list[Any]]:
        return [
            [kind, due]
            for kind, due, ended in (
                ("ack", self.ack_due_at, self.ack_ended_at),
                ("response", self.response_due_at, self.response_ended_at),
            )
            if due is not None and ended is None
        ]

    @property
    def next_due_at(self) -> int | None:
        return min((due for _, due in self._running()), default=None)

    @property
    def missed(self) -> int:
        """Deadlines that ended after their due instant."""
        return len(self.late_deadlines)

    @property
    def unflagged_missed(self) -> int:
        """Deadlines that ended after their due instant and whose breach is not flagged."""
        return sum(pair not in self.flagged_deadlines for pair in self.late_deadlines)

    @property
    def next_unflagged_due_at(self) -> int | None:
        """The earliest due instant of a running deadline whose breach is not flagged: the
        watcher has work once it passes."""
        return min(
            (due for kind, due in self._running() if [kind, due] not in self.flagged_deadlines),
            default=None,
        )

    # ---- rows ------------------------------------------------------------------------
    def row(self) -> tuple[Any, ...]:
        values = dataclasses.asdict(self)
        for name in ("categories", *_PAIRS):
            values[name] = json.dumps(values[name])
        values["is_open"] = self.status in OPEN_STATES
        for name in _DERIVED[1:]:
            values[name] = getattr(self, name)
        return tuple(int(values[c]) if c in _BOOLEAN else values[c] for c in CASE_COLUMNS)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> CaseState:
        values = dict(zip(CASE_COLUMNS, row, strict=True))
        for name in _DERIVED:
            del values[name]
        for name in ("categories", *_PAIRS):
            values[name] = json.loads(values[name])
        for name in _BOOLEAN - {"is_open"}:
            values[name] = bool(values[name])
        return cls(**values)


def fold(state: CaseState | None, record: StoredRecord) -> CaseState:
    """The case after one more record, as the view sees it."""
    kind = record.topic.rsplit(".", 1)[-1]
    event = decode_state(record.state)
    at = to_micros(event["occurred_at"])
    assert at is not None
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
        state.flag(event["deadline"], _micros(event["due_at"]))
    elif kind == "ComplaintAcknowledged":
        state.status, state.acknowledged_at = "acknowledged", at
        state.end("ack", at, met=True)
    elif kind in ("InvestigationStarted", "InformationReceived"):
        state.status = "under_investigation"
    elif kind == "ComplaintReopened":
        state.status, state.closed_at = "under_investigation", None
        if event.get("response_due_at") is not None:  # absent from events before it was kept
            state.run_response(_micros(event["response_due_at"]), at)
    elif kind == "InformationRequested":
        state.status = "awaiting_information"
    elif kind == "ResponseDeadlineExtended":
        state.run_response(_micros(event["response_due_at"]), at)
    elif kind == "InterimResponseSent":
        due = _micros(event["response_due_at"])
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


def _micros(moment: datetime) -> int:
    micros = to_micros(moment)
    assert micros is not None
    return micros


# ---- the worklist ---------------------------------------------------------------------------
class WorklistItem(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """One open case. ``daysToDue`` counts local days from today to the day the next
    deadline ends (0: due today; negative: overdue). Beside each due instant (the exclusive
    end of its deadline), ``…DueOn`` is the last local day allowed."""

    id: str
    version: int
    status: str
    kind: str | None
    policy: str
    received_at: datetime
    service_unit: str | None
    primary_category: str | None
    risk_grade: str | None
    investigator_ref: str | None
    acknowledgement_due_at: datetime | None
    acknowledgement_due_on: date | None
    acknowledged_at: datetime | None
    response_due_at: datetime | None
    response_due_on: date | None
    responded_at: datetime | None
    next_deadline: str | None
    next_due_at: datetime | None
    next_due_on: date | None
    days_to_due: int | None
    overdue: bool
    rag: str
    breaches: int


def worklist_item(state: CaseState, now: datetime, zone: ZoneInfo) -> WorklistItem:
    now_us = _micros(now)
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
        policy=state.policy, received_at=_datetime(state.received_at),
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


# ---- SLA compliance by month ----------------------------------------------------------------
class Compliance(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Deadlines of the month's cases: met in time, missed, still running in time, and
    those that ended unmet but not late (withdrawn, resolved on the spot)."""

    on_time: int
    late: int
    pending: int
    not_applicable: int
    #: on time ÷ (on time + late), in %, 1 decimal; None when none was decided.
    percent_on_time: float | None


class SlaMonth(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    month: str  # YYYY-MM, in the facility's time zone
    received: int
    acknowledged: Compliance
    responded: Compliance


def deadline_outcome(due: int | None, ended: int | None, met: bool, missed: bool, now: int) -> str:
    if due is None:
        return "not_applicable"
    if missed or (ended is None and due < now):
        return "late"
    if ended is None:
        return "pending"
    return "on_time" if met else "not_applicable"


def sla_by_month(
    states: Iterable[CaseState], start: datetime, end: datetime, now: datetime, zone: ZoneInfo
) -> list[SlaMonth]:
    """Every month from ``start``'s to the one before ``end`` (local), with the cases
    received in it."""
    now_us = _micros(now)
    counts: dict[str, dict[str, dict[str, int]]] = {
        month: {"ack": _zero(), "response": _zero(), "received": {"n": 0}}
        for month in _months(start, end, zone)
    }
    for state in states:
        month = _month_of(state.received_at, zone)
        if month not in counts:
            continue
        bucket = counts[month]
        bucket["received"]["n"] += 1
        bucket["ack"][
            deadline_outcome(
                state.ack_due_at, state.ack_ended_at, state.ack_met, state.ack_missed, now_us
            )
        ] += 1
        bucket["response"][
            deadline_outcome(
                state.response_due_at, state.response_ended_at, state.response_met,
                state.response_missed, now_us,
            )
        ] += 1  # fmt: skip
    return [
        SlaMonth(
            month=month,
            received=bucket["received"]["n"],
            acknowledged=_compliance(bucket["ack"]),
            responded=_compliance(bucket["response"]),
        )  # fmt: skip
        for month, bucket in counts.items()
    ]


def _zero() -> dict[str, int]:
    return {"on_time": 0, "late": 0, "pending": 0, "not_applicable": 0}


def _compliance(counts: dict[str, int]) -> Compliance:
    decided = counts["on_time"] + counts["late"]
    percent = round(100 * counts["on_time"] / decided, 1) if decided else None
    return Compliance(**counts, percent_on_time=percent)


# ---- themes ---------------------------------------------------------------------------------
class Theme(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Cases of one category in one unit received in one month (a case with several
    categories counts in each)."""

    category: str
    unit: str | None
    month: str
    cases: int
    #: low, moderate, high, extreme and ungraded
    grades: dict[str, int]
    #: yes, partly, no and undecided (no findings yet)
    upheld: dict[str, int]
    #: upheld in full or in part ÷ cases with findings, in %, 1 decimal; None without any.
    percent_upheld: float | None


def themes_of(states: Iterable[CaseState], zone: ZoneInfo) -> list[Theme]:
    groups: dict[tuple[str, str, str], list[CaseState]] = {}
    for state in states:
        month = _month_of(state.received_at, zone)
        categories = dict.fromkeys(state.categories)
        if state.primary_category is not None:
            categories[state.primary_category] = None
        for category in categories:
            key = (category, state.service_unit or "", month)
            groups.setdefault(key, []).append(state)
    themes = []
    for (category, unit, month), cases in sorted(groups.items()):
        grades = {grade: 0 for grade in (*GRADES, "ungraded")}
        upheld = {value: 0 for value in (*UPHELD_VALUES, "undecided")}
        for case in cases:
            grades[case.risk_grade or "ungraded"] += 1
            upheld[case.upheld or "undecided"] += 1
        decided = len(cases) - upheld["undecided"]
        percent = round(100 * (upheld["yes"] + upheld["partly"]) / decided, 1) if decided else None
        themes.append(
            Theme(
                category=category,
                unit=unit or None,
                month=month,
                cases=len(cases),
                grades=grades,
                upheld=upheld,
                percent_upheld=percent,
            )  # fmt: skip
        )
    return themes


# ---- months in the facility's time zone -----------------------------------------------------
def _datetime(micros: int) -> datetime:
    moment = from_micros(micros)
    assert moment is not None
    return moment


def _month_of(micros: int, zone: ZoneInfo) -> str:
    return _datetime(micros).astimezone(zone).strftime("%Y-%m")


def _months(start: datetime, end: datetime, zone: ZoneInfo) -> list[str]:
    first = start.astimezone(zone).date().replace(day=1)
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    months: list[str] = []
    month = first
    while month <= last:
        months.append(month.strftime("%Y-%m"))
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months
