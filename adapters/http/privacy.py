"""The Privacy resource: ``POST /api/v1/privacy/erasures`` erases a data subject's personal
free text (role ``privacy_officer``), ``GET /api/v1/privacy/erasures/{id}`` shows the erasure's
certificate (privacy officer, auditor): what kinds of text, which records and events held it,
when, by whom and why, never the text itself.

An erasure destroys the subject's data keys first and then records the certificate (see
:mod:`application.privacy.erasures`). Asking again for a subject already erased records
nothing and answers 200 with the earlier erasure's id.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from adapters.http.kit.aggregate_state import state_handler
from adapters.http.kit.auth import claims_of, may_issue
from adapters.http.kit.command_body import CommandBody
from adapters.http.kit.commands import OnBehalfOf
from adapters.http.kit.context import request_context
from adapters.http.kit.errors import ServiceUnavailableError
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.resources import Resource, documented_header
from adapters.http.kit.services import services_of
from adapters.privacy import key_use
from adapters.privacy.erasing import erasures_for
from application.privacy.commands import EraseSubject
from application.privacy.erasures import ErasureOutcome
from application.shared.access import READ_ERASURE_CERTIFICATE
from application.shared.permissions import ERASURE_CERTIFICATE_READERS
from domain.privacy.erasure import REQUEST, DataErasure

ERASURES = Resource(path="/api/v1/privacy/erasures", noun="erasure", name="erasures")


class ErasureAccepted(msgspec.Struct, frozen=True):
    """The erasure's id (its certificate is at ``Location``), whether this request erased
    (false: the subject had been erased already, and this is that erasure), and the
    certificate's log position when this request recorded it."""

    id: UUID
    #: True if this request erased; false if the subject had been erased already (this is that
    #: erasure).
    erased_now: bool = msgspec.field(name="erasedNow")
    position: int | None


class ErasedEvent(msgspec.Struct, frozen=True):
    #: The event's version within its record's stream.
    version: int
    #: The event's fields that were sealed under the destroyed keys (they now read as "[erased]").
    fields: list[str]


class ErasedRecord(msgspec.Struct, frozen=True, rename="camel"):
    #: The record's type, e.g. ComplaintCase.
    aggregate_type: str
    #: The record's id (a UUID).
    aggregate_id: str
    #: The record's events that held the subject's text, by version.
    events: list[ErasedEvent]

    @classmethod
    def of(cls, record: dict[str, Any]) -> ErasedRecord:
        events = [ErasedEvent(e["version"], list(e["fields"])) for e in record["events"]]
        return cls(record["aggregate_type"], record["aggregate_id"], events)


class RepeatedRequest(msgspec.Struct, frozen=True):
    #: When the erasure was asked for again.
    at: datetime
    #: Who asked: the privacy officer's `sub`.
    by: str
    #: The role they asked with.
    role: str
    #: Why, as they wrote it (unsealed: it must not name anyone).
    reason: str | None


class ErasureCertificate(msgspec.Struct, frozen=True, rename="camel"):
    """An erasure as recorded: ``records`` lists each record and event whose fields were
    sealed under the destroyed keys (they now read as "[erased]"); ``unsealedRecords`` those
    holding the subject's text in plain, stored before sealing began, which the erasure could
    not remove; ``dataKinds`` what the text was. ``reason`` is the privacy officer's (or the
    retention policy's), stored unsealed."""

    id: UUID
    #: The data subject erased: a complainant's opaque reference.
    subject_ref: str
    #: Why the erasure ran: request (the right to erasure) or retention (the retention policy).
    basis: str
    #: The kinds of text erased, in words (e.g. the complaint's narrative).
    data_kinds: list[str]
    #: Each record, and its events, whose fields were sealed under the destroyed keys.
    records: list[ErasedRecord]
    #: Records holding the subject's text in plain (stored before sealing began), which the erasure
    #: could not remove.
    unsealed_records: list[ErasedRecord]
    #: The ids of the data keys destroyed.
    key_ids: list[str]
    #: When the erasure was recorded.
    erased_at: datetime
    #: Who erased: the privacy officer's `sub` (or the retention job's).
    erased_by: str
    #: The role they erased with: privacy_officer or system.
    erased_by_role: str
    reason: str | None
    #: Later requests to erase the same subject, which found nothing left to erase, oldest
    #: first.
    repeated_requests: list[RepeatedRequest]

    @classmethod
    def of(cls, erasure: DataErasure) -> ErasureCertificate:
        return cls(
            id=erasure.id, subject_ref=erasure.subject_ref, basis=erasure.basis,
            data_kinds=erasure.data_kinds, records=[ErasedRecord.of(r) for r in erasure.records],
            unsealed_records=[ErasedRecord.of(r) for r in erasure.unsealed_records],
            key_ids=erasure.key_ids, erased_at=erasure.erased_at, erased_by=erasure.erased_by,
            erased_by_role=erasure.erased_by_role, reason=erasure.reason,
            repeated_requests=[RepeatedRequest(**r) for r in erasure.repeats],
        )  # fmt: skip


@post(
    "/",
    operation_id="eraseSubject",
    name="erasures:EraseSubject",
    summary="Erase a data subject's personal free text",
    description="Destroys the data keys of `subjectRef` (a complainant's ref): from the "
    "response on, every complaint narrative, finding, response text and reason sealed for "
    'them reads as "[erased]" everywhere (the complaint, as-of reconstructions, the audit '
    "trail, exports). The rest of each record, and the trail's hash chain, stay as they were. "
    "It answers 2 s after the keys are destroyed, so no read still answering with the text "
    "can answer after it. 201 with the erasure's id; a subject already erased gives 200 with "
    "that erasure's id, erases nothing and records the request on its certificate. Cannot be "
    "undone. `reason` is recorded in the certificate as it is: it must not name anyone. Role: "
    "privacy_officer.",
    guards=[may_issue(EraseSubject)],
    dto=CommandBody[EraseSubject],
    return_dto=None,
    status_code=201,
    response_headers=[documented_header("Location", "The erasure's certificate")],
    responses={
        200: ResponseSpec(
            data_container=ErasureAccepted,
            description="The subject had been erased already: that erasure's id; only the "
            "request is recorded, on its certificate",
        ),
        **problem_responses(400, 401, 403, 413, 415, 422, 500, 503),
    },
)
async def erase_subject(
    request: Request[Any, Any, Any],
    data: JSONBody[EraseSubject],
    x_on_behalf_of: OnBehalfOf = None,
) -> Response[ErasureAccepted]:
    context = request_context(
        request.scope, claims_of(request), EraseSubject,
        on_behalf_of=x_on_behalf_of, source_system=None, source_message_id=None,
    )  # fmt: skip
    erasures = erasures_for(services_of(request))
    if erasures is None:
        raise ServiceUnavailableError("this service's event store seals no personal text")
    try:
        outcome: ErasureOutcome = await anyio.to_thread.run_sync(
            partial(erasures.erase, data.subject_ref, data.reason, context, basis=REQUEST)
        )
    finally:
        # A read that opened the text just before the keys went may still be answering: it
        # goes out within this long of its keys' last check, or is checked again and refused
        # (adapters.http.kit.fresh_keys). Waiting it out, the answer (an error too, once the
        # keys may be gone) comes after every one; a little more for the clocks' resolution.
        # The wait holds no thread, so erasures do not starve the readers they wait for.
        await anyio.sleep(key_use.GRACE_SECONDS + 0.1)
    return Response(
        ErasureAccepted(id=outcome.erasure_id, erased_now=outcome.created,
                        position=outcome.position),
        status_code=201 if outcome.created else 200,
        headers={"Location": f"{ERASURES.path}/{outcome.erasure_id}"},
    )  # fmt: skip


def privacy_router() -> Router:
    certificate = state_handler(
        ERASURES, DataErasure, ErasureCertificate, ERASURE_CERTIFICATE_READERS,
        operation_id="getErasureCertificate",
        summary="An erasure's certificate: what, which records, when, by whom, why",
        access=READ_ERASURE_CERTIFICATE,
    )  # fmt: skip
    return Router(path="/privacy/erasures", route_handlers=[erase_subject, certificate])
