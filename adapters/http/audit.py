"""The audit trail over HTTP: ``GET /api/v1/audit/events`` (the trail, oldest or newest
first, paginated), ``/audit/events/{position}`` (one entry with its chain hashes),
``/audit/verify`` (the hash chain checked against the stored log), ``/audit/export`` (CSV or
FHIR AuditEvent NDJSON, streamed; the export is itself recorded) and ``/audit/disclosures``
(the accounting of disclosures of one patient's data).

Every route is guarded by :data:`~application.shared.permissions.AUDIT_READERS` (the
disclosures by ``DISCLOSURE_READERS``, which adds the privacy officer): anyone else gets 403,
and that denial is recorded in the trail like any other.
"""

from __future__ import annotations

from litestar import Router

from adapters.http.audit_disclosures import list_disclosures
from adapters.http.audit_export import export_audit_events
from adapters.http.audit_trail import get_audit_event, list_audit_events
from adapters.http.audit_verify import checkpoint_verify_route, verify_audit_chain
from adapters.http.audit_vocabulary import list_audit_actions
from adapters.settings import Settings


def audit_router(settings: Settings) -> Router:
    return Router(
        path="/audit",
        route_handlers=[
            list_audit_events,
            get_audit_event,
            list_disclosures,
            verify_audit_chain,
            checkpoint_verify_route(settings),
            export_audit_events,
            list_audit_actions,
        ],  # fmt: skip
        tags=["Audit"],
    )
