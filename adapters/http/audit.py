"""The audit trail over HTTP (auditor role only): ``GET /api/v1/audit/events`` (the trail,
oldest first, paginated), ``/audit/verify`` (the hash chain checked against the stored log)
and ``/audit/export`` (CSV or FHIR AuditEvent NDJSON, streamed; the export is itself recorded).

Every route is guarded by :data:`~application.shared.permissions.AUDIT_READERS`: anyone else gets
403, and that denial is recorded in the trail like any other.
"""

from __future__ import annotations

from litestar import Router

from adapters.http.audit_export import export_audit_events
from adapters.http.audit_trail import list_audit_events
from adapters.http.audit_verify import verify_audit_chain


def audit_router() -> Router:
    return Router(
        path="/audit",
        route_handlers=[list_audit_events, verify_audit_chain, export_audit_events],
        tags=["Audit"],
    )
