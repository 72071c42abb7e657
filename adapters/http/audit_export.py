"""The audit trail exported, streamed: ``GET /api/v1/audit/export`` as CSV or FHIR R5
AuditEvent NDJSON (auditor role only). The export is itself recorded in the trail."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from adapters.http.audit_parameters import (
    Action,
    Actor,
    AggregateId,
    From,
    IncludeBookkeeping,
    Outcome,
    PatientRef,
    To,
    audit_filters,
)
from adapters.http.kit.auth import claims_of, may_read
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.errors import ProjectionLaggingError
from adapters.http.kit.read_side import DEFAULT_WAIT_MS, READ_PROBLEMS, read_database_of
from adapters.http.kit.services import services_of
from adapters.readmodels.audit.store import NAME, iter_audit_events
from adapters.readmodels.status import wait_for_position
from application.shared.permissions import AUDIT_READERS
from projections.audit.trail import AuditEntry

#: Entries per database read while streaming an export.
EXPORT_PAGE = 1000

ExportFormat = Annotated[
    Literal["csv", "fhir-ndjson"],
    QueryParameter(name="format", description="`csv` (one row per entry, a header row first) "
                   "or `fhir-ndjson` (one FHIR R5 AuditEvent per line)."),
]  # fmt: skip


#: The entry's JSON field names (camelCase), in order.
_CSV_COLUMNS = list(AuditEntry.__struct_encode_fields__)
_to_builtins = msgspec.to_builtins


def _csv_chunks(entries: Iterator[AuditEntry]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    count = 0
    for entry in entries:
        row = _to_builtins(entry)
        writer.writerow(["" if row[c] is None else row[c] for c in _CSV_COLUMNS])
        count += 1
        if count % EXPORT_PAGE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _ndjson_chunks(entries: Iterator[AuditEntry]) -> Iterator[bytes]:
    encode = msgspec.json.encode
    lines: list[bytes] = []
    for entry in entries:
        lines.append(encode(fhir_audit_event(entry)))
        if len(lines) == EXPORT_PAGE:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


_OUTCOMES = {"recorded": ("0", "Success"), "refused": ("4", "Minor failure"),
             "denied": ("8", "Serious failure")}  # fmt: skip
_FHIR_TYPES = {"PatientVisit": "Encounter"}


def fhir_audit_event(entry: AuditEntry) -> dict[str, Any]:
    """One entry as a FHIR R5 AuditEvent (identifiers only; no patient demographics)."""
    if entry.outcome == "recorded":
        action = "C" if entry.version == 1 else "U"
    else:
        action = "R" if entry.action.startswith("read ") else "E"
    outcome_code, outcome_display = _OUTCOMES.get(entry.outcome, ("4", "Minor failure"))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": entry.event_id or str(entry.position),
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest", "display": "RESTful Operation"}]}],
        "code": {"coding": [{"system": "urn:patient-services:audit-action",
                             "code": entry.action}]},
        "action": action,
        "recorded": _instant(entry.recorded_at),
        "outcome": {"code": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-outcome",
            "code": outcome_code, "display": outcome_display}},
        "agent": [{
            "who": {"identifier": {"system": "urn:patient-services:user",
                                   "value": entry.actor_id or "unknown"}},
            "requestor": True}],
        "source": {"observer": {"display": "patient-services"}},
    }  # fmt: skip
    if entry.occurred_at is not None:
        event["occurredDateTime"] = _instant(entry.occurred_at)
    if entry.code is not None:
        event["outcome"]["detail"] = [{"text": entry.code}]
    agent = event["agent"][0]
    if entry.actor_role:
        agent["role"] = [{"text": role} for role in entry.actor_role.split(",")]
    if entry.on_behalf_of:
        agent["onBehalfOf"] = {"identifier": {"system": "urn:patient-services:user",
                                              "value": entry.on_behalf_of}}  # fmt: skip
    if entry.reason:
        event["authorization"] = [{"text": entry.reason}]
    if entry.patient_ref:
        event["patient"] = {"identifier": {"system": "urn:patient-services:patient-ref",
                                           "value": entry.patient_ref}}  # fmt: skip
    target_type = entry.target_type if entry.target_id else entry.aggregate_type
    target_id = entry.target_id or entry.aggregate_id
    what: dict[str, Any] = {"identifier": {"system": f"urn:patient-services:{target_type}",
                                           "value": target_id}}  # fmt: skip
    fhir_type = _FHIR_TYPES.get(target_type or "")
    if fhir_type:
        what = {"reference": f"{fhir_type}/{target_id}"}
        if fhir_type == "Encounter":
            event["encounter"] = what
    event["entity"] = [{"what": what, "detail": [
        {"type": {"text": "position"}, "valueInteger": entry.position},
        {"type": {"text": "version"}, "valueInteger": entry.version},
        *({"type": {"text": name}, "valueString": value} for name, value in (
            ("correlationId", entry.correlation_id), ("commandId", entry.command_id),
            ("sourceSystem", entry.source_system), ("sourceMessageId", entry.source_message_id),
            ("correctsEventId", entry.corrects_event_id)) if value),
    ]}]  # fmt: skip
    return event


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


CSV_MEDIA_TYPE = "text/csv"
NDJSON_MEDIA_TYPE = "application/fhir+ndjson"


@dataclass
class _ExportOperation(Operation):
    """The export's OpenAPI operation: its 200 is a CSV or an NDJSON stream, not the JSON
    Litestar documents for a ``Stream``."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            text = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            ok.description = "The entries: CSV (`format=csv`) or NDJSON (`format=fhir-ndjson`)"
            ok.content = {CSV_MEDIA_TYPE: text, NDJSON_MEDIA_TYPE: text}


@get(
    "/export",
    operation_id="exportAuditEvents",
    name="audit:export",
    summary="Export the audit trail (CSV or FHIR AuditEvent NDJSON), streamed",
    description="The entries `GET /audit/events` would list for the same filters, all of "
    "them, oldest first. The export is itself recorded in the trail (a `TrailExport` entry "
    "naming the format and filters; with a `patientRef` filter it shows in that patient's "
    "trail). `text/csv` or `application/fhir+ndjson`. Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit export")],
    sync_to_thread=True,
    responses=READ_PROBLEMS,
    operation_class=_ExportOperation,
)
def export_audit_events(
    request: Request[Any, Any, Any],
    format_: ExportFormat,
    patient_ref: PatientRef = None,
    actor: Actor = None,
    aggregate_id: AggregateId = None,
    action: Action = None,
    outcome: Outcome = None,
    from_: From = None,
    to: To = None,
    include_bookkeeping: IncludeBookkeeping = False,
) -> Stream:
    filters = audit_filters(
        patient_ref, actor, aggregate_id, action, outcome, from_, to, include_bookkeeping
    )
    database = read_database_of(request)
    claims = claims_of(request)
    request_filters = {
        "actor": actor, "aggregateId": filters.aggregate_id, "action": action,
        "outcome": outcome, "from": _instant(from_), "to": _instant(to),
        "includeBookkeeping": "true" if include_bookkeeping else None,
    }  # fmt: skip
    export_position = services_of(request).record_export(
        format=format_, patient_ref=patient_ref, filters=request_filters,
        actor_id=claims.subject, actor_role=next(r for r in claims.roles if r in AUDIT_READERS),
        correlation_id=correlation_id_of(request.scope),
    )  # fmt: skip
    # The trail as it stood when the export was asked for: everything before its own record,
    # once the worker has read that far.
    if wait_for_position(database, NAME, export_position, DEFAULT_WAIT_MS / 1000) is None:
        raise ProjectionLaggingError(NAME, export_position)
    filters = replace(filters, before_position=export_position)
    entries = iter_audit_events(database, filters, EXPORT_PAGE)
    if format_ == "csv":
        return Stream(
            _csv_chunks(entries),
            # Litestar adds "; charset=utf-8" to a text/* type (it was sent twice).
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
        )
    return Stream(_ndjson_chunks(entries), media_type=NDJSON_MEDIA_TYPE)
