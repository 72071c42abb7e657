"""What a read model gives the worker: its tables and how a batch of records changes them.

A worker owns one instance per generation it writes and calls, in this order, inside one
transaction per batch: :meth:`ReadModel.apply` with the records it :meth:`wants`, then the
tracking update. If the transaction fails, the worker calls :meth:`ReadModel.reset` (drop
any cache that may hold the rolled-back batch) before trying again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from adapters.readmodels.database import Transaction
from projections.shared.records import StoredRecord


class LogReader(Protocol):
    def aggregate_records(
        self, tx: Transaction, originator_id: UUID, below_version: int
    ) -> list[StoredRecord]:
        """The aggregate's records with versions below ``below_version``, in order."""


class ReadModel(Protocol):
    #: Names the tables (``<name>_g<generation>_…``), the leader lock and the tracking row.
    name: str

    def wants(self, topic: str) -> bool:
        """Whether records of this topic change the view (others are skipped unread)."""

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        """Create the generation's tables and indexes if missing (idempotent)."""

    def drop_tables(self, tx: Transaction, prefix: str) -> None: ...

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log: LogReader
    ) -> None:
        """Change the view for ``records`` (in log order, only wanted topics)."""

    def reset(self) -> None:
        """Forget in-memory state: the last batch was rolled back or another worker led."""
