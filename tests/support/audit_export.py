"""What the audit export's tests share: a history with every kind of trail entry, and each
exported line read back and validated with ``fhir.resources`` (R4B models for R4, R5)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from fhir.resources.auditevent import AuditEvent as AuditEventR5
from fhir.resources.R4B.auditevent import AuditEvent as AuditEventR4

from application.access_log import PendingAccess, record_accesses
from application.service import PatientServices
from application.shared.access import Access
from application.shared.context import RequestContext
from domain.budget.policy import BudgetRules
from tests.support.histories import (
    NOW,
    Hostile,
    Scenario,
    walk_budget,
    walk_complaints,
    walk_visits,
)

MODELS = {"fhir-r4-ndjson": AuditEventR4, "fhir-r5-ndjson": AuditEventR5,
          "fhir-ndjson": AuditEventR5}  # fmt: skip
WORDS = ["ward-7", "walked in", "ref-a", "clinic B", "ED", "duty manager"]
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTION_SYSTEM = "urn:patient-services:action"


class RequestScenario(Scenario):
    """The history walks as requests would make them: a source system only on a feed's
    requests (none here), and every other request on someone's behalf."""

    def context(self, role: str, actor_id: str | None = None) -> RequestContext:
        n = next(self.text.turn)
        return RequestContext(
            actor_id=actor_id or WORDS[n % len(WORDS)], actor_role=role,
            correlation_id=f"req-{n}", on_behalf_of=f"dr-{n}" if n % 2 else None,
        )  # fmt: skip


def walk_every_aggregate(services: PatientServices) -> None:
    """Every event type of visits, complaints and budget lines, with refused and denied
    commands among them (tests.support.histories)."""
    scenario = RequestScenario(services, Hostile(WORDS))
    walk_visits(scenario)
    walk_complaints(scenario)
    rules = BudgetRules()
    walk_budget(scenario, rules.fiscal_year_of(rules.local_date(NOW)))


def record_reads(services: PatientServices) -> None:
    """Two reads as the access recorder saves them: a search returning two patients, and a
    board too long to name each (truncated: the query and the count)."""
    at = datetime.now(timezone.utc)
    reads = [
        Access(action="search visits", route="/api/v1/visits", query={"patientRef": "P-1"},
               purpose_of_use="TREAT", patient_refs=("P-1", "P-2"),
               record_ids=("6f1c8a52-3a55-4a8e-9a59-0d0f1f0b5a11",
                           "7a2d9b63-4b66-4b9f-8b6a-1e1f2f1c6b22"), result_count=2),
        Access(action="read board", route="/api/v1/flow/board", query={"unit": "ED"},
               purpose_of_use="HOPERAT", result_count=740, truncated=True),
    ]  # fmt: skip
    pending = [
        PendingAccess(access=read, actor_id="nurse-1", actor_roles=("nurse",),
                      correlation_id=f"read-{i}", occurred_at=at,
                      on_behalf_of="dr-9" if i else None).numbered()
        for i, read in enumerate(reads)
    ]  # fmt: skip
    record_accesses(services, pending)


def validated_lines(body: str, export_format: str) -> list[dict[str, Any]]:
    """Each line of an NDJSON export, validated as an AuditEvent of its FHIR version."""
    model = MODELS[export_format]
    events = [json.loads(line) for line in body.splitlines()]
    for event in events:
        model.model_validate(event)
    return events


def agent_type_codes(event: dict[str, Any]) -> list[str]:
    return [agent["type"]["coding"][0]["code"] for agent in event["agent"]]


def our_action(event: dict[str, Any], version: str) -> str:
    codings = event["subtype"] if version == "r4" else event["code"]["coding"]
    [code] = [c["code"] for c in codings if c["system"] == ACTION_SYSTEM]
    return str(code)
