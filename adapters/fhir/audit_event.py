"""One audit trail entry as an AuditEvent shaped after IHE BALP, before either FHIR version
writes it (:mod:`adapters.fhir.audit_event_r4`, :mod:`adapters.fhir.audit_event_r5`).

What BALP asks, and where each part comes from:

* **type and subtype** (R4 ``type``/``subtype``, R5 ``category``/``code``): a RESTful
  operation with its HL7 restful-interaction (``create``, ``update``, ``read``,
  ``search-type``, ``operation``); DICOM *Patient Record* for what a feed (an HL7 v2
  message) recorded, *Export* for an export of the trail and *Security Alert* for a denied
  request. The trail's own action value (``PatientArrived``, ``DischargePatient``, ``read
  visit``) is always one more code (:func:`~adapters.fhir.audit_event_codes.action_coding`).
* **action**: what was attempted, even when it was refused or denied (a refused discharge
  is ``U``, a denied read ``R``, a query ``E``, an export ``R`` as DICOM's Export says); the
  failure is in the outcome (``4`` refused by a rule, ``8`` denied) with the error code.
* **agents**, each with its type: the user (requestor; author of a change, recipient of a
  read), the person they acted for (``X-On-Behalf-Of``: delegator), a feed's sending system
  (the client, DICOM *Source Role ID*) and this service (the server, *Destination Role ID*).
* **entities**: each patient (role *Patient*, by the opaque patientRef only), each record
  (role *Domain Resource*: ``Encounter/<id>`` for a visit), the query of a search or an
  export (role *Query*, the query string base64-encoded, with its result count) and the
  request (BALP's *X-Request-Id* entity: our correlation id, with the log position).
* **purpose of use**: the HL7 v3 PurposeOfUse code the request sent. A command's free-text
  reason is never written: it may name a patient.

The id is the entry's log position: the same entry always gives the same id.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from adapters.fhir import audit_event_codes as codes
from adapters.fhir import common
from adapters.fhir.audit_event_actions import (
    ACTIONS,
    Interaction,
    access_interaction,
    attempted_interaction,
)
from adapters.fhir.audit_event_codes import Coding
from projections.audit.trail import (
    ACCESS_TYPE,
    ATTEMPT_TYPE,
    BOOKKEEPING_TYPES,
    EXPORT_TYPE,
    AuditEntry,
)

#: Each detail: a name and its value.
Details = tuple[tuple[str, str | int], ...]


@dataclass(frozen=True)
class Agent:
    type: Coding
    #: A FHIR Reference (the same in both versions).
    who: dict[str, Any]
    requestor: bool
    roles: tuple[Coding, ...] = ()


@dataclass(frozen=True)
class Entity:
    role: Coding | None
    #: BALP's entity type (R4 has ``entity.type``; R5 dropped it).
    type: Coding | None
    what: dict[str, Any] | None = None
    #: The query, base64-encoded (role *Query* only).
    query: str | None = None
    details: Details = ()


@dataclass(frozen=True)
class BalpEvent:
    id: str
    type: Coding
    subtypes: tuple[Coding, ...]
    action: str
    recorded: str
    occurred: str | None
    outcome: str
    #: The error code of a refused or denied attempt.
    failure: str | None
    purposes: tuple[str, ...]
    agents: tuple[Agent, ...]
    entities: tuple[Entity, ...]
    #: The one patient the entry is about (R5 ``patient``), if there is exactly one.
    patient: str | None
    #: The visit, when the record is one (R5 ``encounter``).
    encounter: str | None


SERVICE_REFERENCE: dict[str, Any] = {
    "identifier": {"system": codes.SERVICE_SYSTEM, "value": codes.SERVICE_NAME},
    "display": codes.SERVICE_NAME,
}
_SERVER = Agent(type=codes.DESTINATION_ROLE, who=SERVICE_REFERENCE, requestor=False)
_FAILURES = {"refused": codes.MINOR_FAILURE, "denied": codes.SERIOUS_FAILURE}
#: Where an access's record ids come from, by its route (a visit's id is also its FHIR
#: Encounter's and Appointment's). Other routes' ids are named without a type.
_ROUTE_RECORD_TYPES = (
    ("/api/v1/visits", "PatientVisit"), ("/api/v1/flow", "PatientVisit"),
    ("/fhir/", "PatientVisit"), ("/api/v1/complaints", "ComplaintCase"),
    ("/api/v1/budget-lines", "BudgetLine"),
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class _What:
    """What kind of event an entry is: its type, interaction, FHIR action, the user's
    agent type and the display of our own action code."""

    type: Coding
    interaction: Interaction | None
    action: str
    user: Coding
    kind: str


def balp_event(entry: AuditEntry) -> BalpEvent:
    what = _classify(entry)
    patients = _patients(entry)
    records = _records(entry)
    recorded = common.instant(entry.recorded_at or entry.occurred_at or _EPOCH)
    occurred = entry.occurred_at
    return BalpEvent(
        id=str(entry.position),
        type=what.type,
        subtypes=_subtypes(what.interaction, entry.action, what.kind),
        action=what.action,
        recorded=recorded,
        occurred=None if occurred is None else (
            recorded if occurred == entry.recorded_at else common.instant(occurred)),
        outcome=_FAILURES.get(entry.outcome, codes.SUCCESS),
        failure=codes.fhir_code(entry.code) if entry.outcome in _FAILURES else None,
        purposes=tuple(filter(None, [codes.fhir_code(entry.purpose_of_use)])),
        agents=_agents(entry, what.user),
        entities=(
            *(_patient_entity(ref) for ref in patients),
            *(_record_entity(entry, kind, record_id) for kind, record_id in records),
            *_query_entities(entry, what),
            _request_entity(entry),
        ),
        patient=patients[0] if len(patients) == 1 else None,
        encounter=next((rid for kind, rid in records if kind == "PatientVisit"), None)
        if len(records) == 1 else None,
    )  # fmt: skip


def _classify(entry: AuditEntry) -> _What:
    return _classified(
        entry.aggregate_type, entry.action, entry.outcome, entry.version == 1,
        entry.target_id is not None, bool(entry.source_system),
    )  # fmt: skip


# Kept for the few hundred combinations a trail holds: an export classifies every entry.
@lru_cache(maxsize=4096)
def _classified(
    aggregate_type: str, action: str, outcome: str, first: bool, targeted: bool, feed: bool
) -> _What:
    if aggregate_type == EXPORT_TYPE:
        return _What(codes.EXPORT, None, "R", codes.RECIPIENT, "export")
    if aggregate_type == ACCESS_TYPE:
        read = access_interaction(action)
        return _What(codes.REST, read, ACTIONS[read], codes.RECIPIENT, "access")
    if aggregate_type == ATTEMPT_TYPE:
        tried = attempted_interaction(action, one_record=targeted)
        reading = tried in ("read", "search-type")
        if outcome == "denied":
            kind = codes.SECURITY_ALERT
        else:
            kind = codes.PATIENT_RECORD if feed else codes.REST
        user = codes.RECIPIENT if reading else codes.AUTHOR
        # A feed's message is not a RESTful interaction; a denied request always is one.
        shown = None if feed and not reading and outcome != "denied" else tried
        return _What(kind, shown, ACTIONS[tried], user, "read" if reading else "command")
    done: Interaction = "create" if first else "update"
    label = "bookkeeping" if aggregate_type in BOOKKEEPING_TYPES else "event"
    if feed:  # an HL7 v2 message, not a RESTful interaction
        return _What(codes.PATIENT_RECORD, None, ACTIONS[done], codes.AUTHOR, label)
    return _What(codes.REST, done, ACTIONS[done], codes.AUTHOR, label)


@lru_cache(maxsize=4096)
def _subtypes(interaction: Interaction | None, action: str, kind: str) -> tuple[Coding, ...]:
    ours = codes.action_coding(action, kind)
    return (codes.interaction(interaction), ours) if interaction else (ours,)


@lru_cache(maxsize=1024)
def _roles(actor_role: str | None) -> tuple[Coding, ...]:
    """The roles of ``actor_role`` (comma-separated for an attempt: every role tried)."""
    roles = (codes.fhir_code(role) for role in (actor_role or "").split(","))
    return tuple(Coding(codes.ROLE_SYSTEM, role, role) for role in roles if role)


def _agents(entry: AuditEntry, user_type: Coding) -> tuple[Agent, ...]:
    agents = [Agent(type=user_type, who=_user(entry.actor_id or "unknown"), requestor=True,
                    roles=_roles(entry.actor_role))]  # fmt: skip
    if entry.on_behalf_of:
        agents.append(Agent(type=codes.DELEGATOR, who=_user(entry.on_behalf_of), requestor=False))
    if entry.source_system:
        source = {"identifier": {"system": codes.SOURCE_SYSTEM_SYSTEM,
                                 "value": entry.source_system}}  # fmt: skip
        agents.append(Agent(type=codes.SOURCE_ROLE, who=source, requestor=False))
    agents.append(_SERVER)
    return tuple(agents)


def _user(user_id: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.USER_SYSTEM, "value": user_id}}


def _patients(entry: AuditEntry) -> list[str]:
    refs = dict.fromkeys(ref for ref in entry.patient_refs or () if ref)
    if entry.patient_ref:
        refs[entry.patient_ref] = None
    return list(refs)


def _patient_entity(patient_ref: str) -> Entity:
    return Entity(role=codes.PATIENT_ROLE, type=codes.PERSON,
                  what=common.patient_reference(patient_ref))  # fmt: skip


def _records(entry: AuditEntry) -> list[tuple[str | None, str]]:
    """(aggregate type, id) of each record the entry names."""
    if entry.aggregate_type == ACCESS_TYPE:
        route = entry.route or ""
        kind = next((t for prefix, t in _ROUTE_RECORD_TYPES if route.startswith(prefix)), None)
        ids = dict.fromkeys(record_id for record_id in entry.record_ids or () if record_id)
        return [(kind, record_id) for record_id in ids]
    if entry.aggregate_type == ATTEMPT_TYPE:
        return [(entry.target_type, entry.target_id)] if entry.target_id else []
    if entry.aggregate_type == EXPORT_TYPE:
        return []
    return [(entry.aggregate_type, entry.aggregate_id)]


def _record_entity(entry: AuditEntry, kind: str | None, record_id: str) -> Entity:
    details: list[tuple[str, str | int]] = []
    if kind:
        details.append(("aggregateType", kind))
    if entry.aggregate_type not in (ACCESS_TYPE, ATTEMPT_TYPE):
        details.append(("version", entry.version))
        ids = (("eventId", entry.event_id), ("correctsEventId", entry.corrects_event_id))
        details += [(name, value) for name, value in ids if value]
    return Entity(role=codes.DOMAIN_RESOURCE_ROLE, type=codes.SYSTEM_OBJECT,
                  what=record_reference(kind, record_id), details=tuple(details))  # fmt: skip


def record_reference(kind: str | None, record_id: str) -> dict[str, Any]:
    """A visit as its FHIR Encounter (served on both bases); any other record by its id."""
    try:
        uuid = UUID(record_id)
    except ValueError:
        return {"identifier": {"system": codes.RECORD_SYSTEM, "value": record_id}}
    if kind == "PatientVisit":
        return {"reference": f"Encounter/{uuid}"}
    return {"identifier": common.uuid_identifier(uuid)}


def _query_entities(entry: AuditEntry, what: _What) -> tuple[Entity, ...]:
    """BALP's Query entity, for a search, a read whose list was too long to name each record
    (truncated: the count says how many) or an export: the query string as sent."""
    if entry.aggregate_type == ATTEMPT_TYPE:
        return ()  # a denied query's parameters are not recorded
    truncated = (entry.result_count or 0) > len(entry.record_ids or ())
    if what.type != codes.EXPORT and what.interaction != "search-type" and not truncated:
        return ()
    query = dict(entry.query or {})
    if what.type == codes.EXPORT and entry.patient_ref:
        query = {"patientRef": entry.patient_ref, **query}
    details: list[tuple[str, str | int]] = []
    if entry.format:
        details.append(("format", entry.format))
    if entry.result_count is not None:
        details.append(("resultCount", entry.result_count))
    encoded = base64.b64encode(urlencode(query).encode()).decode() if query else None
    return (Entity(role=codes.QUERY_ROLE, type=codes.SYSTEM_OBJECT, query=encoded,
                   details=tuple(details)),)  # fmt: skip


def _request_entity(entry: AuditEntry) -> Entity:
    """The request (BALP's X-Request-Id entity: our correlation id) and where the entry sits
    in the log."""
    what = None
    if entry.correlation_id:
        what = {"identifier": {"system": codes.CORRELATION_SYSTEM, "value": entry.correlation_id}}
    details: list[tuple[str, str | int]] = [("position", entry.position)]
    details += [(name, value) for name, value in (
        ("route", entry.route), ("commandId", entry.command_id),
        ("sourceMessageId", entry.source_message_id)) if value]  # fmt: skip
    return Entity(role=None, type=codes.REQUEST_ID, what=what, details=tuple(details))
