"""The trail's copies of ``reason``, as they read now.

The audit read model copies each event's ``reason`` as it was stored: for a record whose
personal text is sealed per data subject, that is ciphertext. The trail, its entries and its
exports show it opened, or "[erased]" once its subject was erased; the FHIR AuditEvents never
carry a reason at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import msgspec
from litestar.connection import ASGIConnection

from adapters.http.kit.services import services_of
from adapters.privacy.mapper import SealingMapper
from projections.audit.trail import AuditEntry

#: Entries whose reasons are opened with one key lookup.
_BATCH = 500


def reveal_reasons(
    connection: ASGIConnection[Any, Any, Any, Any], entries: list[AuditEntry]
) -> list[AuditEntry]:
    """``entries`` with each sealed reason opened (blocking: call it from a worker thread)."""
    mapper = services_of(connection).mapper
    if not isinstance(mapper, SealingMapper):
        return entries
    revealed = mapper.reveal_all([(e.aggregate_id, "reason", e.reason) for e in entries])
    return [
        entry if text == entry.reason else msgspec.structs.replace(entry, reason=text)
        for entry, text in zip(entries, revealed, strict=True)
    ]


def revealing(
    connection: ASGIConnection[Any, Any, Any, Any], entries: Iterable[AuditEntry]
) -> Iterator[AuditEntry]:
    """:func:`reveal_reasons` over a stream of entries, a batch at a time (an export)."""
    stream = iter(entries)
    while batch := list(islice(stream, _BATCH)):
        yield from reveal_reasons(connection, batch)
