"""The audit trail's hash chain checked against the stored log: ``GET /api/v1/audit/verify``
(auditor role only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from adapters.http.kit.auth import may_read
from adapters.http.kit.read_side import READ_PROBLEMS, read_database_of
from adapters.readmodels.audit.store import verify
from application.shared.permissions import AUDIT_READERS
from projections.audit.trail import VerifyResult


@get(
    "/verify",
    operation_id="verifyAuditChain",
    name="audit:verify",
    summary="Check the hash chain against the stored log",
    description="Recomputes the chain from the stored events up to the chain head and names "
    "the first entry altered, removed or inserted (`problem`). Record `headHash` elsewhere "
    "(it anchors the chain: a rewrite of both the log and the chain is only caught against "
    "an earlier head). Events stored after the head are not chained yet. Role: auditor.",
    guards=[may_read(AUDIT_READERS, "audit verification")],
    sync_to_thread=True,
    responses=READ_PROBLEMS,
)
def verify_audit_chain(request: Request[Any, Any, Any]) -> VerifyResult:
    return verify(read_database_of(request))
