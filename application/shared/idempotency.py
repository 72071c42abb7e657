"""Durable idempotency: one tiny aggregate per command identity.

The record is saved in the same ``save()`` (one transaction) as the command's
events, so either both are stored or neither is; a concurrent duplicate loses on the
record's primary key. A replay answers from the record, without running the command
again. Only accepted commands are recorded: a refused command records nothing, so
repeating it runs it again (and most likely is refused again).
"""

from __future__ import annotations

import hashlib
import hmac
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
    reused key with another request can be told apart; ``also`` are the fingerprints the
    same request had under earlier keys (see :class:`Fingerprints`).
    """

    scope: str
    key: str
    fingerprint: str
    also: tuple[str, ...] = ()

    def matches(self, stored: str) -> bool:
        return stored == self.fingerprint or stored in self.also

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


#: Marks a keyed fingerprint (an unkeyed one, written before, is 64 hex digits alone).
KEYED = "k1:"


@dataclass(frozen=True)
class Fingerprints:
    """How a request's fingerprint is made: HMAC-SHA256 under a secret key, so the
    fingerprint stored beside a command (and kept after an erasure) cannot confirm a guess
    at what the request said, a complaint's narrative for one. The fingerprints the same
    request had under the previous keys, and unkeyed as written before, still match, so a
    retry across a key rotation or an upgrade is still a replay. No key: unkeyed (tests,
    the in-memory store)."""

    key: bytes | None = None
    previous: tuple[bytes, ...] = ()

    def identity(self, scope: str, key: str, *parts: bytes | str) -> CommandIdentity:
        unkeyed = CommandIdentity.fingerprint_of(*parts)
        if self.key is None:
            return CommandIdentity(scope=scope, key=key, fingerprint=unkeyed)
        earlier = tuple(_keyed(k, unkeyed) for k in self.previous)
        return CommandIdentity(
            scope=scope, key=key, fingerprint=_keyed(self.key, unkeyed), also=(*earlier, unkeyed)
        )


def _keyed(secret: bytes, unkeyed: str) -> str:
    return KEYED + hmac.new(secret, bytes.fromhex(unkeyed), hashlib.sha256).hexdigest()


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
