"""The states a visit went through, read from its events: for R4 ``statusHistory`` and
``classHistory``, and R5 EncounterHistory.

The events are replayed as the repository replays them, so a compensation restores the
state before the fact it cancels exactly as the aggregate does: the history is the record's
own (a discharge later cancelled shows as discharged until the cancellation, then the
restored state from then on; the visit timeline route says which facts were corrected).
Each span starts when the fact that set it occurred and ends when the next one did. Times
never go backwards: a back-dated fact (an entered-in-error dated earlier) starts when the
span before it did, so no period ends before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.visits.visit import PatientVisit


@dataclass(frozen=True)
class Span:
    """The visit's state and class from ``start`` until ``end`` (None: still so), and the
    locations (unit, bed) the patient held meanwhile, in order."""

    state: str
    visit_class: str
    start: datetime
    end: datetime | None
    locations: tuple[tuple[str, str | None], ...] = ()


def replayed(events: Iterable[PatientVisit.Event]) -> PatientVisit | None:
    """The visit the events make (None if there are none, or they make something else)."""
    visit: Any = None
    for event in events:
        visit = event.mutate(visit)
    return visit if isinstance(visit, PatientVisit) else None


def spans(events: Sequence[PatientVisit.Event]) -> list[Span]:
    """One span per change of state or class, oldest first."""
    found: list[Span] = []
    visit: Any = None
    for event in events:
        visit = event.mutate(visit)
        if not isinstance(visit, PatientVisit):
            return []
        held = visit.current_location
        here = () if held is None else ((held["unit"], held["bed"]),)
        if found and (found[-1].state, found[-1].visit_class) == (visit.status, visit.visit_class):
            last = found[-1]
            if here and here[0] not in last.locations:
                found[-1] = replace(last, locations=(*last.locations, *here))
            continue
        start = event.occurred_at if not found else max(event.occurred_at, found[-1].start)
        if found:
            found[-1] = replace(found[-1], end=start)
        found.append(Span(visit.status, visit.visit_class, start, None, here))
    return found


@dataclass(frozen=True)
class Stretch:
    """Consecutive spans that show the same ``value`` (a FHIR status, a class)."""

    value: Hashable
    start: datetime
    end: datetime | None


def stretches(found: Sequence[Span], shown: Callable[[Span], Hashable]) -> list[Stretch]:
    """The spans merged where ``shown`` gives the same value one after the other (R4 shows
    with_clinician and admitted both as in-progress: one entry, not two)."""
    merged: list[Stretch] = []
    for span in found:
        value = shown(span)
        if merged and merged[-1].value == value:
            merged[-1] = Stretch(value, merged[-1].start, span.end)
        else:
            merged.append(Stretch(value, span.start, span.end))
    return merged
