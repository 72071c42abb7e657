"""The budget-vs-actual read model's fold.

Each BudgetLine record is folded into a :class:`~projections.budget.line_state.LineState`:
the line's totals now and, per fiscal period (1..12), its phased budget and the net
movements of pre-encumbered, committed and actual spend in that period. The events carry
every figure (amounts, the phasing of each budget change, how much each posting relieved), so
the fold needs nothing but them and the fiscal calendar, which buckets a posting by its
``occurred_at`` in the facility's time zone. A posting dated before the year counts in
period 1, one after it (a year-end adjustment) in period 12. A reversal (``PostingReversed``)
is a net movement out of its stage in the period it is dated in, as a release is. The domain
keeps every figure stored here within ``domain.shared.money.MAX_TOTAL_MINOR`` (each period's
net movement of a stage included), so the BIGINT columns cannot overflow.

**Declared coverage.** :data:`HANDLED` names the event classes the fold acts on and
:data:`IGNORED` every other event class of the aggregate (tests check the two against
``BudgetLine``). A record of a class in neither (one added to the domain since) is skipped:
the line's version and position move on, nothing else changes, and a
``budget.unknown_event`` warning names its topic once per class per process. It never
raises, so a new event class cannot stop the worker.

:func:`~projections.budget.summary.summarise` turns stored rows into the summary of
domain-spec §3; it and the line state are re-exported here as the read model's one entry
point.
"""

from __future__ import annotations

import structlog

from domain.budget.line import BudgetLine
from domain.budget.phasing import PERIODS
from domain.budget.policy import BudgetRules
from domain.budget.vocabulary import ACTUAL, COMMITMENT, PRE_ENCUMBRANCE
from projections.budget.line_state import (
    ACTUAL_FIGURE,
    BUDGET_FIGURE,
    COMMITTED_FIGURE,
    LINE_COLUMNS,
    PERIOD_COLUMNS,
    PRE_FIGURE,
    LineState,
)
from projections.budget.summary import (
    AMBER_UP_TO,
    GREEN_UP_TO,
    Amount,
    BudgetSummary,
    CostCentreSummary,
    Figures,
    LineSummary,
    PeriodRow,
    rag_of,
    summarise,
)
from projections.shared.records import (
    FirstSighting,
    StoredRecord,
    decode_state,
    is_event_of,
    key_text,
)

__all__ = [
    "AMBER_UP_TO", "GREEN_UP_TO", "HANDLED", "IGNORED", "LINE_COLUMNS", "PERIOD_COLUMNS",
    "Amount", "BudgetSummary", "CostCentreSummary", "Figures", "LineState", "LineSummary",
    "PeriodRow", "fold", "rag_of", "summarise", "wants",
]  # fmt: skip

log = structlog.get_logger("projections")


def wants(topic: str) -> bool:
    """Whether this read model reads records of ``topic``: every BudgetLine event."""
    return is_event_of(topic, BudgetLine)


#: Event class names this projection folds, and those it knowingly leaves alone.
HANDLED: frozenset[str] = frozenset({
    "BudgetLineCreated", "BudgetApproved", "BudgetAmended", "BudgetTransferredOut",
    "BudgetTransferredIn", "PreEncumbranceRecorded", "CommitmentRecorded", "ActualRecorded",
    "CommitmentReleased", "PostingReversed", "ForecastUpdated", "OverspendDetected",
    "LineFrozen", "LineUnfrozen", "BudgetLineClosed",
})  # fmt: skip
#: The aggregate's base event classes (never stored themselves), and the requests and
#: authorisations that move no figure of the view until a budget change or posting does.
IGNORED: frozenset[str] = frozenset({
    "Event", "Created", "BudgetChanged", "Posting", "AmendmentRequested",
    "OverspendAuthorisationRequested", "OverspendAuthorised", "RequestRejected",
})  # fmt: skip

#: A stage of spend (domain.budget.vocabulary) → its figure's index in a period.
_STAGE_INDEX = {PRE_ENCUMBRANCE: PRE_FIGURE, COMMITMENT: COMMITTED_FIGURE, ACTUAL: ACTUAL_FIGURE}
_STAGE_TOTAL = {PRE_ENCUMBRANCE: "pre_minor", COMMITMENT: "committed_minor", ACTUAL: "actual_minor"}
_BUDGET_CHANGES = frozenset(
    {"BudgetApproved", "BudgetAmended", "BudgetTransferredOut", "BudgetTransferredIn"}
)

#: The unknown event class names already warned about (once per class per process).
_UNKNOWN = FirstSighting()


def _skip_unknown(kind: str, record: StoredRecord) -> None:
    if _UNKNOWN.first(kind):
        # The topic and position only: a record's values may be personal data.
        log.warning("budget.unknown_event", topic=record.topic, position=record.position)


def fold(state: LineState | None, record: StoredRecord, calendar: BudgetRules) -> LineState:
    """The line after one more record (its own ``apply``, for the view's figures).

    The first record of a line must be its creation: anything else is a broken log, which
    raises (the worker parks that record, see ``adapters.readmodels.worker``). A record the
    view has no use for (:data:`IGNORED`, or a class it does not know) only moves the line's
    version and position on."""
    kind = record.topic.rsplit(".", 1)[-1]
    if state is not None and kind not in HANDLED:
        if kind not in IGNORED:
            _skip_unknown(kind, record)
        state.version, state.position = record.originator_version, record.position
        return state
    event = decode_state(record.state)
    if state is None:
        assert kind == "BudgetLineCreated", f"a line's first record is its creation, not {kind}"
        state = LineState(
            id=str(record.originator_id), version=0, position=0,
            fiscal_year=event["fiscal_year"], cost_centre=key_text(event["cost_centre"]),
            category=event["category"], currency=event["currency"],
        )  # fmt: skip
    state.version, state.position = record.originator_version, record.position
    fiscal_period = calendar.period_of(state.fiscal_year, calendar.local_date(event["occurred_at"]))
    period = state.periods[min(max(fiscal_period, 1), PERIODS) - 1]
    amount = event.get("amount_minor", 0)
    relieved = event.get("relieved_minor", 0)
    if kind in _BUDGET_CHANGES:
        state.budget_minor += amount
        for amounts, phased in zip(state.periods, event["phasing_minor"], strict=True):
            amounts[BUDGET_FIGURE] += phased
        if kind == "BudgetApproved":
            state.status, state.original_minor = "active", amount
    elif kind == "PreEncumbranceRecorded":
        state.pre_minor += amount
        period[PRE_FIGURE] += amount
    elif kind == "CommitmentRecorded":
        state.committed_minor += amount
        state.pre_minor -= relieved
        period[COMMITTED_FIGURE] += amount
        period[PRE_FIGURE] -= relieved
    elif kind == "ActualRecorded":
        state.actual_minor += amount
        state.committed_minor -= relieved
        period[ACTUAL_FIGURE] += amount
        period[COMMITTED_FIGURE] -= relieved
    elif kind == "CommitmentReleased":
        state.committed_minor -= amount
        period[COMMITTED_FIGURE] -= amount
    elif kind == "PostingReversed":
        total = _STAGE_TOTAL[event["stage"]]
        setattr(state, total, getattr(state, total) - amount)
        period[_STAGE_INDEX[event["stage"]]] -= amount
    elif kind == "ForecastUpdated":
        state.etc_minor = event["estimate_to_complete_minor"]
        state.forecast_method = event["method"]
    elif kind == "OverspendDetected":
        state.overspend_flagged = True
    elif kind in ("LineFrozen", "LineUnfrozen"):
        state.frozen = kind == "LineFrozen"
    elif kind == "BudgetLineClosed":
        state.status = "closed"
    return state
