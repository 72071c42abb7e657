"""Budget policy: approval tiers and the fiscal year (domain-spec §3).

Placeholder: filled in by the BudgetLine work (issue 5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetRules:
    """Approval tiers by amount and role, and the fiscal year's first month."""
