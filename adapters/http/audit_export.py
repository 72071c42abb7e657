"""The audit trail exported, streamed: ``GET /api/v1/audit/export`` as CSV or as FHIR
AuditEvent NDJSON, R4 or R5 (auditor role only). The export is itself recorded in the trail,
with its format and filters, before the first byte is sent.

The AuditEvents are shaped after IHE BALP in :mod:`adapters.fhir.audit_event` (one shape,
written by :mod:`adapters.fhir.audit_event_r4` or :mod:`adapters.fhir.audit_event_r5`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from adapters.fhir.audit_event_r4 import audit_event_r4
from adapters.fhir.audit_event_r5 import audit_event_r5
from adapters.http.audit_parameters import (
    Action,
    Actor,
    AggregateId,
    From,
    IncludeBookkeeping,
    Kind,
    Outcome,
    PatientRef,
    PurposeOfUse,
    SourceSystem,
    To,
    audit_filters,
)
from adapters.http.audit_reasons import revealing
from adapters.http.kit.access import (
    OnBehalfOfHeader,
    PurposeOfUseHeader,
    checked_access_headers,
    purpose_or_default,
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

CSV = "csv"
FHIR_R4 = "fhir-r4-ndjson"
FHIR_R5 = "fhir-r5-ndjson"
#: The name the export had before it offered R4: still R5.
FHIR_ALIAS = "fhir-ndjson"
ExportFormat = Annotated[
    Literal["csv", "fhir-r4-ndjson", "fhir-r5-ndjson", "fhir-ndjson"],
    QueryParameter(name="format", description="`csv` (one row per entry, a header row "
                   "first), `fhir-r4-ndjson` or `fhir-r5-ndjson` (one FHIR AuditEvent per "
                   "line, shaped after IHE BALP); `fhir-ndjson` is `fhir-r5-ndjson`."),
]  # fmt: skip
#: The filters an export records, by their query parameter names, as the request gave them
#: (``patientRef`` is recorded on its own: it puts the export in that patient's trail).
FILTER_PARAMETERS = (
    "actor", "aggregateId", "action", "outcome", "from", "to", "includeBookkeeping", "kind",
    "purposeOfUse", "sourceSystem",
)  # fmt: skip

# ---- CSV ------------------------------------------------------------------------------------
#: The entry's JSON field names (camelCase), in the entry's order: the columns of the first
#: version, then those of accesses and exports (kind … format), then any added later.
CSV_COLUMNS = list(AuditEntry.__struct_encode_fields__)
#: A cell starting so is a formula to a spreadsheet (OWASP "CSV injection"): it is sent
#: with a leading apostrophe, which spreadsheets show as text and do not evaluate.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_to_builtins = msgspec.to_builtins
_json = msgspec.json.encode


def csv_cell(value: Any) -> str | int:
    """One value as a cell: lists joined by spaces, objects as JSON, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    elif isinstance(value, dict):
        value = _json(value).decode()
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    return value  # type: ignore[no-any-return]


def _csv_chunks(entries: Iterator[AuditEntry]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        row = _to_builtins(entry)
        writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
        count += 1
        if count % EXPORT_PAGE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# ---- NDJSON ---------------------------------------------------------------------------------
def _ndjson_chunks(
    entries: Iterator[AuditEntry], audit_event: Callable[[AuditEntry], dict[str, Any]]
) -> Iterator[bytes]:
    encode = msgspec.json.encode
    lines: list[bytes] = []
    for entry in entries:
        lines.append(encode(audit_event(entry)))
        if len(lines) == EXPORT_PAGE:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


_AUDIT_EVENTS = {FHIR_R4: audit_event_r4, FHIR_R5: audit_event_r5}
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
            ok.description = ("The entries: CSV (`format=csv`) or NDJSON, one FHIR AuditEvent "
                              "per line (`format=fhir-r4-ndjson` / `fhir-r5-ndjson`)")  # fmt: skip
            ok.content = {CSV_MEDIA_TYPE: text, NDJSON_MEDIA_TYPE: text}


@get(
    "/export",
    operation_id="exportAuditEvents",
    name="audit:export",
    summary="Export the audit trail (CSV, or FHIR R4 / R5 AuditEvent NDJSON), streamed",
    description="The entries `GET /audit/events` would list for the same filters, all of "
    "them, oldest first. The export is itself recorded in the trail (an `Exported` entry "
    "naming the format and the filters as given; with a `patientRef` filter it shows in that "
    "patient's trail). `text/csv` or `application/fhir+ndjson`: AuditEvents shaped after IHE "
    "BALP (FHIR 4.0.1 or 5.0.0). The action values and their codes: `GET /audit/actions`. "
    "Role: auditor.",
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
    kind: Kind = None,
    purpose_of_use: PurposeOfUse = None,
    source_system: SourceSystem = None,
    x_purpose_of_use: PurposeOfUseHeader = None,
    x_on_behalf_of: OnBehalfOfHeader = None,
) -> Stream:
    filters = audit_filters(
        patient_ref, actor, aggregate_id, action, outcome, from_, to, include_bookkeeping,
        kind=kind, purpose_of_use=purpose_of_use, source_system=source_system,
    )  # fmt: skip
    why, on_behalf_of = checked_access_headers(x_purpose_of_use, x_on_behalf_of)
    export_format = FHIR_R5 if format_ == FHIR_ALIAS else format_
    database = read_database_of(request)
    claims = claims_of(request)
    # Only once they are valid (audit_filters raised a 400 otherwise, recording nothing).
    given = {name: request.query_params.get(name) for name in FILTER_PARAMETERS}
    export_position = services_of(request).record_export(
        format=export_format, patient_ref=patient_ref, filters=given,
        actor_id=claims.subject, actor_role=next(r for r in claims.roles if r in AUDIT_READERS),
        correlation_id=correlation_id_of(request.scope),
        purpose_of_use=purpose_or_default(request, why), on_behalf_of=on_behalf_of,
    )  # fmt: skip
    # The trail as it stood when the export was asked for: everything before its own record,
    # once the worker has read that far.
    if wait_for_position(database, NAME, export_position, DEFAULT_WAIT_MS / 1000) is None:
        raise ProjectionLaggingError(NAME, export_position)
    filters = replace(filters, before_position=export_position)
    entries = iter_audit_events(database, filters, EXPORT_PAGE)
    if export_format == CSV:
        return Stream(
            # The CSV carries each entry's reason, as it reads now (FHIR AuditEvents never do).
            _csv_chunks(revealing(request, entries)),
            # Litestar adds "; charset=utf-8" to a text/* type (it was sent twice).
            media_type=CSV_MEDIA_TYPE,
            # Its reasons may be erased later: no cache keeps a copy that would outlive that.
            headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"',
                     "Cache-Control": "no-store"},
        )  # fmt: skip
    return Stream(
        _ndjson_chunks(entries, _AUDIT_EVENTS[export_format]),
        media_type=NDJSON_MEDIA_TYPE,
        headers={"Content-Disposition":
                 f'attachment; filename="audit-trail-{export_format[5:7]}.ndjson"'},
    )  # fmt: skip
