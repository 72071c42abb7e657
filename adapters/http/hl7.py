"""``POST /api/v1/hl7``: one HL7 v2 message (ER7) over HTTP, answered with its ACK(s).

The same processing as the MLLP listener (:func:`adapters.composition.hl7_processor`), for
engines that prefer HTTPS to MLLP: body ``application/hl7-v2``, role ``integration``. The
answer is 200 whatever the message's fate (the ACK says it: AA/AE/AR, or CA then the
application ACK in enhanced mode), since the HTTP exchange itself succeeded; problems are
only for what stops the message being looked at (token, role, media type, size, an
unconfigured service). The ACK is built after the transaction committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import RawBody

from adapters.composition import hl7_processor
from adapters.hl7.processor import Hl7Processor
from adapters.http.kit.auth import may_issue
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.problems import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetails,
    problem_responses,
    problem_type,
)
from adapters.http.kit.services import services_of
from adapters.settings import Settings, SettingsError
from application.visits.feed import ApplyVisitMessage

HL7_MEDIA_TYPE = "application/hl7-v2"
#: Where the app keeps the processor it built for its services (``app.state``).
_PROCESSOR_STATE_KEY = "hl7_processor"

log = structlog.get_logger("hl7")

_MESSAGE_SCHEMA = Schema(
    type=OpenAPIType.STRING,
    description="One HL7 v2 message in ER7 (pipe-delimited) encoding, segments separated by "
    "`\\r` (`\\n` and `\\r\\n` are accepted), in the character set its MSH-18 names "
    "(default UTF-8).",
)
_ACK_SCHEMA = Schema(
    type=OpenAPIType.STRING,
    description="The ACK(s), each beginning with its MSH segment, segments and ACKs "
    "separated by `\\r`, in the message's MSH-18 character set. Original mode: one ACK "
    "(MSA-1 AA, AE or AR). Enhanced mode (MSH-15/MSH-16 valued): the accept ACK "
    "(CA/CE/CR), then the application ACK as MSH-16 asks; empty when both ask for none.",
)


@dataclass
class _Hl7Operation(Operation):
    """The body and the 200 answer are HL7 v2 text, which Litestar cannot infer from a raw
    ``body``."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The message",
            content={HL7_MEDIA_TYPE: OpenAPIMediaType(schema=_MESSAGE_SCHEMA)},
        )
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.description = "The message's ACK(s), sent once its events are committed"
            ok.content = {HL7_MEDIA_TYPE: OpenAPIMediaType(schema=_ACK_SCHEMA)}


_PROBLEMS = {
    **problem_responses(401, 403, 413, 500),
    415: ResponseSpec(
        data_container=ProblemDetails, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False,
        description="A body sent with another Content-Type than application/hl7-v2 "
        "(code UNSUPPORTED_MEDIA_TYPE); nothing is recorded",
    ),
    503: ResponseSpec(
        data_container=ProblemDetails, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False,
        description="The event store does not answer, or HL7 intake is not configured "
        "(PATIENT_REF_SECRET unset on PostgreSQL) (code SERVICE_UNAVAILABLE)",
    ),
}  # fmt: skip


def hl7_route(settings: Settings) -> HTTPRouteHandler:
    """The route, with the settings its processor is built from."""

    @post(
        "/hl7",
        operation_id="receiveHl7Message",
        name="hl7:receive",
        summary="Take one HL7 v2 message (ADT or SIU) and answer with its ACK",
        description="The HTTP twin of the MLLP listener: the same mapping, sender allow-list "
        "(`HL7_ALLOWED_SENDERS`), idempotency (a resend of the same MSH-3/MSH-4 and MSH-10 "
        "records nothing and is answered AA) and ACK rules. Send `Content-Type: "
        "application/hl7-v2`. The events are recorded as actor `hl7:<MSH-3>`, role "
        "integration. Role: integration.",
        guards=[may_issue(ApplyVisitMessage)],
        sync_to_thread=True,
        status_code=200,
        media_type=HL7_MEDIA_TYPE,
        responses=_PROBLEMS,
        operation_class=_Hl7Operation,
        tags=["HL7 v2"],
    )
    def receive_hl7_message(request: Request[Any, Any, Any], body: RawBody) -> Response[Any]:
        if not _is_hl7(request.headers.get("content-type")):
            return _problem(
                request, 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type",
                f"Send the message with Content-Type: {HL7_MEDIA_TYPE}.",
            )  # fmt: skip
        try:
            processor = _processor_of(request, settings)
        except SettingsError as error:
            log.error("hl7.not_configured", setting=str(error).split(":", 1)[0])
            return _problem(
                request, 503, "SERVICE_UNAVAILABLE", "Service unavailable",
                f"HL7 intake is not configured: {error}",
            )  # fmt: skip
        replies = processor.handle_bytes(body)
        return Response(b"\r".join(replies), status_code=200, media_type=HL7_MEDIA_TYPE)

    return receive_hl7_message


def _is_hl7(content_type: str | None) -> bool:
    """``application/hl7-v2``, with any parameters (the charset is MSH-18's business)."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == HL7_MEDIA_TYPE


def _processor_of(request: Request[Any, Any, Any], settings: Settings) -> Hl7Processor:
    """The app's processor over its current services, built on first use (the services may
    be set only once the app has started)."""
    services = services_of(request)
    state = request.app.state
    processor = state.get(_PROCESSOR_STATE_KEY)
    if not isinstance(processor, Hl7Processor) or processor.services is not services:
        processor = hl7_processor(settings, services)
        state[_PROCESSOR_STATE_KEY] = processor  # built twice at worst: the same thing
    return processor


def _problem(
    request: Request[Any, Any, Any], status: int, code: str, title: str, detail: str
) -> Response[ProblemDetails]:
    """A problem whose detail speaks of HL7, not of the JSON the shared texts assume."""
    problem = ProblemDetails(
        type=problem_type(code), title=title, status=status, detail=detail, code=code,
        correlation_id=correlation_id_of(request.scope),
    )  # fmt: skip
    return Response(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE)
