"""Refused and denied commands, and audit exports, recorded in the log (domain-spec §4).

A command that a business rule refused (409: ``INVALID_TRANSITION``, ``TIMESTAMP_ORDER``, …)
or that the caller's roles were not allowed to issue (403 ``NOT_AUTHORISED``) changes no
aggregate, yet the audit trail must show it. Each such attempt is saved as a one-event
aggregate, :class:`CommandAttempt`, stamped with the envelope like any event (who, which
request, when it was recorded), so it sits in the one global log and the hash chain covers it.
An export of the trail is recorded the same way (:class:`TrailExport`).

Identifiers and codes only: never the request body, the error text or patient data. An
attempt names its target aggregate; the audit projection finds the patient_ref from it.

Not recorded: invalid input (400, nothing was attempted), a target that does not exist (404),
a stale ``If-Match`` (412; the contract says nothing is recorded) and a reused
``Idempotency-Key`` (422). See :data:`UNAUDITED_CODES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.utils import register_topic

from application.shared.commands import Command
from application.shared.context import RequestContext
from application.shared.idempotency import CommandIdentity
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainError

REFUSED = "refused"
DENIED = "denied"

#: Codes of errors that refuse a request without it being an audited attempt (see above).
UNAUDITED_CODES = frozenset(
    {"VALIDATION", "NOT_FOUND", "VERSION_CONFLICT", "IDEMPOTENCY_KEY_REUSED"}
)


def is_audited_refusal(error: DomainError) -> bool:
    """Whether a refusal is a business rule saying no (recorded as outcome ``refused``)."""
    return error.code not in UNAUDITED_CODES


def target_type_of(command: type[Command] | Command) -> str | None:
    """The aggregate type a command acts on (or creates), as the audit trail names it."""
    aggregate_type = getattr(command, "aggregate_type", None)
    return aggregate_type.__name__ if aggregate_type is not None else None


@dataclass(frozen=True)
class Attempt:
    """Who tried what, on which record, in which request: what an attempt's entry names
    besides its outcome and code. Identifiers only (see the module's docstring)."""

    #: The command class name (``DischargePatient``) or ``read <what>``.
    action: str
    actor_id: str
    #: The roles tried: the acting role for a command that got as far as the application,
    #: the token's roles for a request the HTTP layer denied.
    actor_roles: tuple[str, ...]
    correlation_id: str
    #: The command's id when it is idempotent (so a retry names the same command), else new.
    command_id: UUID | None = None
    target_type: str | None = None
    target_id: UUID | None = None
    on_behalf_of: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None

    @classmethod
    def of_command(
        cls,
        command: Command,
        context: RequestContext,
        target: UUID | None,
        identity: CommandIdentity | None,
    ) -> Attempt:
        """The attempt to run ``command`` (on ``target``, else on what it names itself)."""
        return cls(
            action=type(command).__name__, actor_id=context.actor_id,
            actor_roles=(context.actor_role,), correlation_id=context.correlation_id,
            command_id=identity.command_id if identity is not None else None,
            target_type=target_type_of(command),
            target_id=target if target is not None else command.audit_target(),
            on_behalf_of=context.on_behalf_of, source_system=context.source_system,
            source_message_id=context.source_message_id,
        )  # fmt: skip


class CommandAttempt(AuditedAggregate):
    """A command or read that was refused or denied: one event, never changed."""

    if TYPE_CHECKING:
        # What Refused.apply sets, declared for the type checker only: annotations in the
        # class body would make eventsourcing turn the aggregate into a dataclass.
        outcome: str
        code: str
        action: str
        target_type: str | None
        target_id: str | None

    class Refused(AuditedAggregate.Created):
        #: ``refused`` (a business rule) or ``denied`` (authorisation).
        outcome: str
        #: The stable error code (``INVALID_TRANSITION``, ``NOT_AUTHORISED``, …).
        code: str
        #: The command class name (``DischargePatient``) or ``read <what>``.
        action: str
        target_type: str | None
        target_id: str | None

        def apply(self, attempt: CommandAttempt) -> None:
            attempt.outcome = self.outcome
            attempt.code = self.code
            attempt.action = self.action
            attempt.target_type = self.target_type
            attempt.target_id = self.target_id

    @classmethod
    def refused(
        cls,
        *,
        outcome: str,
        code: str,
        action: str,
        target_type: str | None = None,
        target_id: UUID | str | None = None,
    ) -> CommandAttempt:
        if outcome not in (REFUSED, DENIED):
            raise ValueError(f"unknown attempt outcome {outcome!r}")
        attempt: CommandAttempt = cls._create(
            cls.Refused, id=uuid4(), outcome=outcome, code=code, action=action,
            target_type=target_type, target_id=None if target_id is None else str(target_id),
        )  # fmt: skip
        return attempt


class TrailExport(AuditedAggregate):
    """An export of the audit trail (HIPAA 164.528: disclosures are accounted for).

    ``patient_ref`` is the export's patient filter, if any, so the export shows up in that
    patient's own trail; ``filters`` holds the other filters as given (identifiers and times);
    ``purpose_of_use`` the HL7 v3 PurposeOfUse code the export was asked for (None in exports
    recorded before it was kept).
    """

    if TYPE_CHECKING:  # set by Exported.apply (see CommandAttempt)
        format: str
        patient_ref: str | None
        filters: dict[str, str]
        purpose_of_use: str | None

    class Exported(AuditedAggregate.Created):
        class_version = 2
        format: str
        patient_ref: str | None
        filters: dict[str, str]
        purpose_of_use: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["purpose_of_use"] = None

        def apply(self, export: TrailExport) -> None:
            export.format = self.format
            export.patient_ref = self.patient_ref
            export.filters = self.filters
            export.purpose_of_use = self.purpose_of_use

    @classmethod
    def exported(
        cls, *, format: str, patient_ref: str | None, filters: dict[str, Any],
        purpose_of_use: str | None,
    ) -> TrailExport:  # fmt: skip
        export: TrailExport = cls._create(
            cls.Exported, id=uuid4(), format=format, patient_ref=patient_ref,
            filters={k: str(v) for k, v in filters.items() if v is not None},
            purpose_of_use=purpose_of_use,
        )  # fmt: skip
        return export


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("application.attempts:CommandAttempt", CommandAttempt)
register_topic("application.attempts:TrailExport", TrailExport)
