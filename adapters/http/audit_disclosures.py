"""The accounting of disclosures of one patient's data (HIPAA 164.528):
``GET /api/v1/audit/disclosures?patientRef=&from=&to=`` as JSON pages or streamed CSV (roles
auditor and privacy_officer). What counts as a disclosure is said in
:mod:`adapters.readmodels.audit.disclosures`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Request, Response
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from adapters.http.audit_trail import Cursor, cursor_position, next_cursor
from adapters.http.kit.access import AccessSpec, Found, fields_named
from adapters.http.kit.auth import may_read
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.read_side import (
    DEFAULT_LIMIT,
    DEFAULT_WAIT_MS,
    POSITION_HEADER,
    Limit,
    MinPosition,
    WaitMs,
    aware,
    query_view,
    read_database_of,
    read_route,
)
from adapters.readmodels.audit.disclosures import (
    Disclosure,
    DisclosurePeriod,
    disclosures,
    iter_disclosures,
)
from adapters.readmodels.audit.store import NAME
from application.shared.access import READ_DISCLOSURES
from application.shared.permissions import DISCLOSURE_READERS
from projections.shared.records import to_micros

CSV_MEDIA_TYPE = "text/csv"
JSON_MEDIA_TYPE = "application/json"
#: Disclosures per database read while streaming the CSV.
CSV_PAGE = 1000
#: Reading a patient's disclosures is itself an access to their data: recorded with the
#: patient and the trail entries listed (a CSV's entries are not known when it starts: it
#: is recorded by its query, which names the patient).
_LISTED = fields_named(("patient_ref",), ("position",))


def _disclosures_found(content: Any) -> Found:
    # A streamed CSV's response has an empty body when its access is noted (the rows come
    # later): nothing to walk, and the query names the patient.
    if isinstance(content, bytes) and not content:
        return Found((), ())
    return _LISTED(content)


DISCLOSURES_ACCESS = AccessSpec(READ_DISCLOSURES, _disclosures_found)

PatientRef = Annotated[
    str,
    QueryParameter(name="patientRef", min_length=1, max_length=64, pattern=QUERY_TEXT_PATTERN,
                   description="The patient whose disclosures are accounted for (required)."),
]  # fmt: skip
From = Annotated[
    datetime | None,
    QueryParameter(name="from", required=False, description="Disclosures made at or after "
                   "this RFC 3339 time (`occurredAt`: when the data was read or exported)."),
]  # fmt: skip
To = Annotated[
    datetime | None,
    QueryParameter(name="to", required=False, description="Disclosures made before this RFC "
                   "3339 time (exclusive)."),
]  # fmt: skip
Format = Annotated[
    Literal["json", "csv"] | None,
    QueryParameter(name="format", required=False, description="`csv`: every disclosure of the "
                   "period as one streamed CSV (`limit` and `cursor` do not apply); `json` "
                   "(default) pages. `Accept: text/csv` also asks for CSV."),
]  # fmt: skip


class DisclosuresPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[Disclosure]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


#: The CSV's columns: the disclosure's JSON field names, in order.
CSV_COLUMNS = list(Disclosure.__struct_encode_fields__)


def _csv_cell(value: Any) -> Any:
    # Roles comma-joined as tokens carry them; ids and queries as JSON, unambiguous whatever
    # characters they hold.
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return msgspec.json.encode(value).decode()
    return value


def csv_chunks(items: Iterator[Disclosure]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, item in enumerate(items, start=1):
        row = msgspec.to_builtins(item)
        row["actorRoles"] = ",".join(item.actor_roles)
        writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])
        if count % CSV_PAGE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@dataclass
class _DisclosuresOperation(Operation):
    """The 200 is JSON pages or a CSV stream: the CSV is added to what Litestar documents."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[CSV_MEDIA_TYPE] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            ok.description = "The disclosures: JSON pages, or CSV (`format=csv`)"


def wants_csv(request: Request[Any, Any, Any], format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    accept = request.accept.best_match([JSON_MEDIA_TYPE, CSV_MEDIA_TYPE], JSON_MEDIA_TYPE)
    return accept == CSV_MEDIA_TYPE


@read_route(
    "/disclosures",
    operation_id="listDisclosures",
    name="audit:disclosures",
    summary="Accounting of disclosures of one patient's data (HIPAA 164.528)",
    description="Every read of the patient's data and every export of the trail that could "
    "hold it, oldest first: who (actor, roles, on behalf of), when, what (action, route, "
    "record ids, query) and why (purpose of use). `basis` is `named` when the read or export "
    "names the patient, `unfilteredExport` for an export not filtered by patient whose range "
    "holds entries about them. JSON pages, or CSV (`format=csv` or `Accept: text/csv`). "
    "Roles: auditor, privacy_officer.",
    guards=[may_read(DISCLOSURE_READERS, "audit disclosures")],
    operation_class=_DisclosuresOperation,
    access=DISCLOSURES_ACCESS,
)
def list_disclosures(
    request: Request[Any, Any, Any],
    patient_ref: PatientRef,
    from_: From = None,
    to: To = None,
    format_: Format = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    min_position: MinPosition = None,
    wait_ms: WaitMs = DEFAULT_WAIT_MS,
) -> Response[DisclosuresPage]:
    period = DisclosurePeriod(
        patient_ref, to_micros(aware("from", from_)), to_micros(aware("to", to))
    )
    after = cursor_position(cursor, descending=False)
    if wants_csv(request, format_):
        # Waits for minPosition as any query does, and says how far the trail had read.
        ready = query_view(request, NAME, min_position, wait_ms, lambda tx, prefix: None)
        stream = Stream(
            csv_chunks(iter_disclosures(read_database_of(request), period, CSV_PAGE)),
            media_type=CSV_MEDIA_TYPE,
            headers={
                "Content-Disposition": 'attachment; filename="disclosures.csv"',
                POSITION_HEADER: ready.headers[POSITION_HEADER],
            },
        )
        # A Stream is the Response this route documents both ways (_DisclosuresOperation).
        return cast(Response[DisclosuresPage], stream)

    def query(tx: Any, prefix: str) -> DisclosuresPage:
        page = disclosures(tx, prefix, period, after, limit)
        return DisclosuresPage(page.items, next_cursor(page.next_after, descending=False))

    return query_view(request, NAME, min_position, wait_ms, query)
