"""SLA compliance by month of receipt: how many of each month's deadlines were met.

Each case's two deadlines (acknowledgement, response) are counted in the month the case was
received (in the facility's time zone): met in time, missed, still running in time, or ended
unmet but not late (withdrawn, resolved on the spot). The percentage is of the deadlines
decided, so cases still running do not dilute it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from projections.complaints.case_state import CaseState
from projections.complaints.instants import micros, month_of, months_between


class Compliance(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Deadlines of the month's cases: met in time, missed, still running in time, and
    those that ended unmet but not late (withdrawn, resolved on the spot)."""

    #: Deadlines met in time.
    on_time: int
    #: Deadlines missed: ended after their due instant, or still running past it.
    late: int
    #: Deadlines still running, not yet due.
    pending: int
    #: Deadlines the policy does not set, or that ended unmet but not late (withdrawn, resolved on
    #: the spot).
    not_applicable: int
    #: on time ÷ (on time + late), in %, 1 decimal; None when none was decided.
    percent_on_time: float | None


class SlaMonth(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    #: The month of receipt, YYYY-MM, in the facility's time zone.
    month: str
    #: How many cases were received in the month.
    received: int
    #: The acknowledgement deadlines of the month's cases.
    acknowledged: Compliance
    #: The response deadlines of the month's cases.
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
    now_us = micros(now)
    counts: dict[str, dict[str, dict[str, int]]] = {
        month: {"ack": _zero(), "response": _zero(), "received": {"n": 0}}
        for month in months_between(start, end, zone)
    }
    for state in states:
        month = month_of(state.received_at, zone)
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
