"""PatientServices: the one event-sourced application of the service.

All aggregates share one application, so they share one global log: a single order for
the audit trail's hash chain and one position for read-your-writes, and a command that
touches two aggregates (a budget transfer) is one transaction.

``execute`` is the only way a command gets in: authorise → load → decide → save the
events and the command record together → answer (or, for a repeat, the first answer).
Refused and denied attempts and audit exports are recorded by its base, :class:`AttemptLog`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID, uuid4

import msgspec
import structlog
from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper, Transcoder

from application.attempt_log import AttemptLog
from application.lost_races import StaleRead, is_lost_race
from application.shared.attempts import Attempt, is_audited_refusal
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
from application.shared.idempotency import CommandIdentity, CommandRecord, Fingerprints
from application.shared.permissions import check_role
from application.shared.policies import Policies
from application.shared.ports import PositionLookup, SnapshotStore
from application.snapshots import HELD_AGGREGATES, SNAPSHOT_EVERY, SnapshottingRepository
from domain.shared.envelope import recording
from domain.shared.errors import DomainError
from domain.visits.visit import PatientVisit

log = structlog.get_logger("commands")


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    created: bool
    replayed: bool = False


class PatientServices(AttemptLog):
    name = "patient_services"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policies: Policies | None = None,
        clock: Callable[[], datetime] = utc_now,
        mapper: Callable[[Transcoder], Mapper[UUID]] | None = None,
        fingerprints: Fingerprints | None = None,
        snapshots: Callable[[ApplicationRecorder], SnapshotStore | None] | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        held_aggregates: int = HELD_AGGREGATES,
    ) -> None:
        """``mapper``: builds the event store's mapper from the application's transcoder
        (the composition root passes the one that seals personal free text); None: the
        library's own. ``fingerprints``: how a command's identity fingerprints what it asked
        (keyed, from the composition root; None: unkeyed). ``snapshots``: builds the
        snapshot store from the event store's recorder (None, or it gives None, or
        ``snapshot_every`` 0: every load replays every event; see
        :mod:`application.snapshots`); ``held_aggregates``: how many aggregates the process
        holds for the next command on them (0: none)."""
        self.fingerprints = fingerprints or Fingerprints()
        self._make_mapper = mapper
        self._make_snapshots = snapshots if snapshot_every > 0 else None
        self._snapshot_every = snapshot_every
        self._held_aggregates = held_aggregates
        super().__init__(env)
        self.policies = policies or Policies()
        self.clock = clock

    def close(self) -> None:
        super().close()
        close_mapper = getattr(self.mapper, "close", None)
        if close_mapper is not None:
            close_mapper()  # the sealing mapper's key vault

    def construct_repository(self) -> Repository[UUID]:
        snapshots = None if self._make_snapshots is None else self._make_snapshots(self.recorder)
        if snapshots is None:
            return super().construct_repository()
        return SnapshottingRepository(
            self.events, snapshots, every=self._snapshot_every, held=self._held_aggregates
        )

    def construct_mapper(self) -> Mapper[UUID]:
        if self._make_mapper is None:
            return super().construct_mapper()
        return self._make_mapper(self.construct_transcoder())

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
            # Deny by default, whoever calls. Not a second decision of the role: the caller
            # chose it once (the HTTP guard from the token, the deadline watcher its own),
            # and this only checks that the role handed over may issue the command, so no
            # way in (a CLI, a policy, a test) can record events under a role that may not.
            check_role(context.actor_role, command)
        except NotAuthorisedError:
            log.warning(
                "access.denied", actor_id=context.actor_id, roles=[context.actor_role],
                action=type(command).__name__, correlation_id=context.correlation_id,
            )  # fmt: skip
            self.record_denial(Attempt.of_command(command, context, target, identity))
            raise
        if context.source_system and context.source_message_id:
            # domain-spec §0: the same feed message applied twice records nothing new,
            # whatever Idempotency-Key a resend carries, so the source identity wins.
            identity = self.fingerprints.identity(
                f"source:{context.source_system}", context.source_message_id,
                type(command).__name__, str(target), _encode(command),
            )  # fmt: skip
        bound = log.bind(command=type(command).__name__, correlation_id=context.correlation_id)
        for attempt in range(1, command.max_attempts + 1):
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
                    # The race may have been lost on another record the command writes (the
                    # patient's bookings, a slot's claims): only a target that moved is a 412.
                    current = self._version_of(target)
                    if current != expected_version:
                        raise PreconditionFailedError(expected_version, current) from None
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
                    tried = Attempt.of_command(command, context, target, identity)
                    self.record_refusal(refusal.code, tried)
                raise
            bound.info("command.accepted", aggregate_id=str(result.id), version=result.version)
            return result
        raise VersionConflictError(
            "the aggregate kept changing concurrently; gave up after"
            f" {command.max_attempts} attempts"
        )

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
        # A feed's message was decided by its source system when it says it happened (a
        # queue an interface engine replays after an outage is not late); anyone else's
        # command is decided now, whatever occurredAt claims.
        decided_at = (
            envelope.occurred_at if context.source_system else max(now, envelope.occurred_at)
        )
        loaded: list[tuple[Aggregate, int]] = []
        with recording(envelope, decided_at=decided_at):
            aggregates = self._decide(
                command, target, expected_version, envelope.occurred_at, loaded
            )
        aggregate = aggregates[0]
        created = command.creates
        # The aggregate the reply names is saved after the others the command changed (a
        # patient's bookings, a slot's claims, a transfer's other line), so the position
        # it answers with is past all of them: read-your-writes on that position sees every
        # change the command made, and a replay finds the same position again.
        to_save: list[Aggregate] = [*aggregates[1:], aggregate]
        if identity is not None:
            to_save.append(
                CommandRecord.accept(
                    identity, aggregate_id=aggregate.id, version=aggregate.version, created=created
                )
            )
        recordings = self.save(*to_save)
        if created:
            loaded.append((aggregate, 0))  # held from its creation, for the next command
        self._keep(loaded)
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
        self,
        command: Command,
        target: UUID | None,
        expected_version: int | None,
        at: datetime,
        loaded: list[tuple[Aggregate, int]],
    ) -> list[Aggregate]:
        """The aggregates the command changed, the one it names first; ``loaded`` gets every
        aggregate it read, with its version then."""
        read: list[tuple[UUID, int]] = []

        def load(aggregate_id: UUID, aggregate_type: type[A]) -> A:
            try:
                aggregate = self._checkout(aggregate_id, aggregate_type)
            except NotFoundError:
                read.append((aggregate_id, 0))
                raise
            read.append((aggregate_id, aggregate.version))
            loaded.append((aggregate, aggregate.version))
            if (
                aggregate_id == target
                and expected_version is not None
                and aggregate.version != expected_version
            ):
                raise PreconditionFailedError(expected_version, aggregate.version)
            return aggregate

        try:
            aggregates = command.decide(load, target, at, self.policies)
        except DomainError as refusal:
            # A command reading several records reads them one after another: a writer
            # that commits in between can make them disagree (a waitlist still showing an
            # offer whose slot another acceptance has taken). A refusal decided on records
            # that have moved since is a lost race, decided again; one on records still as
            # read stands.
            if len(read) > 1 and self._moved(read):
                raise StaleRead("a record the command read changed meanwhile") from refusal
            raise
        if isinstance(command, Creation) and command.natural_key:
            created = aggregates[0]
            if self.recorder.select_events(created.id, limit=1):
                raise AlreadyExistsError(_kind_name(type(created)), created.id)
        return aggregates

    def _checkout(self, aggregate_id: UUID, aggregate_type: type[A]) -> A:
        """An aggregate for a command to change (see :mod:`application.snapshots`)."""
        repository = self.repository
        if not isinstance(repository, SnapshottingRepository):
            return self.get_aggregate(aggregate_id, aggregate_type)
        try:
            aggregate = repository.checkout(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(_kind_name(aggregate_type), aggregate_id) from None
        if not isinstance(aggregate, aggregate_type):
            raise NotFoundError(_kind_name(aggregate_type), aggregate_id)
        return aggregate

    def _keep(self, loaded: list[tuple[Aggregate, int]]) -> None:
        """Hand a saved command's aggregates back to the repository. One the command loaded
        twice is not: one of its two objects may be behind the other."""
        repository = self.repository
        if not isinstance(repository, SnapshottingRepository):
            return
        ids = [aggregate.id for aggregate, _ in loaded]
        for aggregate, version in loaded:
            if ids.count(aggregate.id) == 1:
                repository.keep(aggregate, version)

    def _moved(self, read: list[tuple[UUID, int]]) -> bool:
        """Whether any record read (at that version; 0: there was none) has a later event."""
        return any(
            self.recorder.select_events(aggregate_id, gt=version or None, limit=1)
            for aggregate_id, version in read
        )

    def _version_of(self, target: UUID | None) -> int | None:
        if target is None:
            return None
        try:
            return int(self.repository.get(target).version)
        except AggregateNotFoundError:
            return None

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
        if not identity.matches(record.fingerprint):
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
            # Every stored event is an Aggregate.Event: the store's protocol type has no
            # timestamp, the events' own class has.
            events = cast(Iterator[Aggregate.Event], self.events.get(aggregate_id))
            aggregate = _project(e for e in events if e.timestamp <= as_of)
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


def _kind_name(aggregate_type: type) -> str:
    """``PatientVisit`` → ``visit``, ``BudgetLine`` → ``budget line``: for messages."""
    name = aggregate_type.__name__.removeprefix("Patient")
    return "".join(" " + c.lower() if c.isupper() else c for c in name).strip()


def _project(events: Iterable[Aggregate.Event]) -> Aggregate | None:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _encode(command: Command) -> bytes:
    return msgspec.json.encode(command)
