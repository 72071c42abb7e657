"""A complaint case as the complaints read model holds it: :class:`CaseState` and its row.

The state mirrors the deadline ledger of :class:`domain.complaints.case.ComplaintCase` from
the due dates the events carry (:mod:`projections.complaints.worklist` folds them into it):
for each of its two deadlines (acknowledgement, response), the due instant in force, when it
stopped running, whether it was met and whether a deadline of that kind was missed.

For the deadline watcher it keeps breaches per deadline, keyed (kind, due instant) as the
case flags them: the deadlines that ended late and the breaches flagged. A flag that a
back-dated entry later disproves (an acknowledgement entered late but sent in time) then
matches no missed deadline, and cannot hide another, real breach.

A row holds the state's fields in :data:`CASE_COLUMNS` order, with the derived columns the
store indexes (``is_open``, ``next_due_at``, ...) computed on the way out and dropped on the
way back in. Instants are integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from domain.complaints.vocabulary import OPEN_STATES

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
