"""The deadline watcher: records ``SlaBreached`` once per breached complaint deadline.

It runs beside the projection workers in every ``serve``/``project`` process, so several may
run at once, and it may stop at any instant. Exactly once holds anyway, by two locks that do
not depend on timing:

* the case itself refuses a second flag of the same (deadline, due instant), and decides from
  its own events whether a deadline is breached (the read model only narrows the candidates,
  so a lagging read model delays a flag, never invents one);
* each flag is a command with a deterministic idempotency key (case, deadline, due instant):
  a watcher that loses the race to another gets the first result back (``replayed``) and
  records nothing, not even a refused attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID, uuid4

import msgspec
import structlog

from application.complaints.commands import SYSTEM, FlagSlaBreach
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import NotFoundError
from application.shared.idempotency import CommandIdentity
from domain.complaints.case import ComplaintCase

log = structlog.get_logger("deadlines")

WATCHER_ID = "system:deadline-watcher"

#: Cases with a running deadline due before the instant given (may include cases that are
#: no longer breached or already flagged: the case decides).
CandidateCases = Callable[[datetime], Iterable[UUID]]


class DeadlineWatcher:
    def __init__(self, services: PatientServices, candidates: CandidateCases) -> None:
        self.services = services
        self.candidates = candidates

    def check(self) -> int:
        """One pass: flag every breach not yet flagged; returns how many this pass recorded."""
        now = self.services.clock()
        context = RequestContext(
            actor_id=WATCHER_ID, actor_role=SYSTEM, correlation_id=f"deadline-watch-{uuid4()}"
        )
        recorded = 0
        for case_id in self.candidates(now):
            try:
                case = self.services.get_aggregate(case_id, ComplaintCase)
            except NotFoundError:
                continue  # a read model row ahead of a rebuilt store: nothing to flag
            for breach in case.breached_deadlines(now):
                command = FlagSlaBreach(deadline=breach["deadline"], due_at=breach["due_at"])
                result = self.services.execute(
                    command, context, target=case_id, identity=_identity(case_id, command)
                )
                if not result.replayed:
                    recorded += 1
                    log.info(
                        "complaint.sla_breached", aggregate_id=str(case_id),
                        deadline=command.deadline, position=result.position,
                    )  # fmt: skip
        return recorded


def _identity(case_id: UUID, command: FlagSlaBreach) -> CommandIdentity:
    key = f"{case_id}/{command.deadline}/{command.due_at.isoformat()}"
    return CommandIdentity(
        scope=WATCHER_ID,
        key=key,
        fingerprint=CommandIdentity.fingerprint_of(key, msgspec.json.encode(command)),
    )
