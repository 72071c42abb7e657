"""The rules of a complaint's lifecycle: which status allows a step, the order of steps in
time, and what classifying, assigning and closing a case need (domain-spec §2).

Pure functions over the case's values: a command of :class:`~domain.complaints.case.ComplaintCase`
calls them before it triggers its event, and each raises the domain's errors (naming the
wire field at fault) or returns what the event records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from domain.complaints.vocabulary import BEFORE_RESPONSE, CONCERN_RESOLVED_ON_SPOT, RESPONSE_SENT
from domain.shared.errors import InvalidTransitionError, TimestampOrderError


# ---- the guards every command shares ---------------------------------------------------
def require_status(status: str, allowed: Collection[str], *, action: str) -> None:
    if status not in allowed:
        raise InvalidTransitionError(f"cannot {action} a complaint that is {status}")


def require_no_response(
    status: str, final_response: Mapping[str, Any] | None, *, action: str
) -> None:
    """Before the current final response: a reopened case awaits a new one (its
    ``responded_at`` keeps the first), so interims and extensions work again."""
    require_status(status, BEFORE_RESPONSE, action=action)
    if final_response is not None:
        raise InvalidTransitionError(f"cannot {action} a complaint already responded to")


def check_after_receipt(received_at: datetime, at: datetime) -> None:
    """Facts about the case (no step of its lifecycle) may be late entries, but never
    before the complaint was received."""
    if at < received_at:
        raise TimestampOrderError("the time is before the complaint was received")


def check_order(last_step_at: datetime, at: datetime, step: str) -> None:
    """Steps of the lifecycle never go back in time (late entries may, before them)."""
    if at < last_step_at:
        raise TimestampOrderError(f"the {step} time is before an earlier step of the case")


# ---- facts about the case ----------------------------------------------------------------
def check_kind(kind: str, *, investigated: bool) -> None:
    """Once investigated, a case closes with findings and a response (see
    :func:`staff_for_closing`): it can no longer be a concern resolved on the spot."""
    if kind == CONCERN_RESOLVED_ON_SPOT and investigated:
        raise InvalidTransitionError(
            "a complaint under investigation cannot be a concern resolved on the spot",
            field="kind",
        )


def check_new_investigator(investigator_ref: str, current: str | None) -> None:
    if investigator_ref == current:
        raise InvalidTransitionError(
            "that investigator is already assigned", field="investigatorRef"
        )


# ---- closing -------------------------------------------------------------------------------
def staff_for_closing(
    staff_present: list[str] | None, *, kind: str | None, status: str,
    investigated: bool, reopened_count: int, has_findings: bool,
) -> list[str]:  # fmt: skip
    """The staff present a closing records (blank names dropped), once the case may close:
    it needs findings and a sent final response; a concern resolved on the spot needs only
    the staff present — unless it was investigated or reopened: then it closes like any
    complaint."""
    staff = [s for s in staff_present or [] if s.strip()]
    on_the_spot = (
        kind == CONCERN_RESOLVED_ON_SPOT
        and status != RESPONSE_SENT
        and not investigated
        and not reopened_count
    )
    if on_the_spot:
        if not staff:
            raise InvalidTransitionError(
                "a concern resolved on the spot names the staff present", field="staffPresent"
            )
    else:
        if not has_findings:
            raise InvalidTransitionError("a case cannot be closed without findings")
        if status != RESPONSE_SENT:
            raise InvalidTransitionError(
                "a case cannot be closed before its final response is sent"
            )
    return staff
