"""DataErasure: the certificate of one erasure of a data subject's personal free text.

An erasure destroys the subject's data keys (see :mod:`domain.shared.personal_data`); this
one-event aggregate records that it happened: which kinds of data, which records and which of
their events held text sealed under the destroyed keys, when, by whom (the envelope) and why
(the envelope's ``reason``). It holds references and field names only, never the data. Its id
is chosen by the caller, so a certificate is recorded once: a second recording of the same
erasure is refused by the event store. A later request to erase the subject again, with
nothing left to erase, is recorded on it (``ErasureRequestedAgain``), so every request is in
the trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.shared.base import AuditedAggregate

#: Why the erasure ran: a request (the right to erasure) or the retention policy.
REQUEST = "request"
RETENTION = "retention"
BASES = (REQUEST, RETENTION)


class DataErasure(AuditedAggregate):
    class SubjectErased(AuditedAggregate.Created):
        """``records``: ``[{"aggregate_type", "aggregate_id", "events": [{"version",
        "fields"}]}]``, each event with the fields that were sealed under the destroyed keys;
        ``unsealed_records`` the same shape for text stored before sealing began, which this
        erasure could not remove; ``data_kinds`` the kinds of text, in words."""

        subject_ref: str
        basis: str
        key_ids: list[str]
        data_kinds: list[str]
        records: list[dict[str, Any]]
        unsealed_records: list[dict[str, Any]]

        def apply(self, erasure: DataErasure) -> None:
            erasure._certified(self)

    class ErasureRequestedAgain(AuditedAggregate.Event):
        """The subject's erasure was asked for again, with nothing left to erase: who asked,
        when and why are the envelope's (``reason`` unsealed, like the certificate's)."""

        def apply(self, erasure: DataErasure) -> None:
            erasure.repeats.append({
                "at": self.occurred_at, "by": self.actor_id, "role": self.actor_role,
                "reason": self.reason,
            })  # fmt: skip

    def _certified(self, e: DataErasure.SubjectErased) -> None:
        self.subject_ref: str = e.subject_ref
        self.basis: str = e.basis
        self.key_ids: list[str] = list(e.key_ids)
        self.data_kinds: list[str] = list(e.data_kinds)
        self.records: list[dict[str, Any]] = list(e.records)
        self.unsealed_records: list[dict[str, Any]] = list(e.unsealed_records)
        self.erased_at: datetime = e.occurred_at
        self.erased_by: str = e.actor_id
        self.erased_by_role: str = e.actor_role
        self.reason: str | None = e.reason
        #: Later requests to erase the same subject: ``[{"at", "by", "role", "reason"}]``.
        self.repeats: list[dict[str, Any]] = []

    @classmethod
    def certify(
        cls, *, erasure_id: UUID, subject_ref: str, basis: str, key_ids: list[str],
        data_kinds: list[str], records: list[dict[str, Any]],
        unsealed_records: list[dict[str, Any]], at: datetime,
    ) -> DataErasure:  # fmt: skip
        """``at``: when the keys were destroyed."""
        if basis not in BASES:
            raise ValueError(f"unknown erasure basis {basis!r}")
        erasure: DataErasure = cls._create(
            cls.SubjectErased, id=erasure_id, subject_ref=subject_ref, basis=basis,
            key_ids=sorted(key_ids), data_kinds=sorted(set(data_kinds)), records=records,
            unsealed_records=unsealed_records, occurred_at=at,
        )  # fmt: skip
        return erasure

    def request_again(self, *, at: datetime) -> None:
        """Record a request to erase the subject again (its keys are gone already)."""
        self.trigger_event(self.ErasureRequestedAgain, occurred_at=at)
