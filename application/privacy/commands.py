"""The privacy context's commands: a request to erase a data subject, and the certificate.

:class:`EraseSubject` is the body of ``POST /api/v1/privacy/erasures``; it is not executed as
such: :mod:`application.privacy.erasures` runs the erasure, which destroys the keys and then
issues :class:`CertifyErasure` with what the destruction removed, under the privacy officer's
(or the retention job's) identity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from application.shared.commands import AggregateCommand, Command, Creation, Reason, Ref
from application.shared.policies import Policies
from domain.privacy.erasure import DataErasure

PRIVACY_OFFICER, SYSTEM = "privacy_officer", "system"


class CertifyErasure(Creation, kw_only=True, frozen=True):
    aggregate_type = DataErasure
    roles = frozenset({PRIVACY_OFFICER, SYSTEM})
    erasure_id: UUID
    subject_ref: str
    basis: str
    key_ids: list[str]
    data_kinds: list[str]
    records: list[dict[str, Any]]
    unsealed_records: list[dict[str, Any]]

    def create(self, at: datetime, policies: Policies) -> DataErasure:
        return DataErasure.certify(at=at, **self.fields())


class RecordRepeatedErasure(AggregateCommand, kw_only=True, frozen=True):
    """A privacy officer asked to erase a subject erased already: recorded on that erasure's
    certificate (the request's actor and reason), nothing else."""

    aggregate_type = DataErasure
    roles = frozenset({PRIVACY_OFFICER})
    reason: Reason

    def apply(self, erasure: DataErasure, at: datetime, policies: Policies) -> None:
        erasure.request_again(at=at)


class EraseSubject(Command, kw_only=True, frozen=True):
    """Erase a data subject's personal free text: ``subjectRef`` (a complainant's ref) and
    why (required, recorded in the certificate unsealed, so it must name no one)."""

    aggregate_type = DataErasure
    roles = frozenset({PRIVACY_OFFICER})
    #: The data subject to erase: a complainant's opaque reference.
    subject_ref: Ref
    reason: Reason
    #: An erasure happens when it is made: no time may be given (only null).
    occurred_at: None = None
