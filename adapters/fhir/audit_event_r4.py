"""A trail entry as a FHIR R4 AuditEvent (4.0.1; validated against R4B, whose AuditEvent is
the same), from its BALP shape (:mod:`adapters.fhir.audit_event`).

R4's own places: ``type`` (one Coding) and ``subtype``; ``period`` for when it happened;
``outcome`` the code (``0``/``4``/``8``) and ``outcomeDesc`` the error code; purpose of use
in ``purposeOfEvent``; each entity's BALP ``type`` and ``role`` as Codings; details are
strings (R4 allows no other value types there).
"""

from __future__ import annotations

from typing import Any

from adapters.fhir import audit_event_codes as codes
from adapters.fhir.audit_event import SERVICE_REFERENCE, Agent, BalpEvent, Entity, balp_event
from projections.audit.trail import AuditEntry


def audit_event_r4(entry: AuditEntry) -> dict[str, Any]:
    return render_r4(balp_event(entry))


def render_r4(event: BalpEvent) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event.id,
        "type": event.type.as_json(),
        "subtype": [coding.as_json() for coding in event.subtypes],
        "action": event.action,
        "recorded": event.recorded,
        "outcome": event.outcome,
    }
    if event.occurred is not None:
        resource["period"] = {"start": event.occurred, "end": event.occurred}
    if event.failure is not None:
        resource["outcomeDesc"] = event.failure
    if event.purposes:
        resource["purposeOfEvent"] = [_purpose(code) for code in event.purposes]
    resource["agent"] = [_agent(agent) for agent in event.agents]
    resource["source"] = {
        "site": codes.SERVICE_NAME,
        "observer": SERVICE_REFERENCE,
        "type": [codes.APPLICATION_SERVER.as_json()],
    }
    resource["entity"] = [_entity(entity) for entity in event.entities]
    return resource


def _purpose(code: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.PURPOSE_OF_USE, "code": code}]}


def _agent(agent: Agent) -> dict[str, Any]:
    shown: dict[str, Any] = {"type": agent.type.as_concept()}
    if agent.roles:
        shown["role"] = [{**role.as_concept(), "text": role.code} for role in agent.roles]
    shown["who"] = agent.who
    shown["requestor"] = agent.requestor
    return shown


def _entity(entity: Entity) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if entity.what is not None:
        shown["what"] = entity.what
    if entity.type is not None:
        shown["type"] = entity.type.as_json()
    if entity.role is not None:
        shown["role"] = entity.role.as_json()
    if entity.query is not None:
        shown["query"] = entity.query
    if entity.details:
        shown["detail"] = [{"type": name, "valueString": str(value)}
                           for name, value in entity.details]  # fmt: skip
    return shown
