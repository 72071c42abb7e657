"""The offer expiry job: passes on every waitlist offer past its time.

It runs beside the projection workers in every ``serve``/``project`` process, like the
complaint deadline watcher, so several may run at once. The read model only names candidates;
each waitlist decides from its own events whether an offer is due, and each expiry is a
command with a deterministic idempotency key (entry, offered slot), so a job that loses the
race to another gets the first result back and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID, uuid4

import msgspec
import structlog

from application.capacity.commands import SYSTEM, ExpireOffer
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import NotFoundError
from application.shared.idempotency import CommandIdentity
from domain.capacity.identity import waitlist_id_for
from domain.capacity.waitlist import ScheduleWaitlist
from domain.shared.errors import DomainError

log = structlog.get_logger("waitlist")

JOB_ID = "system:offer-expiry"

#: (schedule id, entry id) of offers due by the instant given (the waitlist decides).
CandidateOffers = Callable[[datetime], Iterable[tuple[UUID, UUID]]]


class OfferExpiry:
    def __init__(self, services: PatientServices, candidates: CandidateOffers) -> None:
        self.services = services
        self.candidates = candidates

    def check(self) -> int:
        """One pass: pass on every offer due; returns how many this pass passed on."""
        now = self.services.clock()
        context = RequestContext(
            actor_id=JOB_ID, actor_role=SYSTEM, correlation_id=f"offer-expiry-{uuid4()}"
        )
        passed = 0
        for schedule_id in {schedule for schedule, _ in self.candidates(now)}:
            try:
                waitlist = self.services.get_aggregate(
                    waitlist_id_for(schedule_id), ScheduleWaitlist
                )
            except NotFoundError:
                continue  # a read model row ahead of a rebuilt store
            for entry_id in waitlist.due_offers(now):
                offer = waitlist.entries[entry_id]["offer"]
                command = ExpireOffer(entry_id=entry_id)
                try:
                    result = self.services.execute(
                        command, context, target=schedule_id,
                        identity=_identity(entry_id, offer, command),
                    )  # fmt: skip
                except DomainError as refused:  # accepted or declined meanwhile: go on
                    log.info("waitlist.offer_moved_on", code=refused.code)
                    continue
                if not result.replayed:
                    passed += 1
                    log.info("waitlist.offer_expired", schedule_id=str(schedule_id),
                             position=result.position)  # fmt: skip
        return passed


def _identity(entry_id: UUID, offer: dict[str, datetime], command: ExpireOffer) -> CommandIdentity:
    # The entry's id is the patient's on this waitlist for good, and a patient may be offered
    # the same slot again after leaving and rejoining: the offer's expiry makes it this offer.
    key = f"{entry_id}/{offer['start'].isoformat()}/{offer['expires_at'].isoformat()}"
    return CommandIdentity(
        scope=JOB_ID, key=key,
        fingerprint=CommandIdentity.fingerprint_of(key, msgspec.json.encode(command)),
    )  # fmt: skip
