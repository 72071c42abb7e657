"""Erasing a data subject's personal free text: destroy the keys, then certify.

An erasure has two steps, in two stores, and may stop between them:

1. the key vault destroys every live data key of the subject and notes the erasure (who, why,
   when, which keys), in one transaction: from its commit on, every read of the subject's
   sealed text, in every process, reads it as erased;
2. the certificate (:class:`~domain.privacy.erasure.DataErasure`) is recorded in the event
   log with what the destroyed keys sealed, found by the inventory, and the vault notes it
   certified.

An erasure interrupted after step 1 is certified by the next erasure of the same subject
(or the retention job's next pass), so none is left without its certificate; the
certificate's command has the erasure's id as its idempotency key, so it is recorded once.
Erasing a subject again, with no live key left, erases nothing and answers with the last
certificate: erasure is idempotent; a privacy officer's repeated request is recorded on that
certificate (``ErasureRequestedAgain``), so it is in the trail too. A subject written about
again after an erasure has a new key, and a new erasure covers that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

import structlog

from application.privacy.commands import CertifyErasure, RecordRepeatedErasure
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.idempotency import CommandIdentity
from domain.privacy.erasure import REQUEST

log = structlog.get_logger("privacy")

#: The idempotency scope of certificates: one per erasure id.
CERTIFICATE_SCOPE = "privacy-erasure"


@dataclass(frozen=True)
class ErasureRecord:
    """An erasure as the key vault holds it: enough to certify it later."""

    erasure_id: UUID
    subject_ref: str
    basis: str
    actor_id: str
    actor_role: str
    correlation_id: str
    reason: str
    erased_at: datetime
    key_ids: tuple[str, ...] = ()
    certified: bool = False


@dataclass(frozen=True)
class Inventory:
    """What a subject's records held: ``records`` the events whose fields were sealed under
    the given keys, ``unsealed_records`` those holding the subject's text in plain (stored
    before sealing began), each ``{"aggregate_type", "aggregate_id", "events": [{"version",
    "fields"}]}``; ``data_kinds`` the kinds of text, in words."""

    records: list[dict[str, Any]] = field(default_factory=list)
    unsealed_records: list[dict[str, Any]] = field(default_factory=list)
    data_kinds: list[str] = field(default_factory=list)


class SubjectKeys(Protocol):
    """The key vault, as an erasure needs it."""

    def destroy(self, erasure: ErasureRecord) -> ErasureRecord | None:
        """Destroy the subject's live keys and note the erasure, in one transaction; the
        erasure with the destroyed keys' ids, or None when the subject has no live key and
        was erased before (nothing is noted then)."""

    def erasures_of(self, subject_ref: str) -> list[ErasureRecord]:
        """The subject's erasures, oldest first."""

    def mark_certified(self, erasure_id: UUID) -> None: ...

    def uncertified(self) -> list[ErasureRecord]:
        """Every erasure whose certificate is not recorded yet."""


#: The inventory of one subject's text under the given (destroyed) key ids.
TakeInventory = Callable[[str, frozenset[str]], Inventory]


@dataclass(frozen=True)
class ErasureOutcome:
    erasure_id: UUID
    #: False when the subject had been erased already (the earlier erasure's id).
    created: bool
    #: The certificate's log position when this call recorded it (for ``minPosition``).
    position: int | None = None


class Erasures:
    def __init__(
        self, services: PatientServices, keys: SubjectKeys, inventory: TakeInventory
    ) -> None:
        self.services = services
        self.keys = keys
        self.inventory = inventory

    def erase(
        self, subject_ref: str, reason: str, context: RequestContext, *, basis: str
    ) -> ErasureOutcome:
        """Erase the subject's personal free text (see the module's docstring)."""
        self._certify_all(e for e in self.keys.erasures_of(subject_ref) if not e.certified)
        wanted = ErasureRecord(
            erasure_id=uuid4(), subject_ref=subject_ref, basis=basis,
            actor_id=context.actor_id, actor_role=context.actor_role,
            correlation_id=context.correlation_id, reason=reason,
            erased_at=self.services.clock(),
        )  # fmt: skip
        erased = self.keys.destroy(wanted)
        if erased is None:
            last = self.keys.erasures_of(subject_ref)[-1]
            position = None if last.certified else self._certify(last)
            if basis == REQUEST:  # a person asked: on the trail (the retention job re-asks)
                repeat = RecordRepeatedErasure(reason=reason)
                position = self.services.execute(repeat, context, target=last.erasure_id).position
            return ErasureOutcome(last.erasure_id, created=False, position=position)
        log.info(
            "privacy.subject_erased", erasure_id=str(erased.erasure_id), basis=basis,
            keys=len(erased.key_ids), correlation_id=context.correlation_id,
        )  # fmt: skip
        position = self._certify(erased)
        return ErasureOutcome(erased.erasure_id, created=True, position=position)

    def complete_interrupted(self) -> int:
        """Certify every erasure that stopped between its two steps; returns how many."""
        pending = self.keys.uncertified()
        self._certify_all(pending)
        return len(pending)

    def _certify_all(self, erasures: Iterable[ErasureRecord]) -> None:
        for erasure in erasures:
            self._certify(erasure)

    def _certify(self, erasure: ErasureRecord) -> int:
        """Record the erasure's certificate (once: a repeat replays it); its log position."""
        found = self.inventory(erasure.subject_ref, frozenset(erasure.key_ids))
        command = CertifyErasure(
            erasure_id=erasure.erasure_id, subject_ref=erasure.subject_ref, basis=erasure.basis,
            key_ids=list(erasure.key_ids), data_kinds=found.data_kinds, records=found.records,
            unsealed_records=found.unsealed_records, occurred_at=erasure.erased_at,
            reason=erasure.reason,
        )  # fmt: skip
        context = RequestContext(
            actor_id=erasure.actor_id, actor_role=erasure.actor_role,
            correlation_id=erasure.correlation_id,
        )  # fmt: skip
        key = str(erasure.erasure_id)
        identity = CommandIdentity(
            scope=CERTIFICATE_SCOPE,
            key=key,
            fingerprint=CommandIdentity.fingerprint_of(key),
        )
        result = self.services.execute(command, context, identity=identity)
        self.keys.mark_certified(erasure.erasure_id)
        return result.position
