"""The vocabulary of the trail's ``action`` values: ``GET /api/v1/audit/actions`` (auditor).

Every value the trail can hold, read from the code each time (so it cannot drift from it):
the events of each aggregate and the commands (:mod:`adapters.fhir.audit_event_actions`),
the reads an access record names (:data:`~application.shared.access.ACCESS_ACTIONS`) and
the reads a guard denies (each route's ``may_read`` guard, by its name). Each value comes
with what the FHIR export makes of it, computed by the export's own mapping
(:func:`~adapters.fhir.audit_event.balp_event`) on an entry of that kind: its FHIR
``action`` and restful-interaction, and its event type in each situation it can be in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import msgspec
from eventsourcing.domain import Aggregate
from litestar import Litestar, Request, get

from adapters.fhir.audit_event import balp_event
from adapters.fhir.audit_event_actions import (
    SOURCE_DENIAL_SUFFIX,
    aggregate_types,
    command_types,
    event_actions,
)
from adapters.fhir.audit_event_codes import RESTFUL_INTERACTION
from adapters.http.kit.auth import INTEGRATION_ROLE, may_read
from adapters.http.kit.problems import problem_responses
from application.shared.access import ACCESS_ACTIONS
from application.shared.attempts import target_type_of
from application.shared.permissions import AUDIT_READERS
from projections.audit.trail import ACCESS_TYPE, ATTEMPT_TYPE, BOOKKEEPING_TYPES, AuditEntry

#: A guard's name is ``may_read_<what>``; the denial it records is ``read <what>``.
_READ_GUARD_PREFIX = "may_read_"
_SOME_ID = "00000000-0000-4000-8000-000000000001"
_AT = datetime(2000, 1, 1, tzinfo=timezone.utc)


class TypeCoding(msgspec.Struct, frozen=True):
    #: The code system's URI.
    system: str
    #: The code.
    code: str
    #: The code's display text (null if the system gives none).
    display: str | None


class ActionTerm(msgspec.Struct, frozen=True, rename="camel"):
    #: The value of ``action`` in the trail.
    action: str
    #: ``event`` (a recorded fact), ``export``, ``bookkeeping``, ``command`` (an attempt
    #: refused or denied), ``denied read`` or ``access`` (a read that returned data).
    kind: str
    #: The trail's ``kind`` of such entries: ``change`` or ``access``.
    entry_kind: str
    #: The record type the action is about: the one recording the event, or a command's target (null
    #: if none).
    aggregate_type: str | None
    #: The FHIR ``AuditEvent.action`` values it maps to (C, R, U, D, E).
    fhir_actions: list[str]
    #: The HL7 restful-interaction codes (``create``, ``read``, ``search-type``, …).
    interactions: list[str]
    #: The event type (R4 ``type``, R5 ``category``) by situation: ``recorded``, ``feed``
    #: (recorded from an HL7 message), ``refused``, ``denied``, ``success``.
    types: dict[str, TypeCoding]


class ActionVocabulary(msgspec.Struct, frozen=True):
    items: list[ActionTerm]


def _entry(**fields: Any) -> AuditEntry:
    base: dict[str, Any] = {
        "position": 1, "event_id": None, "aggregate_type": "", "aggregate_id": _SOME_ID,
        "version": 2, "action": "", "outcome": "recorded", "patient_ref": None,
        "actor_id": "someone", "actor_role": None, "on_behalf_of": None, "occurred_at": _AT,
        "recorded_at": _AT, "reason": None, "source_system": None, "source_message_id": None,
        "command_id": None, "correlation_id": None, "corrects_event_id": None,
    }  # fmt: skip
    return AuditEntry(**{**base, **fields})


def _term(
    action: str, kind: str, aggregate_type: str | None, situations: dict[str, AuditEntry]
) -> ActionTerm:
    events = {situation: balp_event(entry) for situation, entry in situations.items()}
    entry_kinds = {entry.kind for entry in situations.values()}
    return ActionTerm(
        action=action, kind=kind, entry_kind=min(entry_kinds), aggregate_type=aggregate_type,
        fhir_actions=sorted({event.action for event in events.values()}),
        interactions=sorted({coding.code for event in events.values()
                             for coding in event.subtypes if coding.system == RESTFUL_INTERACTION}),
        types={situation: TypeCoding(event.type.system, event.type.code, event.type.display)
               for situation, event in events.items()},
    )  # fmt: skip


def _fed(command: type[Any]) -> bool:
    """Whether a feed (the integration role) may issue the command."""
    return INTEGRATION_ROLE in command.roles


def _recorded_terms() -> Iterator[ActionTerm]:
    kinds = {"TrailExport": "export", **{name: "bookkeeping" for name in BOOKKEEPING_TYPES}}
    fed = {target_type_of(command) for command in command_types().values() if _fed(command)}
    for aggregate_type, names in event_actions().items():
        aggregate = aggregate_types()[aggregate_type]
        kind = kinds.get(aggregate_type, "event")
        for name in names:
            created = issubclass(getattr(aggregate, name), Aggregate.Created)
            entry = _entry(aggregate_type=aggregate_type, action=name,
                           version=1 if created else 2,
                           kind="access" if kind == "export" else "change")  # fmt: skip
            situations = {"recorded": entry}
            if aggregate_type in fed:
                situations["feed"] = _entry(**{**_fields(entry), "source_system": "feed"})
            yield _term(name, kind, aggregate_type, situations)


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return msgspec.structs.asdict(entry)


def _command_terms() -> Iterator[ActionTerm]:
    for name, command in command_types().items():
        target = target_type_of(command)
        attempt = _entry(aggregate_type=ATTEMPT_TYPE, action=name, target_type=target,
                         target_id=_SOME_ID if target else None)  # fmt: skip
        refused, denied = (_entry(**{**_fields(attempt), "outcome": outcome})
                           for outcome in ("refused", "denied"))  # fmt: skip
        situations = {"refused": refused, "denied": denied}
        if _fed(command):
            situations["feed"] = _entry(**{**_fields(refused), "source_system": "feed"})
        yield _term(name, "command", target, situations)
        sourced = _entry(**{**_fields(denied), "action": name + SOURCE_DENIAL_SUFFIX})
        yield _term(sourced.action, "command", target, {"denied": sourced})


def denied_reads(app: Litestar) -> dict[str, bool]:
    """``read <what>`` of each ``may_read`` guard of ``app``'s routes → whether a route it
    guards names one record (a path ``id``, which the denial then records)."""
    found: dict[str, bool] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for guard in handler.resolve_guards():
                name = getattr(guard, "__name__", "")
                if name.startswith(_READ_GUARD_PREFIX):
                    action = "read " + name[len(_READ_GUARD_PREFIX) :]
                    found[action] = found.get(action, False) or "id" in route.path_parameters
    return dict(sorted(found.items()))


def _read_terms(app: Litestar) -> Iterator[ActionTerm]:
    for action, names_one in denied_reads(app).items():
        situations = {"denied": _entry(aggregate_type=ATTEMPT_TYPE, action=action,
                                       outcome="denied", kind="access")}  # fmt: skip
        if names_one:
            situations["denied one record"] = _entry(
                **{**_fields(situations["denied"]), "target_id": _SOME_ID}
            )
        yield _term(action, "denied read", None, situations)
    for action in ACCESS_ACTIONS:
        entry = _entry(aggregate_type=ACCESS_TYPE, action=action, outcome="success",
                       kind="access")  # fmt: skip
        yield _term(action, "access", None, {"success": entry})


def vocabulary(app: Litestar) -> list[ActionTerm]:
    """Every action value, events first (by aggregate), then commands, then reads."""
    terms: Iterable[ActionTerm] = (*_recorded_terms(), *_command_terms(), *_read_terms(app))
    return list(terms)


@get(
    "/actions",
    operation_id="listAuditActions",
    name="audit:actions",
    summary="Every action value the audit trail can hold, and its FHIR codes",
    description="The vocabulary of the trail's `action`, generated from the code: each event "
    "class per aggregate type, each command (as attempted: refused or denied), each read a "
    "guard denies and each read an access record names; with the entry kind, the FHIR "
    "`AuditEvent.action` and restful-interaction it maps to, and its event type (DICOM or "
    "HL7 audit-event-type) in each situation. Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit vocabulary")],
    responses=problem_responses(401, 403, 500),
)
async def list_audit_actions(request: Request[Any, Any, Any]) -> ActionVocabulary:
    return ActionVocabulary(items=vocabulary(request.app))
