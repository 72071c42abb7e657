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

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import register_topic

from application.shared.commands import Command
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


class CommandAttempt(AuditedAggregate):
    """A command or read that was refused or denied: one event, never changed."""

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
        return cls._create(
            cls.Refused, id=uuid4(), outcome=outcome, code=code, action=action,
            target_type=target_type, target_id=None if target_id is None else str(target_id),
        )  # fmt: skip


class TrailExport(AuditedAggregate):
    """An export of the audit trail (HIPAA 164.528: disclosures are accounted for).

    ``patient_ref`` is the export's patient filter, if any, so the export shows up in that
    patient's own trail; ``filters`` holds the other filters as given (identifiers and times).
    """

    class Exported(AuditedAggregate.Created):
        format: str
        patient_ref: str | None
        filters: dict[str, str]

        def apply(self, export: TrailExport) -> None:
            export.format = self.format
            export.patient_ref = self.patient_ref
            export.filters = self.filters

    @classmethod
    def exported(
        cls, *, format: str, patient_ref: str | None, filters: dict[str, Any]
    ) -> TrailExport:
        return cls._create(
            cls.Exported, id=uuid4(), format=format, patient_ref=patient_ref,
            filters={k: str(v) for k, v in filters.items() if v is not None},
        )  # fmt: skip


# Stored events name the module their class was defined in. Before the bounded contexts
# became subpackages it was the one below: those topics must keep resolving to this class.
register_topic("application.attempts:CommandAttempt", CommandAttempt)
register_topic("application.attempts:TrailExport", TrailExport)
