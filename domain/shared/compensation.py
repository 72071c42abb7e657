"""Compensating events: a fact is never edited; a later fact cancels it (domain-spec §0).

An aggregate that supports compensations keeps a ``flow_log``: for every flow event,
the values of its ``FLOW_FIELDS`` just before it. Cancelling the fact restores them, so
"the state before it" is exact, whatever the fact had changed. Only the latest
effective fact can be cancelled: cancelling an admission after a transfer would leave
the transfer hanging, so the transfer must be cancelled first (as HL7 v2 A11/A12 expect).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, ClassVar
from uuid import UUID

from domain.shared.base import event_id_for
from domain.shared.errors import AlreadyCancelledError, InvalidTransitionError


class CompensableFlow:
    FLOW_FIELDS: ClassVar[tuple[str, ...]] = ()

    id: UUID
    version: int
    status: str
    flow_log: list[dict[str, Any]]

    # ---- used by event ``apply`` bodies: assignments only ------------------------
    def remember_flow(self, kind: str, event_id: UUID | None = None) -> None:
        """Save the flow state the event being applied is about to replace.

        ``event_id`` is the applied event's own id (every event carries it); computing it
        from the version instead is the fallback. Projections replay every event through
        here, so it is kept cheap: one attribute read per field, and only the lists copied."""
        before = dict(zip(self.FLOW_FIELDS, _flow_values(self), strict=True))
        for name, value in before.items():
            if isinstance(value, list):
                before[name] = _copy(value)
        if event_id is None:
            event_id = event_id_for(self.id, self.version + 1)
        self.flow_log.append(
            {"event_id": str(event_id), "kind": kind, "cancelled": False, "before": before}
        )

    def restore_before(self, corrects_event_id: UUID) -> None:
        entry = next(e for e in self.flow_log if e["event_id"] == str(corrects_event_id))
        entry["cancelled"] = True
        for name, value in entry["before"].items():
            setattr(self, name, _copy(value))

    # ---- used by command methods: the checks -------------------------------------
    def compensation_target(
        self, kind: str, corrects_event_id: UUID | None, allowed_states: frozenset[str]
    ) -> dict[str, Any]:
        """The flow entry a compensation of ``kind`` would cancel, or the refusal."""
        candidates = [entry for entry in self.flow_log if entry["kind"] == kind]
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
        if self.status not in allowed_states:
            raise InvalidTransitionError(f"cannot cancel {kind} while the visit is {self.status}")
        effective = [e for e in self.flow_log if not e["cancelled"]]
        if effective[-1] is not target:
            raise InvalidTransitionError(f"later changes depend on that {kind}: cancel them first")
        return target


def _flow_values(aggregate: CompensableFlow) -> tuple[Any, ...]:
    return attrgetter(*aggregate.FLOW_FIELDS)(aggregate)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    """Lists of dicts (location periods) are copied so history is not aliased."""
    if isinstance(value, list):
        return [dict(item) if isinstance(item, dict) else item for item in value]
    return value
