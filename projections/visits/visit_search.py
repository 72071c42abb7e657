"""What the visit search answers: visits found by visit number (HL7 v2 PV1-19) or by patient,
from the flow read model's visits table.

camelCase Structs (``GET /api/v1/visits`` returns them as they are; the FHIR Encounter search
builds its Bundle from them), made from the rows the store selects
(:class:`~projections.visits.flow_rows.SearchRow`, read by name). A page lists visits in the
order of their ids; ``nextCursor`` is the last id listed when more follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from domain.visits.vocabulary import FHIR_STATUS
from projections.visits.flow_rows import SEARCH_COLUMNS, SearchRow
from projections.visits.flow_views import Location

__all__ = ["SEARCH_COLUMNS", "VisitPage", "VisitSummary", "page_of", "visit_summary"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class VisitSummary(msgspec.Struct, frozen=True, rename="camel"):
    """One visit found, as the flow read model holds it now (field names as in
    ``GET /api/v1/visits/{id}``). Times are UTC."""

    id: str
    version: int
    #: The visit's state: scheduled, arrived, triaged, with_clinician, admitted, on_leave,
    #: discharged, closed, cancelled, no_show, left_without_being_seen or entered_in_error.
    status: str
    #: FHIR R5 Encounter.status of ``status``.
    fhir_status: str
    patient_ref: str
    visit_class: str
    service_unit: str
    visit_number: str | None
    visit_number_authority: str | None
    #: Where the patient is now (null when the visit holds no location).
    current_location: Location | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    arrival_at: datetime | None
    #: When the patient was admitted (null unless admitted).
    admitted_at: datetime | None
    #: When the patient left: discharge, or leaving without being seen.
    departure_at: datetime | None
    #: The discharge disposition: home, other-hcf, snf, rehab, hosp, aadvice, lbtc, exp or oth (null
    #: until discharge).
    disposition: str | None


class VisitPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[VisitSummary]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


def visit_summary(values: Sequence[Any]) -> VisitSummary:
    """A row of :data:`SEARCH_COLUMNS` as the search shows it."""
    row = SearchRow._make(values)
    return VisitSummary(
        id=row.id,
        version=row.version,
        status=row.status,
        fhir_status=FHIR_STATUS.get(row.status, "unknown"),
        patient_ref=row.patient_ref,
        visit_class=row.visit_class,
        service_unit=row.service_unit,
        visit_number=row.visit_number,
        visit_number_authority=row.visit_number_authority,
        current_location=(
            Location(row.current_unit, row.current_bed) if row.current_unit is not None else None
        ),
        scheduled_start=_instant(row.scheduled_start),
        scheduled_end=_instant(row.scheduled_end),
        arrival_at=_instant(row.arrival_at),
        admitted_at=_instant(row.admitted_at),
        departure_at=_instant(row.departure_at),
        disposition=row.disposition,
    )


def page_of(rows: Sequence[Sequence[Any]], limit: int) -> VisitPage:
    """One page from up to ``limit + 1`` rows in id order: the extra row only says that
    another page follows."""
    items = [visit_summary(row) for row in rows[:limit]]
    more = len(rows) > limit
    return VisitPage(items=items, next_cursor=items[-1].id if more and items else None)


def _instant(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)
