"""The filters the audit trail's query (:mod:`adapters.http.audit_trail`) and its export
(:mod:`adapters.http.audit_export`) share: the same query parameters, read the same way, so an
export holds exactly the entries the query would list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from litestar.params import QueryParameter

from adapters.http.kit.errors import InvalidRequestError
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.read_side import aware
from adapters.readmodels.audit.store import AuditFilters
from projections.shared.records import to_micros

PatientRef = Annotated[
    str | None,
    QueryParameter(name="patientRef", required=False, max_length=64,
                   pattern=QUERY_TEXT_PATTERN, description="Entries "
                   "about this patient: their records' events, attempts aimed at them, and "
                   "reads and exports that returned them or asked for them."),
]  # fmt: skip
Actor = Annotated[
    str | None,
    QueryParameter(
        required=False,
        max_length=200,
        pattern=QUERY_TEXT_PATTERN,
        description="The acting user (`sub`).",
    ),
]
AggregateId = Annotated[
    str | None,
    QueryParameter(
        name="aggregateId",
        required=False,
        description="One aggregate's entries (a visit, complaint or budget line), with the "
        "attempts refused or denied on it; or an attempt by its own id.",
        pattern=QUERY_TEXT_PATTERN,
        schema_extra={"format": "uuid"},
    ),
]
Action = Annotated[
    str | None,
    QueryParameter(required=False, max_length=100, pattern=QUERY_TEXT_PATTERN,
                   description="An event class name "
                   "(`PatientArrived`) or, for attempts, the command (`DischargePatient`)."),
]  # fmt: skip
Outcome = Annotated[
    Literal["recorded", "refused", "denied", "success"] | None,
    QueryParameter(required=False, description="`recorded` facts, `refused` (a business "
                   "rule) / `denied` (authorisation) attempts, or `success`: reads that "
                   "returned their data."),
]  # fmt: skip
Kind = Annotated[
    Literal["access", "change"] | None,
    QueryParameter(required=False, description="`access`: reads of patient data (returned "
                   "or denied) and exports of the trail; `change`: everything else, refused "
                   "commands included."),
]  # fmt: skip
PurposeOfUse = Annotated[
    str | None,
    QueryParameter(name="purposeOfUse", required=False, max_length=64,
                   pattern=QUERY_TEXT_PATTERN, description="Accesses made for this HL7 v3 "
                   "PurposeOfUse code (`TREAT`, `HOPERAT`, `HPAYMT`, `PATRQT`; any case)."),
]  # fmt: skip
SourceSystem = Annotated[
    str | None,
    QueryParameter(name="sourceSystem", required=False, max_length=200,
                   pattern=QUERY_TEXT_PATTERN, description="Entries a feed recorded from "
                   "this source system (an HL7 message's sending application), as recorded."),
]  # fmt: skip
From = Annotated[
    datetime | None,
    QueryParameter(name="from", required=False, description="Recorded at or after this RFC "
                   "3339 time (`recordedAt`, when the system stored it; not `occurredAt`)."),
]  # fmt: skip
To = Annotated[
    datetime | None,
    QueryParameter(name="to", required=False, description="Recorded before this RFC 3339 time "
                   "(exclusive)."),
]  # fmt: skip
IncludeBookkeeping = Annotated[
    bool,
    QueryParameter(name="includeBookkeeping", required=False, description="Also list the "
                   "bookkeeping rows, left out by default: idempotency records (aggregateType "
                   "`CommandRecord`) and the capacity ledgers a booking writes beside its visit "
                   "(`PatientBookings`, `SlotClaims`). They are always covered by the hash "
                   "chain."),
]  # fmt: skip


def audit_filters(
    patient_ref: str | None,
    actor: str | None,
    aggregate_id: str | None,
    action: str | None,
    outcome: str | None,
    from_: datetime | None,
    to: datetime | None,
    include_bookkeeping: bool,
    *,
    kind: str | None = None,
    purpose_of_use: str | None = None,
    source_system: str | None = None,
) -> AuditFilters:
    """The filters the parameters ask for (400 for a naive time or an id that is not a UUID).
    Purposes of use are recorded in upper case, so the filter is matched so."""
    for name, moment in (("from", from_), ("to", to)):
        aware(name, moment)
    if aggregate_id is not None:
        try:
            aggregate_id = str(UUID(aggregate_id))
        except ValueError:
            raise InvalidRequestError.of("aggregateId", "must be a UUID") from None
    return AuditFilters(
        patient_ref=patient_ref, actor_id=actor, aggregate_id=aggregate_id, action=action,
        outcome=outcome, recorded_from=to_micros(from_), recorded_to=to_micros(to),
        include_bookkeeping=include_bookkeeping, kind=kind,
        purpose_of_use=None if purpose_of_use is None else purpose_of_use.upper(),
        source_system=source_system,
    )  # fmt: skip
