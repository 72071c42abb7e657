"""Complaint and budget events in the audit trail (domain-spec §4), on real PostgreSQL and
SQLite: every event with its envelope, the complaint's patient_ref on each of its entries, no
patient on budget entries, a refused command of each with its outcome, the hash chain intact
over them, and never a complaint's narrative in the trail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.readmodels.audit.store import AuditReadModel, verify
from adapters.readmodels.database import ReadDatabase
from application.budget.commands import (
    ApproveBudget,
    CreateBudgetLine,
    MoneyAmount,
    RecordCommitment,
)
from application.complaints.commands import (
    AcknowledgeComplaint,
    RegisterComplaint,
)
from application.service import PatientServices
from application.shared.context import RequestContext
from domain.shared.errors import DomainError
from tests.support.audit import catch_up, trail
from tests.support.projections import table

NARRATIVE = "Mrs Example was left waiting in corridor B for six hours"
MANAGER = RequestContext(actor_id="manager-1", actor_role="manager", correlation_id="corr-c")
FINANCE = RequestContext(actor_id="finance-1", actor_role="finance", correlation_id="corr-b")


pytestmark = pytest.mark.read_models([AuditReadModel])


def test_complaint_and_budget_events_are_in_the_trail_with_their_envelope(
    services: PatientServices, database: ReadDatabase
) -> None:
    received = datetime.now(timezone.utc) - timedelta(hours=2)
    case = services.execute(
        RegisterComplaint(
            channel="written", received_at=received, complainant_ref="CMP-1",
            patient_ref="P-77", categories=["communication"], summary=NARRATIVE,
            policy="nhs-england-2009",
        ),
        MANAGER,
    ).id  # fmt: skip
    services.execute(AcknowledgeComplaint(method="letter"), MANAGER, target=case)
    line = services.execute(
        CreateBudgetLine(fiscal_year=2024, cost_centre="PS-01", category="supplies",
                         currency="GBP"),
        FINANCE,
    ).id  # fmt: skip
    gbp = MoneyAmount(amount="500.00", currency="GBP")
    services.execute(ApproveBudget(amount=gbp, approval_ref="BUD-1"), FINANCE, target=line)
    with pytest.raises(DomainError):  # acknowledged once only
        services.execute(AcknowledgeComplaint(method="phone"), MANAGER, target=case)
    with pytest.raises(DomainError):  # past the available balance
        over = MoneyAmount(amount="900.00", currency="GBP")
        services.execute(RecordCommitment(reference="PO-1", amount=over), FINANCE, target=line)
    catch_up(database)

    complaint_trail = trail(database, aggregate_id=str(case))
    assert [(e.action, e.outcome) for e in complaint_trail] == [
        ("ComplaintReceived", "recorded"), ("ComplaintAcknowledged", "recorded"),
        ("AcknowledgeComplaint", "refused"),
    ]  # fmt: skip
    for entry in complaint_trail:
        kind = entry.aggregate_type if entry.outcome == "recorded" else entry.target_type
        assert (kind, entry.patient_ref) == ("ComplaintCase", "P-77")
        assert (entry.actor_id, entry.actor_role, entry.correlation_id) == (
            "manager-1",
            "manager",
            "corr-c",
        )
        assert entry.occurred_at is not None and entry.recorded_at is not None
    assert complaint_trail[0].occurred_at == received

    budget_trail = trail(database, aggregate_id=str(line))
    assert [(e.action, e.outcome) for e in budget_trail] == [
        ("BudgetLineCreated", "recorded"), ("BudgetApproved", "recorded"),
        ("RecordCommitment", "refused"),
    ]  # fmt: skip
    assert [e.aggregate_type for e in budget_trail[:2]] == ["BudgetLine"] * 2
    assert (budget_trail[2].target_type, budget_trail[2].code) == (
        "BudgetLine",
        "INSUFFICIENT_FUNDS",
    )
    assert all(e.patient_ref is None for e in budget_trail)
    assert budget_trail[-1].actor_id == "finance-1"

    assert verify(database).ok
    # The narrative is personal data: it is in the case's event, never in the trail.
    rows = table(database, "audit_g1_entries")
    assert rows and not any(NARRATIVE in str(value) for row in rows for value in row)
