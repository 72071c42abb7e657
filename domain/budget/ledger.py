"""A budget line's figures: its budget, its phasing and each posting's open amount.

The state part of :class:`domain.budget.line.BudgetLine`, assigned only by its events' ``apply``
(the methods here are the assignments those share), and read as Decimal amounts. Totals are
kept in integer minor units of the line's currency, so every sum is exact.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.budget import vocabulary as v
from domain.budget.phasing import PERIODS
from domain.shared.money import minor_to_decimal


class BudgetLedger:
    def initialise(self, fiscal_year: int, cost_centre: str, category: str, currency: str) -> None:
        self.fiscal_year = fiscal_year
        self.cost_centre = cost_centre
        self.category = category
        self.currency = currency
        self.status = v.DRAFT
        self.frozen = False
        self.approval_ref: str | None = None
        self.original_budget_minor = 0
        self.current_budget_minor = 0
        self.phasing_minor = [0] * PERIODS
        #: stage → reference → {"amount", "open", "relieves", "event_id", "reversed"}: each
        #: posting, what of it is still open (not yet relieved by the next stage, released or
        #: reversed), the event that recorded it and whether it was reversed.
        self.postings: dict[str, dict[str, dict[str, Any]]] = {
            v.PRE_ENCUMBRANCE: {}, v.COMMITMENT: {}, v.ACTUAL: {},
        }  # fmt: skip
        #: stage → everything it ever moved, in or out (minor units): a bound on any one
        #: period's net movement, which the read model stores (see ``require_representable``).
        self.moved_minor = dict.fromkeys(v.STAGES, 0)
        #: release reference → {"reference", "amount"}: the releases named by the caller.
        self.releases: dict[str, dict[str, Any]] = {}
        self.pre_encumbered_minor = 0
        self.committed_minor = 0
        self.actual_minor = 0
        self.estimate_to_complete_minor = 0
        self.forecast_method: str | None = None
        self.overspend_limit_minor = 0
        self.overspend_expires_at: datetime | None = None
        self.overspend_flagged = False
        #: request id (str: the id of the event that asked) → {"kind", "status",
        #: "requested_by", "requested_for", and the terms: "amount" or "limit" and
        #: "expires_at"}: every request for approval, open or settled.
        self.requests: dict[str, dict[str, Any]] = {}

    def add_budget(self, amount: int, phasing: list[int]) -> None:
        self.current_budget_minor += amount
        self.phasing_minor = [a + b for a, b in zip(self.phasing_minor, phasing, strict=True)]

    def post(
        self, stage: str, reference: str, amount: int, relieves: str | None, relieved: int,
        event_id: UUID,
    ) -> None:  # fmt: skip
        self.postings[stage][reference] = {
            "amount": amount, "open": amount, "relieves": relieves, "event_id": event_id,
            "reversed": False,
        }  # fmt: skip
        self._add_open(stage, amount)
        if relieves is not None and relieved:
            self.relieve(v.RELIEVES[stage], relieves, relieved)

    def relieve(self, stage: str, reference: str, amount: int) -> None:
        self.postings[stage][reference]["open"] -= amount
        self._add_open(stage, -amount)

    def release(self, reference: str, amount: int, release_reference: str | None) -> None:
        self.relieve(v.COMMITMENT, reference, amount)
        if release_reference is not None:
            self.releases[release_reference] = {"reference": reference, "amount": amount}

    def reverse(self, stage: str, reference: str, amount: int) -> None:
        self.relieve(stage, reference, amount)
        self.postings[stage][reference]["reversed"] = True

    def open_request(
        self, request_id: UUID, kind: str, requested_by: str, requested_for: str | None,
        **terms: Any,
    ) -> None:  # fmt: skip
        self.requests[str(request_id)] = {
            "kind": kind, "status": v.REQUEST_OPEN, "requested_by": requested_by,
            "requested_for": requested_for, **terms,
        }  # fmt: skip

    def settle_request(self, request_id: UUID | None, status: str) -> None:
        """Close a request (approved or rejected); None: the decision answered no request."""
        if request_id is not None:
            self.requests[str(request_id)]["status"] = status

    def _add_open(self, stage: str, amount: int) -> None:
        self.moved_minor[stage] += abs(amount)
        if stage == v.PRE_ENCUMBRANCE:
            self.pre_encumbered_minor += amount
        elif stage == v.COMMITMENT:
            self.committed_minor += amount
        else:
            self.actual_minor += amount

    # ---- reading -----------------------------------------------------------------------
    @property
    def open_requests(self) -> dict[str, dict[str, Any]]:
        """The requests still waiting for a decision, by id."""
        return {k: r for k, r in self.requests.items() if r["status"] == v.REQUEST_OPEN}

    @property
    def available_minor(self) -> int:
        return (
            self.current_budget_minor
            - self.pre_encumbered_minor
            - self.committed_minor
            - self.actual_minor
        )

    @property
    def forecast_minor(self) -> int:
        """Actual + open commitments + estimate to complete (domain-spec §3)."""
        return self.actual_minor + self.committed_minor + self.estimate_to_complete_minor

    def _decimal(self, minor: int) -> Decimal:
        return minor_to_decimal(minor, self.currency)

    @property
    def current_budget(self) -> Decimal:
        return self._decimal(self.current_budget_minor)

    @property
    def original_budget(self) -> Decimal:
        return self._decimal(self.original_budget_minor)

    @property
    def pre_encumbered(self) -> Decimal:
        return self._decimal(self.pre_encumbered_minor)

    @property
    def committed(self) -> Decimal:
        return self._decimal(self.committed_minor)

    @property
    def actual(self) -> Decimal:
        return self._decimal(self.actual_minor)

    @property
    def available(self) -> Decimal:
        return self._decimal(self.available_minor)

    @property
    def forecast(self) -> Decimal:
        return self._decimal(self.forecast_minor)

    @property
    def estimate_to_complete(self) -> Decimal:
        return self._decimal(self.estimate_to_complete_minor)

    @property
    def phasing(self) -> list[Decimal]:
        return [self._decimal(minor) for minor in self.phasing_minor]
