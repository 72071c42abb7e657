"""PatientServices: the one event-sourced application of the service.

All aggregates share one application, so they share one global log: a single order for
the audit trail's hash chain and one position for read-your-writes, and a command that
touches two aggregates (a budget transfer) is one transaction.

``execute`` is the only way a command gets in: authorise → load → decide → save the
events and the command record together → answer (or, for a repeat, the first answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID, uuid4

import msgspec
import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.shared.attempts import (
    DENIED,
    REFUSED,
    CommandAttempt,
    TrailExport,
    is_audited_refusal,
    target_type_of,
)
from application.shared.commands import A, Command, Creation
from application.shared.context import RequestContext, utc_now
from application.shared.errors import (
    AlreadyExistsError,
    IdempotencyKeyReusedError,
    NotAuthorisedError,
    NotFoundError,
    PreconditionFailedError,
    StoreRefusedWriteError,
    VersionConflictError,
    VersionNotFoundError,
)
from application.shared.idempotency import CommandIdentity, CommandRecord
from application.shared.permissions import acting_role
from application.shared.policies import Policies
from application.shared.ports import PositionLookup
from domain.shared.envelope import Envelope, recording
from domain.shared.errors import DomainError
from domain.visits.visit import PatientVisit

log = structlog.get_logger("commands")

#: Attempts for a command without If-Match that keeps losing races (each on fresh state).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    created: bool
    replayed: bool = False


class PatientServices(Application[UUID]):
    name = "patient_services"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policies: Policies | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env)
        self.policies = policies or Policies()
        self.clock = clock

    # ---- commands ----------------------------------------------------------------
    def execute(
        self,
        command: Command,
        context: RequestContext,
        *,
        target: UUID | None = None,
        expected_version: int | None = None,
        identity: CommandIdentity | None = None,
    ) -> CommandResult:
        """Run one command. ``target`` is the aggregate a non-creating command acts on;
        ``expected_version`` is the caller's If-Match; ``identity`` makes it idempotent."""
        try:
            acting_role([context.actor_role], command)  # deny by default, whoever calls
        except NotAuthorisedError as denial:
            log.warning(
                "access.denied", actor_id=context.actor_id, roles=[context.actor_role],
                action=type(command).__name__, correlation_id=context.correlation_id,
            )  # fmt: skip
            self._record_refusal(DENIED, denial, command, context, target, identity)
            raise
        if context.source_system and context.source_message_id:
            # domain-spec §0: the same feed message applied twice records nothing new,
            # whatever Idempotency-Key a resend carries, so the source identity wins.
            identity = CommandIdentity(
                scope=f"source:{context.source_system}",
                key=context.source_message_id,
                fingerprint=CommandIdentity.fingerprint_of(
                    type(command).__name__, str(target), _encode(command)
                ),
            )
        bound = log.bind(command=type(command).__name__, correlation_id=context.correlation_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result = self._attempt(command, context, target, expected_version, identity)
            except IntegrityError as failure:
                if not is_lost_race(failure):
                    # A trigger or another constraint refused the write: not a race, so a
                    # retry would fail the same way. Nothing of ours was stored.
                    bound.error("command.store_refused", attempt=attempt)
                    raise StoreRefusedWriteError(
                        "the event store refused the write (not a concurrent change)"
                    ) from failure
                # Someone else wrote first: a concurrent writer of the aggregate, or an
                # earlier run of this very command (its record's id is taken). Nothing
                # of ours was stored.
                replay = self._replay(identity)
                if replay is not None:
                    bound.info("command.replayed", aggregate_id=str(replay.id))
                    return replay
                if expected_version is not None:
                    raise PreconditionFailedError(expected_version, None) from None
                bound.info("command.retry", attempt=attempt)
                continue
            except DomainError as refusal:
                # A repeat of an accepted command is often refused by today's state
                # (a second arrival): answer with the first result instead.
                replay = self._replay(identity)
                if replay is not None:
                    bound.info("command.replayed", aggregate_id=str(replay.id))
                    return replay
                bound.info("command.refused", code=refusal.code)
                if is_audited_refusal(refusal):
                    self._record_refusal(REFUSED, refusal, command, context, target, identity)
                raise
            bound.info("command.accepted", aggregate_id=str(result.id), version=result.version)
            return result
        raise VersionConflictError(
            f"the aggregate kept changing concurrently; gave up after {MAX_ATTEMPTS} attempts"
        )

    def record_attempt(
        self,
        *,
        outcome: str,
        code: str,
        action: str,
        actor_id: str,
        actor_roles: Iterable[str],
        correlation_id: str,
        command_id: UUID | None = None,
        target_type: str | None = None,
        target_id: UUID | str | None = None,
        on_behalf_of: str | None = None,
        source_system: str | None = None,
        source_message_id: str | None = None,
    ) -> int:
        """Record a refused or denied attempt (see :mod:`application.shared.attempts`) in the log;
        returns its position. ``actor_roles`` are the roles tried; ``occurred_at`` is now."""
        envelope = Envelope(
            actor_id=actor_id, actor_role=",".join(actor_roles),
            command_id=command_id or uuid4(), correlation_id=correlation_id,
            occurred_at=self.clock(), on_behalf_of=on_behalf_of, source_system=source_system,
            source_message_id=source_message_id,
        )  # fmt: skip
        with recording(envelope):
            attempt = CommandAttempt.refused(
                outcome=outcome, code=code, action=action, target_type=target_type,
                target_id=target_id,
            )  # fmt: skip
        return self.save(attempt)[-1].notification.id

    def record_export(
        self,
        *,
        format: str,
        patient_ref: str | None,
        filters: dict[str, Any],
        actor_id: str,
        actor_role: str,
        correlation_id: str,
    ) -> int:
        """Record an export of the audit trail (before it is sent); returns its position."""
        envelope = Envelope(
            actor_id=actor_id, actor_role=actor_role, command_id=uuid4(),
            correlation_id=correlation_id, occurred_at=self.clock(),
        )  # fmt: skip
        with recording(envelope):
            export = TrailExport.exported(format=format, patient_ref=patient_ref, filters=filters)
        return self.save(export)[-1].notification.id

    def _record_refusal(
        self,
        outcome: str,
        error: DomainError,
        command: Command,
        context: RequestContext,
        target: UUID | None,
        identity: CommandIdentity | None,
    ) -> None:
        self.record_attempt(
            outcome=outcome, code=error.code, action=type(command).__name__,
            actor_id=context.actor_id, actor_roles=[context.actor_role],
            correlation_id=context.correlation_id,
            command_id=identity.command_id if identity is not None else None,
            target_type=target_type_of(command),
            target_id=target if target is not None else command.audit_target(),
            on_behalf_of=context.on_behalf_of, source_system=context.source_system,
            source_message_id=context.source_message_id,
        )  # fmt: skip

    def _attempt(
        self,
        command: Command,
        context: RequestContext,
        target: UUID | None,
        expected_version: int | None,
        identity: CommandIdentity | None,
    ) -> CommandResult:
        command_id = identity.command_id if identity is not None else uuid4()
        time_field, occurred_at = command.business_time()
        now = self.clock()
        envelope = context.envelope(
            command_id=command_id, occurred_at=occurred_at, reason=command.reason,
            now=now, time_field=time_field,
        )  # fmt: skip
        with recording(envelope, decided_at=max(now, envelope.occurred_at)):
            aggregates = self._decide(command, target, expected_version, envelope.occurred_at)
        aggregate = aggregates[0]
        created = command.creates
        to_save: list[Aggregate] = list(aggregates)
        if identity is not None:
            to_save.append(
                CommandRecord.accept(
                    identity, aggregate_id=aggregate.id, version=aggregate.version, created=created
                )
            )
        recordings = self.save(*to_save)
        position = next(
            (
                r.notification.id
                for r in reversed(recordings)
                if r.domain_event.originator_id == aggregate.id
            ),
            None,
        )
        if position is None:
            # The command was a repeat the aggregate itself recognised (a posting whose
            # reference it already holds): nothing new, the answer is where it stands.
            position = cast(PositionLookup, self.recorder).position_of(
                aggregate.id, aggregate.version
            )
            assert position is not None, "an existing aggregate has a stored event"
        return CommandResult(
            id=aggregate.id, version=aggregate.version, position=position, created=created
        )

    def _decide(
        self, command: Command, target: UUID | None, expected_version: int | None, at: datetime
    ) -> list[Aggregate]:
        def load(aggregate_id: UUID, aggregate_type: type[A]) -> A:
            aggregate = self.get_aggregate(aggregate_id, aggregate_type)
            if (
                aggregate_id == target
                and expected_version is not None
                and aggregate.version != expected_version
            ):
                raise PreconditionFailedError(expected_version, aggregate.version)
            return aggregate

        aggregates = command.decide(load, target, at, self.policies)
        if isinstance(command, Creation) and command.natural_key:
            created = aggregates[0]
            if self.recorder.select_events(created.id, limit=1):
                raise AlreadyExistsError(_kind_name(type(created)), created.id)
        return aggregates

    def _replay(self, identity: CommandIdentity | None) -> CommandResult | None:
        """The first result of this command identity, if it was accepted before.

        Not looked up before every attempt: the record's id is unique, so a duplicate
        can only fail (on the rules or on that key), and only then is it read.
        """
        if identity is None:
            return None
        try:
            record = cast(CommandRecord, self.repository.get(identity.command_id))
        except AggregateNotFoundError:
            return None
        if record.fingerprint != identity.fingerprint:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request"
            )
        position = cast(PositionLookup, self.recorder).position_of(
            record.aggregate_id, record.result_version
        )
        assert position is not None, "a command record always points at a stored event"
        return CommandResult(
            id=record.aggregate_id, version=record.result_version, position=position,
            created=record.created, replayed=True,
        )  # fmt: skip

    # ---- queries -----------------------------------------------------------------
    def get_aggregate(
        self,
        aggregate_id: UUID,
        aggregate_type: type[A],
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> A:
        """The aggregate now, as of a version, or as the record stood at a time (what the
        system knew then: events recorded at or before ``as_of``). ``NOT_FOUND`` if there
        is none, or only one of another type."""
        aggregate: Aggregate | None
        if as_of is not None:
            aggregate = _project(e for e in self.events.get(aggregate_id) if e.timestamp <= as_of)
        else:
            try:
                aggregate = self.repository.get(aggregate_id, version=version)
            except AggregateNotFoundError:
                aggregate = None
        if not isinstance(aggregate, aggregate_type):
            raise NotFoundError(_kind_name(aggregate_type), aggregate_id)
        if version is not None and aggregate.version != version:
            # The repository answers with the latest version at or below the one asked for.
            raise VersionNotFoundError(
                _kind_name(aggregate_type), aggregate_id, version, aggregate.version
            )
        return aggregate

    def get_visit(
        self, visit_id: UUID, *, version: int | None = None, as_of: datetime | None = None
    ) -> PatientVisit:
        return self.get_aggregate(visit_id, PatientVisit, version=version, as_of=as_of)

    def visit_events(self, visit_id: UUID) -> Sequence[PatientVisit.Event]:
        return cast(Sequence[PatientVisit.Event], list(self.events.get(visit_id)))


#: What the stores raise when the unique (originator_id, originator_version) key is taken:
#: SQLite's extended result codes (the key is the table's primary key) and PostgreSQL's
#: unique_violation. Any other integrity failure (a CHECK, NOT NULL or foreign key, a
#: trigger's RAISE(ABORT)) is not a lost race.
_SQLITE_KEY_TAKEN = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})
_POSTGRES_UNIQUE_VIOLATION = "23505"
_VERSION_KEY_COLUMN = "originator_version"


def is_lost_race(failure: IntegrityError) -> bool:
    """Whether an IntegrityError from a save says that an event's (originator_id,
    originator_version) was taken by another writer: a lost race, worth retrying on fresh
    state. The library wraps the driver's error; its cause says which constraint failed. An
    error with no driver cause is the in-memory store's, raised only for a taken version."""
    cause = failure.__cause__
    sqlite_code = getattr(cause, "sqlite_errorname", None)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlite_code is None and sqlstate is None:
        return True
    key_taken = sqlite_code in _SQLITE_KEY_TAKEN or sqlstate == _POSTGRES_UNIQUE_VIOLATION
    return key_taken and _VERSION_KEY_COLUMN in str(cause)


def _kind_name(aggregate_type: type) -> str:
    """``PatientVisit`` → ``visit``, ``BudgetLine`` → ``budget line``: for messages."""
    name = aggregate_type.__name__.removeprefix("Patient")
    return "".join(" " + c.lower() if c.isupper() else c for c in name).strip()


def _project(events: Iterable[Any]) -> Aggregate | None:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _encode(command: Command) -> bytes:
    return msgspec.json.encode(command)
