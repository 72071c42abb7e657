"""Events as the events table holds them, stored with the library's own mapper (and the
transcodings the application registers), so a fold in a unit test reads exactly what a worker
reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)

from projections.shared.records import StoredRecord


def _mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


MAPPER = _mapper()


def records_of(events: Sequence[Any], first_position: int = 1) -> list[StoredRecord]:
    records = []
    for offset, event in enumerate(events):
        stored = MAPPER.to_stored_event(event)
        records.append(
            StoredRecord(
                first_position + offset,
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                stored.state,
            )  # fmt: skip
        )
    return records
