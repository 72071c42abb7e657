"""Compensating events: a fact is never edited; a later fact cancels it (domain-spec §0).

An aggregate that supports compensations keeps a ``flow_log``: for every flow event,
the values of its ``FLOW_FIELDS`` just before it. Cancelling the fact restores them, so
"the state before it" is exact, whatever the fact had changed. Only the latest
effective fact can be cancelled: cancelling an admission after a transfer would leave
the transfer hanging, so the transfer must be cancelled first (as HL7 v2 A11/A12 expect).

The functions are pure, over the log and the values: an event's ``apply`` appends the entry
:func:`remembered` gives and assigns what :func:`restored` gives, and a command asks
:func:`compensation_target` for the entry to cancel (or the refusal) before its event.
"""

from __future__ import annotations

from collections.abc import Collection
from operator import attrgetter
from typing import Any, TypedDict
from uuid import UUID

from domain.shared.errors import AlreadyCancelledError, InvalidTransitionError


class FlowEntry(TypedDict):
    """One flow fact of the log: its event, and the flow state just before it."""

    event_id: str
    kind: str
    cancelled: bool
    before: dict[str, Any]


FlowLog = list[FlowEntry]


# ---- what an event's apply() records and restores ----------------------------------
def remembered(holder: object, fields: tuple[str, ...], kind: str, event_id: UUID) -> FlowEntry:
    """The entry for the fact ``event_id`` of ``kind``: the values of ``fields`` on ``holder``
    that the event being applied is about to replace.

    Projections replay every event through here, so it is kept cheap: one attribute read per
    field, and only the lists copied."""
    before = dict(zip(fields, attrgetter(*fields)(holder), strict=True))
    for name, value in before.items():
        if isinstance(value, list):
            before[name] = _copy(value)
    return {"event_id": str(event_id), "kind": kind, "cancelled": False, "before": before}


def entry_for(flow_log: FlowLog, event_id: UUID) -> FlowEntry:
    """The log's entry of the fact ``event_id`` (a compensation's command checked it is there)."""
    return next(e for e in flow_log if e["event_id"] == str(event_id))


def restored(entry: FlowEntry) -> dict[str, Any]:
    """The flow state to assign when the fact of ``entry`` is cancelled: the state before it,
    copied so the log's history is not aliased by the live state."""
    return {name: _copy(value) for name, value in entry["before"].items()}


# ---- used by command methods: the checks -------------------------------------------
def compensation_target(
    flow_log: FlowLog,
    kind: str,
    corrects_event_id: UUID | None,
    *,
    status: str,
    allowed_states: Collection[str],
) -> FlowEntry:
    """The flow entry a compensation of ``kind`` would cancel, or the refusal."""
    candidates = [entry for entry in flow_log if entry["kind"] == kind]
    if corrects_event_id is not None:
        named = [e for e in candidates if e["event_id"] == str(corrects_event_id)]
        if not named:
            raise InvalidTransitionError(
                f"correctsEventId does not name a {kind} event of this visit",
                field="correctsEventId",
            )
        target = named[0]
    elif candidates:
        target = candidates[-1]
    else:
        raise InvalidTransitionError(f"there is no {kind} event to cancel")
    if target["cancelled"]:
        raise AlreadyCancelledError(f"that {kind} event is already cancelled")
    if status not in allowed_states:
        raise InvalidTransitionError(f"cannot cancel {kind} while the visit is {status}")
    effective = [e for e in flow_log if not e["cancelled"]]
    if effective[-1] is not target:
        raise InvalidTransitionError(f"later changes depend on that {kind}: cancel them first")
    return target


def _copy(value: Any) -> Any:
    """Lists of dicts (location periods) are copied so history is not aliased."""
    if isinstance(value, list):
        return [dict(item) if isinstance(item, dict) else item for item in value]
    return value
