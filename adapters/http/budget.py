"""The Budget resource: ``POST /api/v1/budget-lines``, one ``POST`` per action of
:data:`application.budget.commands.BUDGET_ACTIONS`, ``POST /api/v1/budget-transfers`` (both
lines in one transaction), ``GET /api/v1/budget-lines/{id}`` and the budget vs actual read
model at ``GET /api/v1/budget/summary``. Budget data holds no patient data."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from adapters.http.kit.aggregate_state import state_handler
from adapters.http.kit.auth import may_read
from adapters.http.kit.commands import action_handler, untargeted_handler
from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.problems import problem_responses
from adapters.http.kit.read_side import (
    DEFAULT_WAIT_MS,
    MinPosition,
    WaitMs,
    query_view,
    read_route,
)
from adapters.http.kit.resources import Resource
from adapters.readmodels.budget import store as budget_store
from adapters.readmodels.database import Transaction
from application.budget.commands import BUDGET_ACTIONS, CreateBudgetLine, TransferBudget
from application.shared.context import utc_now
from application.shared.permissions import BUDGET_READERS, BUDGET_REPORT_READERS
from domain.budget.line import BudgetLine
from domain.budget.policy import BudgetRules
from domain.shared.money import minor_to_decimal
from projections.budget.budget_vs_actual import Amount, BudgetSummary

BUDGET_LINES = Resource(path="/api/v1/budget-lines", noun="budget line", name="budget-lines")


class OpenRequest(msgspec.Struct, frozen=True, rename="camel"):
    """A request waiting for another person's approval: approve it by passing ``id`` as
    ``requestId`` to ``amend`` (kind ``amendment``: the same ``amount``) or to
    ``authorise-overspend`` (kind ``overspend``: the same ``limit`` and ``expiresAt``)."""

    id: UUID
    #: What is asked for: amendment or overspend.
    kind: str
    #: Who asked: the requester's `sub`.
    requested_by: str
    amount: Amount | None = None
    #: For an overspend request, the limit asked for (null for an amendment).
    limit: Amount | None = None
    #: For an overspend request, when the authorisation asked for would lapse (null otherwise).
    expires_at: datetime | None = None


class BudgetLineState(msgspec.Struct, frozen=True, rename="camel"):
    """A budget line as it stands (or stood). ``available`` is current budget −
    pre-encumbered − committed − actual; ``forecast`` is actual + open commitments +
    estimate to complete."""

    id: UUID
    version: int
    #: The line's state: draft (no budget approved yet), active or closed.
    status: str
    #: Whether the line is frozen: no requisitions or purchase orders may be posted to it.
    frozen: bool
    fiscal_year: int
    cost_centre: str
    #: The spend category: staffing, supplies, equipment, training, outreach, contracted_services or
    #: other.
    category: str
    currency: str
    #: The budget as approved (zero until then).
    original_budget: Amount
    #: The approved budget with every amendment and transfer since.
    current_budget: Amount
    #: Requisitions still open: not yet relieved by a purchase order, nor reversed.
    pre_encumbered: Amount
    #: Purchase orders still open: not yet relieved by an invoice, released or reversed.
    committed: Amount
    #: Spend recorded (invoices, payroll), net of reversals.
    actual: Amount
    #: Current budget − pre-encumbered − committed − actual; negative when overspent.
    available: Amount
    #: The latest forecast of spend still to come beyond actuals and open commitments.
    estimate_to_complete: Amount
    #: Actual + committed + estimate to complete.
    forecast: Amount
    #: The current budget over the 12 fiscal periods, period 1 first.
    phasing: list[Amount]
    #: Amendment and overspend requests waiting for another person's approval.
    open_requests: list[OpenRequest]

    @classmethod
    def of(cls, line: BudgetLine) -> BudgetLineState:
        def money(amount: Decimal) -> Amount:
            return Amount(amount, line.currency)

        def request(request_id: str, terms: dict[str, Any]) -> OpenRequest:
            def minor(key: str) -> Amount | None:
                value = terms.get(key)
                return None if value is None else money(minor_to_decimal(value, line.currency))

            return OpenRequest(
                id=UUID(request_id), kind=terms["kind"], requested_by=terms["requested_by"],
                amount=minor("amount"), limit=minor("limit"), expires_at=terms.get("expires_at"),
            )  # fmt: skip

        return cls(
            id=line.id, version=line.version, status=line.status, frozen=line.frozen,
            fiscal_year=line.fiscal_year, cost_centre=line.cost_centre, category=line.category,
            currency=line.currency, original_budget=money(line.original_budget),
            current_budget=money(line.current_budget),
            pre_encumbered=money(line.pre_encumbered), committed=money(line.committed),
            actual=money(line.actual), available=money(line.available),
            estimate_to_complete=money(line.estimate_to_complete),
            forecast=money(line.forecast), phasing=[money(p) for p in line.phasing],
            open_requests=[request(i, terms) for i, terms in line.open_requests.items()],
        )  # fmt: skip


get_budget_line = state_handler(
    BUDGET_LINES, BudgetLine, BudgetLineState, BUDGET_READERS,
    operation_id="getBudgetLine", summary="A budget line now, as of a version, or as of a time",
)  # fmt: skip


FiscalYear = Annotated[
    int,
    QueryParameter(
        name="fiscalYear", ge=2000, le=2200,
        description="Fiscal year N starts in calendar year N (the NHS's 2026/27 is 2026).",
    ),
]  # fmt: skip
CostCentre = Annotated[
    str | None,
    QueryParameter(
        name="costCentre",
        required=False,
        max_length=64,
        pattern=QUERY_TEXT_PATTERN,
        description="One cost centre",
    ),
]
AsOfPeriod = Annotated[
    int | None,
    QueryParameter(
        name="asOfPeriod", ge=1, le=12, required=False,
        description="Year to date runs to this period (1-12); default: the period today is in.",
    ),
]  # fmt: skip


def budget_routers(rules: BudgetRules) -> list[Router]:
    """``/budget-lines`` (commands and state), ``/budget-transfers`` and ``/budget/summary``."""

    @read_route(
        "/summary",
        operation_id="getBudgetSummary",
        name="budget:summary",
        summary="Budget vs actual per line and period, rolled up per cost centre",
        description="Budget, phased year to date, pre-encumbered, committed, actual, available, "
        "forecast, variance, variance % and two signals: `rag`, the overspend risk (red when "
        "the forecast is above the budget, else green), and `underspendRag` (green up to 2 % "
        "under budget, amber up to 5 %, red beyond). Roles: manager, finance, "
        "finance_director, board.",
        guards=[may_read(BUDGET_REPORT_READERS, "budget summary")],
        responses=problem_responses(400, 401, 403, 500, 503),
    )
    def get_summary(
        request: Request[Any, Any, Any],
        fiscal_year: FiscalYear,
        cost_centre: CostCentre = None,
        as_of_period: AsOfPeriod = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = DEFAULT_WAIT_MS,
    ) -> Response[BudgetSummary]:
        today = rules.local_date(utc_now()) if as_of_period is None else None

        def query(tx: Transaction, prefix: str) -> BudgetSummary:
            return budget_store.summary(
                tx, prefix, fiscal_year, cost_centre,
                as_of_period=as_of_period, today=today, calendar=rules,
            )  # fmt: skip

        return query_view(request, budget_store.NAME, min_position, wait_ms, query)

    lines: list[HTTPRouteHandler] = [
        untargeted_handler(
            BUDGET_LINES, "/", CreateBudgetLine,
            "Budget line created: its id, version and log position",
        ),
        *(action_handler(BUDGET_LINES, a, command) for a, command in BUDGET_ACTIONS.items()),
        get_budget_line,
    ]  # fmt: skip
    transfer = untargeted_handler(
        BUDGET_LINES, "/", TransferBudget,
        "Transferred: the source line's new version and log position",
    )  # fmt: skip
    return [
        Router(path="/budget-lines", route_handlers=lines, tags=["Budget"]),
        Router(path="/budget-transfers", route_handlers=[transfer], tags=["Budget"]),
        Router(path="/budget", route_handlers=[get_summary], tags=["Budget"]),
    ]
