"""Durable idempotency: one tiny aggregate per command identity.

The record is saved in the same ``save()`` (one transaction) as the command's
events, so either both are stored or neither is; a concurrent duplicate loses on the
record's primary key. A replay answers from the record, without running the command
again. Only accepted commands are recorded: a refused command records nothing, so
repeating it runs it again (and most likely is refused again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:patient-services:command")


@dataclass(frozen=True)
class CommandIdentity:
    """What makes two requests "the same command".

    ``scope`` keeps callers apart (a user's Idempotency-Key, or a feed's source
    system), ``key`` is the caller's key, ``fingerprint`` hashes what was asked so a
    reused key with another request can be told apart.
    """

    scope: str
    key: str
    fingerprint: str

    @property
    def command_id(self) -> UUID:
        return uuid5(_NAMESPACE, f"{self.scope}\n{self.key}")

    @staticmethod
    def fingerprint_of(*parts: bytes | str) -> str:
        digest = hashlib.sha256()
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
        return digest.hexdigest()


class CommandRecord(Aggregate):
    """The first outcome of a command identity (its id is the command id)."""

    if TYPE_CHECKING:
        # What Accepted.apply sets, declared for the type checker only: annotations in the
        # class body would make eventsourcing turn the aggregate into a dataclass.
        fingerprint: str
        aggregate_id: UUID
        result_version: int
        created: bool

    class Accepted(Aggregate.Created):
        fingerprint: str
        aggregate_id: UUID
        version: int
        created: bool

        def apply(self, record: CommandRecord) -> None:
            record.fingerprint = self.fingerprint
            record.aggregate_id = self.aggregate_id
            record.result_version = self.version
            record.created = self.created

    @classmethod
    def accept(
        cls, identity: CommandIdentity, *, aggregate_id: UUID, version: int, created: bool
    ) -> CommandRecord:
        record: CommandRecord = cls._create(
            cls.Accepted, id=identity.command_id, fingerprint=identity.fingerprint,
            aggregate_id=aggregate_id, version=version, created=created,
        )  # fmt: skip
        return record


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("application.idempotency:CommandRecord", CommandRecord)
