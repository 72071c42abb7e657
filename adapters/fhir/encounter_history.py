"""R5's equivalent of R4 ``statusHistory``: one EncounterHistory per stretch of the visit in
one status, subject status and class (:mod:`adapters.fhir.history`), oldest first.

Its id is the visit's id and the stretch's number (``<visit id>-1``, ``-2``, …): stable, since
the events it is read from never change and later ones only add stretches (the last one's
``actualPeriod`` gains its end). ``location`` lists the units and beds held in the stretch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from adapters.fhir import common, history
from adapters.fhir.statuses import ENCOUNTER_R5, SUBJECT_STATUS_R5, SUBJECT_STATUS_SYSTEM
from domain.visits.visit import PatientVisit


def history_id(visit_id: UUID, number: int) -> str:
    return f"{visit_id}-{number}"


def parse_history_id(raw: str) -> tuple[UUID, int] | None:
    """The visit id and stretch number of an id :func:`history_id` made, else None."""
    visit_part, dash, number = raw[:36], raw[36:37], raw[37:]
    if dash != "-" or not number.isdigit() or number.startswith("0"):
        return None
    try:
        return UUID(visit_part), int(number)
    except ValueError:
        return None


def _shown(span: history.Span) -> tuple[str, tuple[str, str] | None, str]:
    return ENCOUNTER_R5[span.state], SUBJECT_STATUS_R5[span.state], span.visit_class


def encounter_histories(
    visit: PatientVisit, events: Sequence[PatientVisit.Event]
) -> list[dict[str, Any]]:
    spans = history.spans(events)
    stretches: list[list[history.Span]] = []
    for span in spans:
        if stretches and _shown(stretches[-1][-1]) == _shown(span):
            stretches[-1].append(span)
        else:
            stretches.append([span])
    return [_resource(visit, number, group) for number, group in enumerate(stretches, 1)]


def _resource(visit: PatientVisit, number: int, group: list[history.Span]) -> dict[str, Any]:
    first, last = group[0], group[-1]
    status, subject_status, visit_class = _shown(first)
    resource: dict[str, Any] = {
        "resourceType": "EncounterHistory",
        "id": history_id(visit.id, number),
        "encounter": {"reference": f"Encounter/{visit.id}"},
        "status": status,
        "class": {"coding": [common.class_coding(visit_class)]},
        "subject": common.patient_reference(visit.patient_ref),
        "actualPeriod": common.period(first.start, last.end),
    }
    if subject_status is not None:
        code, display = subject_status
        resource["subjectStatus"] = {
            "coding": [{"system": SUBJECT_STATUS_SYSTEM, "code": code, "display": display}]
        }
    held: list[tuple[str, str | None]] = []
    for span in group:
        held += [place for place in span.locations if place not in held]
    if held:
        resource["location"] = [
            {"location": common.location_reference(unit, bed),
             **({"form": common.bed_form()} if bed is not None else {})}
            for unit, bed in held
        ]  # fmt: skip
    return resource
