"""Every ``action`` value the audit trail can hold, read from the code, not kept by hand.

A trail entry's ``action`` is one of:

* an event class name, for a recorded fact: the concrete events nested in each aggregate
  (``PatientVisit.PatientArrived`` → ``PatientArrived``; abstract bases such as
  ``Compensation`` are never recorded themselves), and ``Exported`` for an export of the trail
  and ``Accepted`` for idempotency bookkeeping;
* a command class name, for a refused or denied attempt (``DischargePatient``), or that name
  followed by `` with X-Source-System`` when a role other than a feed's sent a source;
* ``read <what>``, for a denied read (the guards' names: see
  :mod:`adapters.http.audit_vocabulary`) or an access.

What each attempted command would have done (create, update, or run a message of several
steps) decides the FHIR ``action`` it maps to (:func:`attempted_interaction`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from functools import cache
from typing import Any, Literal

from eventsourcing.domain import Aggregate

# Imported for their classes: the aggregates and commands below are found among subclasses.
import application.budget.commands
import application.complaints.commands
import application.privacy.commands
import application.service
import application.shared.access
import application.visits.commands
import application.visits.feed  # noqa: F401
from application.shared.commands import Command
from projections.audit.trail import ACCESS_TYPE, ATTEMPT_TYPE

#: The suffix of a command denied because its caller, not a feed, named a source system.
SOURCE_DENIAL_SUFFIX = " with X-Source-System"
_OURS = ("domain.", "application.")

Interaction = Literal["create", "update", "operation", "read", "search-type"]
#: The restful-interaction code and the FHIR ``action`` (C/R/U/D/E) of each.
ACTIONS: dict[Interaction, str] = {
    "create": "C", "update": "U", "operation": "E", "read": "R", "search-type": "E",
}  # fmt: skip


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@cache
def aggregate_types() -> dict[str, type[Aggregate]]:
    """Our aggregates that record events, by the name the trail gives them."""
    found = {
        cls.__name__: cls for cls in _subclasses(Aggregate) if cls.__module__.startswith(_OURS)
    }
    return {name: cls for name, cls in sorted(found.items()) if concrete_events(cls)}


def concrete_events(aggregate: type[Aggregate]) -> list[str]:
    """The event classes nested in ``aggregate`` that can be recorded: not ``Event`` or
    ``Created``, nor a base other nested events derive from (``Compensation``)."""
    nested = [value for name, value in vars(aggregate).items()
              if inspect.isclass(value) and issubclass(value, Aggregate.Event)
              and name not in ("Event", "Created")]  # fmt: skip
    bases = {base for event in nested for base in nested
             if base is not event and issubclass(event, base)}  # fmt: skip
    return [event.__name__ for event in nested if event not in bases]


def event_actions() -> dict[str, list[str]]:
    """Aggregate type → the action values its recorded facts show (attempts and accesses,
    whose entries name something else, are left out)."""
    return {name: concrete_events(cls) for name, cls in aggregate_types().items()
            if name not in (ATTEMPT_TYPE, ACCESS_TYPE)}  # fmt: skip


@cache
def command_types() -> dict[str, type[Command]]:
    """Every command a request can issue, by class name (the leaves of the command classes:
    the others are shared bases)."""
    leaves = [cls for cls in _subclasses(Command)
              if cls.__module__.startswith(_OURS) and not cls.__subclasses__()]  # fmt: skip
    return {cls.__name__: cls for cls in sorted(leaves, key=lambda cls: cls.__name__)}


def command_of(action: str) -> type[Command] | None:
    """The command an attempt's ``action`` names (with or without the source suffix)."""
    return command_types().get(action.removesuffix(SOURCE_DENIAL_SUFFIX))


def command_interaction(command: type[Command]) -> Interaction:
    """What a command does: creates its aggregate, changes one, or (a feed message, which may
    do either for several steps at once) runs as an operation."""
    if command.creates:
        return "create"
    if getattr(command, "aggregate_type", None) is None:
        return "operation"
    return "update"


def access_interaction(action: str) -> Interaction:
    """An access's verb: ``search …`` found records by a query, ``read …`` read one record
    or one view (:data:`~application.shared.access.ACCESS_ACTIONS`)."""
    return "search-type" if action.startswith("search ") else "read"


def attempted_interaction(action: str, *, one_record: bool) -> Interaction:
    """What an attempt tried: a read of one record or a query (``read …``: ``one_record``
    when the request named a record), else what its command does; an action no command of
    this version bears (written by an older one) counts as an operation."""
    if action.startswith("read "):
        return "read" if one_record else "search-type"
    command = command_of(action)
    return command_interaction(command) if command is not None else "operation"
