"""What the application records that changes no record: refused and denied attempts, and
exports of the audit trail (what each holds, and why: :mod:`application.shared.attempts`).

There is one way in per kind, so an entry looks the same whoever noticed it: a denial decided
by the HTTP layer's guards and one found by ``PatientServices.execute`` are both recorded by
:meth:`AttemptLog.record_denial`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application

from application.shared.attempts import DENIED, REFUSED, Attempt, CommandAttempt, TrailExport
from application.shared.errors import NotAuthorisedError
from domain.shared.envelope import Envelope, recording


class AttemptLog(Application[UUID]):
    """The base of :class:`~application.service.PatientServices` that writes attempts and
    exports into the one global log, so the trail's hash chain covers them too."""

    #: Stamps ``occurred_at`` on what is recorded here (the application's clock).
    clock: Callable[[], datetime]

    def record_denial(self, attempt: Attempt) -> int:
        """Record an attempt the caller's roles were not allowed (403 ``NOT_AUTHORISED``,
        outcome ``denied``); returns its position. Blocking: it saves."""
        return self._record_attempt(DENIED, NotAuthorisedError.code, attempt)

    def record_unauthenticated(self, code: str, attempt: Attempt) -> int:
        """Record a request whose bearer token was refused (a 401: outcome ``denied``, the
        reason's code, such as ``TOKEN_EXPIRED``); returns its position."""
        return self._record_attempt(DENIED, code, attempt)

    def record_refusal(self, code: str, attempt: Attempt) -> int:
        """Record a command a business rule refused (outcome ``refused``, the rule's code);
        returns its position."""
        return self._record_attempt(REFUSED, code, attempt)

    def record_export(
        self,
        *,
        format: str,
        patient_ref: str | None,
        filters: dict[str, Any],
        actor_id: str,
        actor_role: str,
        correlation_id: str,
        purpose_of_use: str,
        on_behalf_of: str | None = None,
    ) -> int:
        """Record an export of the audit trail (before it is sent); returns its position.
        ``format`` is the format's own name (an alias already resolved: ``fhir-r5-ndjson``
        for ``fhir-ndjson``); ``filters`` the other filters as the request gave them, by
        parameter name (those not given are None and left out); ``purpose_of_use`` and
        ``on_behalf_of`` as for any access (the request's headers, or the default purpose)."""
        envelope = Envelope(
            actor_id=actor_id, actor_role=actor_role, command_id=uuid4(),
            correlation_id=correlation_id, occurred_at=self.clock(), on_behalf_of=on_behalf_of,
        )  # fmt: skip
        with recording(envelope):
            export = TrailExport.exported(
                format=format, patient_ref=patient_ref, filters=filters,
                purpose_of_use=purpose_of_use,
            )  # fmt: skip
        return self.save(export)[-1].notification.id

    def _record_attempt(self, outcome: str, code: str, attempt: Attempt) -> int:
        # The envelope's actor_role holds every role tried; occurred_at is now.
        envelope = Envelope(
            actor_id=attempt.actor_id, actor_role=",".join(attempt.actor_roles),
            command_id=attempt.command_id or uuid4(), correlation_id=attempt.correlation_id,
            occurred_at=self.clock(), on_behalf_of=attempt.on_behalf_of,
            source_system=attempt.source_system, source_message_id=attempt.source_message_id,
        )  # fmt: skip
        with recording(envelope):
            entry = CommandAttempt.refused(
                outcome=outcome, code=code, action=attempt.action,
                target_type=attempt.target_type, target_id=attempt.target_id,
            )  # fmt: skip
        return self.save(entry)[-1].notification.id
