"""The words a BudgetLine speaks: its states, categories, stages of spend and roles."""

from __future__ import annotations

DRAFT = "draft"
ACTIVE = "active"
CLOSED = "closed"
STATES = (DRAFT, ACTIVE, CLOSED)

CATEGORIES = (
    "staffing", "supplies", "equipment", "training", "outreach", "contracted_services", "other",
)  # fmt: skip

#: Stages of spend (encumbrance accounting), each with its own references: a requisition,
#: a purchase order, an invoice or payroll run.
PRE_ENCUMBRANCE = "pre_encumbrance"
COMMITMENT = "commitment"
ACTUAL = "actual"
STAGES = (PRE_ENCUMBRANCE, COMMITMENT, ACTUAL)
#: The stage a posting may relieve: a commitment relieves its requisition, an actual its PO.
RELIEVES = {PRE_ENCUMBRANCE: None, COMMITMENT: PRE_ENCUMBRANCE, ACTUAL: COMMITMENT}

#: What a request (domain-spec §3: "where a request and an approval are separate steps")
#: asks for, and how it ends: approved by someone else, or rejected (or withdrawn).
AMENDMENT = "amendment"
OVERSPEND = "overspend"
REQUEST_OPEN = "open"
REQUEST_APPROVED = "approved"
REQUEST_REJECTED = "rejected"

MANAGER = "manager"
FINANCE = "finance"
FINANCE_DIRECTOR = "finance_director"
BOARD = "board"
#: "finance (and finance_director, board)" of domain-spec §5: who may post to a closed line.
FINANCE_ROLES = frozenset({FINANCE, FINANCE_DIRECTOR, BOARD})

FISCAL_YEARS = range(2000, 2200)
