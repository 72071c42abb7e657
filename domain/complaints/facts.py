"""What the rules of a complaint read of its case (domain-spec §2).

A :class:`~domain.complaints.case.ComplaintCase` is a :class:`CaseFacts`: its state, as its
events' ``apply`` assigned it. The rules (:mod:`~domain.complaints.lifecycle`,
:mod:`~domain.complaints.responses`, :mod:`~domain.complaints.deadlines`) read it and never
change it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class CaseFacts(Protocol):
    status: str
    policy: str
    received_at: datetime
    #: The latest step of the lifecycle: steps never go back in time.
    last_step_at: datetime
    acknowledged_at: datetime | None
    investigation_started_at: datetime | None
    investigator_ref: str | None
    kind: str | None
    risk_grade: str | None
    reopened_count: int
    response_due_at: datetime
    findings: dict[str, Any] | None
    draft: dict[str, Any] | None
    approval: dict[str, Any] | None
    final_response: dict[str, Any] | None
    referrals: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    breaches: list[dict[str, Any]]
