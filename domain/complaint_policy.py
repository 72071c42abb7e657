"""Complaint-handling policies and the working-day calendar (domain-spec §2).

Placeholder: filled in by the ComplaintCase work (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComplaintRules:
    """The policies (``us-cms``, ``nhs-england-2009``) and the holiday calendar a command
    computes its due dates from; the dates computed are stored in the events."""
