"""A trail entry as a FHIR R5 AuditEvent (5.0.0), from its BALP shape
(:mod:`adapters.fhir.audit_event`).

R5's own places: ``category`` and ``code`` (CodeableConcepts) for R4's type and subtype;
``occurredDateTime``; ``outcome.code`` with the error code in ``outcome.detail``; purpose of
use in ``authorization`` (codes only); ``patient`` and ``encounter`` when the entry is about
one; entities have a ``role`` but no ``type``, and typed detail values. R5 has no
``agent.onBehalfOf``: the person acted for is an agent of their own (BALP's way, as in R4).
"""

from __future__ import annotations

from typing import Any

from adapters.fhir import audit_event_codes as codes
from adapters.fhir import common
from adapters.fhir.audit_event import SERVICE_REFERENCE, Agent, BalpEvent, Entity, balp_event
from adapters.fhir.audit_event_codes import Coding
from projections.audit.trail import AuditEntry

_INT32 = (-(2**31), 2**31 - 1)


def audit_event_r5(entry: AuditEntry) -> dict[str, Any]:
    return render_r5(balp_event(entry))


def render_r5(event: BalpEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = {"code": Coding(
        codes.AUDIT_EVENT_OUTCOME, event.outcome, codes.OUTCOME_DISPLAYS[event.outcome]
    ).as_json()}  # fmt: skip
    if event.failure is not None:
        error = Coding(codes.ERROR_CODE_SYSTEM, event.failure)
        outcome["detail"] = [{**_concept(error), "text": event.failure}]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event.id,
        "category": [_concept(event.type)],
        "code": {"coding": [coding.as_json() for coding in event.subtypes]},
        "action": event.action,
        "recorded": event.recorded,
        "outcome": outcome,
    }
    if event.occurred is not None:
        resource["occurredDateTime"] = event.occurred
    if event.purposes:
        resource["authorization"] = [_concept(Coding(codes.PURPOSE_OF_USE, code))
                                     for code in event.purposes]  # fmt: skip
    if event.patient is not None:
        resource["patient"] = common.patient_reference(event.patient)
    if event.encounter is not None:
        resource["encounter"] = {"reference": f"Encounter/{event.encounter}"}
    resource["agent"] = [_agent(agent) for agent in event.agents]
    resource["source"] = {
        "observer": SERVICE_REFERENCE,
        "type": [_concept(codes.APPLICATION_SERVER)],
    }
    resource["entity"] = [_entity(entity) for entity in event.entities]
    return resource


def _concept(coding: Coding) -> dict[str, Any]:
    return coding.as_concept()


def _agent(agent: Agent) -> dict[str, Any]:
    shown: dict[str, Any] = {"type": _concept(agent.type)}
    if agent.roles:
        shown["role"] = [{**_concept(role), "text": role.code} for role in agent.roles]
    shown["who"] = agent.who
    shown["requestor"] = agent.requestor
    return shown


def _entity(entity: Entity) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if entity.what is not None:
        shown["what"] = entity.what
    if entity.role is not None:
        shown["role"] = _concept(entity.role)
    if entity.query is not None:
        shown["query"] = entity.query
    if entity.type is not None and entity.role is None:
        # R5 has no entity.type: an entity known only by its type (the request) says it
        # in a detail.
        shown.setdefault("detail", []).append(
            {"type": _detail_type("entityType"), "valueCodeableConcept": _concept(entity.type)}
        )
    for name, value in entity.details:
        # FHIR integers are 32-bit: a larger count is written as text.
        typed: dict[str, Any] = (
            {"valueInteger": value} if isinstance(value, int) and _INT32[0] <= value <= _INT32[1]
            else {"valueString": str(value)}
        )  # fmt: skip
        shown.setdefault("detail", []).append({"type": _detail_type(name), **typed})
    return shown


def _detail_type(name: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.DETAIL_SYSTEM, "code": name}], "text": name}
