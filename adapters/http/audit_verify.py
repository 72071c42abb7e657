"""The audit trail's hash chain checked against the stored log: ``GET /api/v1/audit/verify``;
and the log checked against a signed checkpoint: ``POST /api/v1/audit/verify`` with the
checkpoint (as ``audit checkpoint`` wrote it) as the body. Auditor role only."""

from __future__ import annotations

from typing import Any, cast

import structlog
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from adapters.audit_checkpoints import check_checkpoint
from adapters.audit_signing import signing_key
from adapters.http.kit.auth import may_read
from adapters.http.kit.command_body import CommandBody
from adapters.http.kit.correlation import correlation_id_of
from adapters.http.kit.problems import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetails,
    problem_responses,
    problem_type,
)
from adapters.http.kit.read_side import READ_PROBLEMS, read_database_of
from adapters.readmodels.audit.store import verify
from adapters.settings import Settings, SettingsError
from application.shared.permissions import AUDIT_READERS
from projections.audit.checkpoint import Checkpoint, CheckpointResult
from projections.audit.trail import VerifyResult

log = structlog.get_logger("audit")


@get(
    "/verify",
    operation_id="verifyAuditChain",
    name="audit:verify",
    summary="Check the hash chain against the stored log",
    description="Recomputes the chain from the stored events up to the chain head and names "
    "the first entry altered, removed or inserted (`problem`). Record `headHash` elsewhere "
    "(it anchors the chain: a rewrite of both the log and the chain is only caught against "
    "an earlier head; `POST` a signed checkpoint to check one). Events stored after the head "
    "are not chained yet. Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit verification")],
    sync_to_thread=True,
    responses=READ_PROBLEMS,
)
def verify_audit_chain(request: Request[Any, Any, Any]) -> VerifyResult:
    return verify(read_database_of(request))


_CHECKPOINT_PROBLEMS = {
    **problem_responses(400, 401, 403, 413, 415, 500),
    503: ResponseSpec(
        data_container=ProblemDetails, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False,
        description="The event store does not answer, or no signing key is configured "
        "(AUDIT_SIGNING_KEY_FILE unset on PostgreSQL) (code SERVICE_UNAVAILABLE)",
    ),
}  # fmt: skip


def checkpoint_verify_route(settings: Settings) -> HTTPRouteHandler:
    """``POST /verify``, with the settings that name the signing key."""

    @post(
        "/verify",
        operation_id="verifyAuditCheckpoint",
        name="audit:verify-checkpoint",
        summary="Check the stored log against a signed checkpoint",
        description="The body is a checkpoint exactly as `patient-services audit checkpoint` "
        "wrote it. Its signature is checked against the service's configured signing key "
        "(never against the `publicKey` it carries, which anyone could have made), then the "
        "chain is recomputed from the stored log itself, from the first record to the "
        "checkpoint's `position`, and compared with its `headHash`: `ok`, or `problem` "
        "`signature` (not genuine: nothing is said about the log), `rewritten` (the log up "
        "to the position changed) or `truncated` (the log ends before it). This catches a "
        "rewrite of the log, the audit tables and tracking together. An auditor who does "
        "not trust the server checks with `audit verify --checkpoint FILE --public-key "
        "KEYFILE` instead. Role: auditor.",
        guards=[may_read(AUDIT_READERS, "audit verification")],
        sync_to_thread=True,
        status_code=200,
        dto=CommandBody[Checkpoint],  # type: ignore[type-var]  # any Struct decodes
        return_dto=None,
        responses=_CHECKPOINT_PROBLEMS,
    )
    def verify_against_checkpoint(
        request: Request[Any, Any, Any], data: JSONBody[Checkpoint]
    ) -> Response[CheckpointResult]:
        database = read_database_of(request)
        try:
            trusted = signing_key(settings).public_key()
        except SettingsError as error:
            log.error("audit.signing_key_unavailable", setting=str(error).split(":", 1)[0])
            problem = ProblemDetails(
                type=problem_type("SERVICE_UNAVAILABLE"), title="Service unavailable",
                status=503, detail=f"Checkpoints cannot be checked here: {error}",
                code="SERVICE_UNAVAILABLE", correlation_id=correlation_id_of(request.scope),
            )  # fmt: skip
            # The kit's 503 says only "does not answer"; this one names the missing setting.
            # Cast: the annotation is the 200 answer, which the document is generated from.
            unavailable = Response(problem, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
            return cast("Response[CheckpointResult]", unavailable)
        return Response(check_checkpoint(database, data, trusted))

    return verify_against_checkpoint
