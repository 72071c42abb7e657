"""Every event class of every aggregate is either folded or knowingly left alone by each
projection that folds that aggregate's events (issue 11, item 5).

Each such projection module declares, next to its fold, ``HANDLED`` (the event class names it
folds) and ``IGNORED`` (those it leaves alone). Here, for each (module, aggregate) pair, the
aggregate's event classes are enumerated from the classes themselves: every class nested in the
aggregate or in one of its base classes defined in ``domain/`` that subclasses
``eventsourcing.domain.DomainEvent`` (the ``@event`` decorator's classes are set on the
aggregate too, so they are found alike). A new event class fails this test until each
projection says what it does with it; a name no longer an event class fails it as stale.

``projections.visits.flow_metrics`` folds no events (it reads the visit rows the flow fold
made), so it declares nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from eventsourcing.domain import DomainEvent

from domain.budget.line import BudgetLine
from domain.capacity.schedule import ClinicSchedule
from domain.capacity.slot import SlotClaims
from domain.capacity.unit import FacilityUnit
from domain.capacity.waitlist import ScheduleWaitlist
from domain.complaints.case import ComplaintCase
from domain.visits.visit import PatientVisit
from projections.visits import flow
from projections.visits.flow_reducers import REDUCERS

#: (projection module, the aggregate whose events it folds).
FOLDS = [
    ("projections.visits.flow", PatientVisit),
    ("projections.complaints.worklist", ComplaintCase),
    ("projections.budget.budget_vs_actual", BudgetLine),
    ("projections.capacity.configuration", FacilityUnit),
    ("projections.capacity.configuration", ClinicSchedule),
    ("projections.capacity.configuration", SlotClaims),
    ("projections.capacity.configuration", ScheduleWaitlist),
]


def event_classes(aggregate: type) -> dict[str, type]:
    """The aggregate's event classes by name, its own and those of its domain base classes."""
    found: dict[str, type] = {}
    for owner in aggregate.__mro__:
        if not owner.__module__.startswith("domain."):
            continue  # the library's Aggregate and object: their events are bases of ours
        for value in vars(owner).values():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                found.setdefault(value.__name__, value)
    return found


def declared(module: ModuleType, aggregate: type) -> tuple[frozenset[str], frozenset[str]]:
    """A fold of one aggregate declares two sets; a fold of several, one pair per aggregate
    (dicts by the aggregate's class name)."""
    missing = [name for name in ("HANDLED", "IGNORED") if not hasattr(module, name)]
    assert not missing, f"{module.__name__} declares no {' or '.join(missing)}"
    handled, ignored = module.HANDLED, module.IGNORED
    if isinstance(handled, dict):
        handled, ignored = handled[aggregate.__name__], ignored[aggregate.__name__]
    assert isinstance(handled, frozenset) and isinstance(ignored, frozenset)
    return handled, ignored


@pytest.mark.parametrize(
    ("module_name", "aggregate"),
    FOLDS,
    ids=[f"{module.rsplit('.', 1)[1]}×{aggregate.__name__}" for module, aggregate in FOLDS],
)
def test_every_event_class_is_handled_or_ignored_and_none_is_stale(
    module_name: str, aggregate: type
) -> None:
    handled, ignored = declared(importlib.import_module(module_name), aggregate)
    events = set(event_classes(aggregate))

    assert not handled & ignored, f"both handled and ignored: {sorted(handled & ignored)}"
    assert events - handled - ignored == set(), "event classes neither handled nor ignored"
    assert (handled | ignored) - events == set(), "names that are no longer event classes"


def test_the_aggregates_have_the_event_classes_this_test_expects_to_find() -> None:
    # The enumeration itself: the aggregate's own classes, the bases and the compensations.
    visit_events = event_classes(PatientVisit)
    assert {"PatientArrived", "Event", "Created", "Compensation"} <= set(visit_events)
    assert visit_events["AdmissionCancelled"] is PatientVisit.AdmissionCancelled


def test_the_flow_fold_declares_exactly_the_classes_it_has_reducers_for() -> None:
    assert flow.HANDLED == {cls.__name__ for cls in REDUCERS}
    # Each reducer is for one of PatientVisit's own classes, not a namesake.
    events = event_classes(PatientVisit)
    assert all(events[cls.__name__] is cls for cls in REDUCERS)
