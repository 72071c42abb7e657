"""BudgetRules: approval tiers as data and the fiscal calendar (domain-spec §3)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfoNotFoundError

import pytest

from domain.budget.policy import ApprovalTier, BudgetRules
from domain.shared.errors import ApprovalRequiredError

RULES = BudgetRules()


@pytest.mark.parametrize(
    ("role", "limit"),
    [("manager", Decimal(5000)), ("finance", Decimal(50000)),
     ("finance_director", Decimal(250000)), ("board", None), ("clerk", Decimal(0))],
)  # fmt: skip
def test_the_default_tiers_are_those_of_the_spec(role: str, limit: Decimal | None) -> None:
    assert RULES.limit_of(role, "GBP") == RULES.limit_of(role, "USD") == limit
    assert RULES.fiscal_year_start_month == 4


def test_an_amount_at_the_limit_is_within_the_tier_and_a_penny_more_is_not() -> None:
    RULES.require_approval("manager", Decimal("5000.00"), "GBP")
    RULES.require_approval("manager", Decimal("-5000.00"), "GBP")  # a reduction, by its size
    with pytest.raises(ApprovalRequiredError) as refused:
        RULES.require_approval("manager", Decimal("5000.01"), "GBP")
    assert refused.value.code == "APPROVAL_REQUIRED"
    assert "finance" in refused.value.message  # it names the tier that could approve it
    RULES.require_approval("board", Decimal("10") ** 14, "GBP")


def test_a_role_without_a_tier_approves_nothing() -> None:
    with pytest.raises(ApprovalRequiredError):
        RULES.require_approval("clerk", Decimal("0.01"), "GBP")


def test_tiers_are_data_a_facility_may_change() -> None:
    rules = BudgetRules(approval_tiers={"USD": (ApprovalTier("manager", Decimal(1000)),)})
    with pytest.raises(ApprovalRequiredError):
        rules.require_approval("manager", Decimal(1001), "USD")
    with pytest.raises(ApprovalRequiredError):
        rules.require_approval("board", Decimal(1), "USD")
    assert rules.tier_for(Decimal(999), "USD") == "manager"
    assert rules.tier_for(Decimal(1001), "USD") is None


def test_tiers_are_kept_per_currency_and_an_amount_meets_only_its_own() -> None:
    """5,000 KWD and 5,000 JPY are not one tier: each currency has its own limits."""
    rules = BudgetRules(
        approval_tiers={
            "KWD": (ApprovalTier("manager", Decimal(1_500)), ApprovalTier("board", None)),
            "JPY": (ApprovalTier("manager", Decimal(1_000_000)), ApprovalTier("board", None)),
        }
    )
    rules.require_approval("manager", Decimal(5_000), "JPY")
    with pytest.raises(ApprovalRequiredError) as refused:
        rules.require_approval("manager", Decimal(5_000), "KWD")
    assert "1500 KWD" in refused.value.message and "board" in refused.value.message
    assert rules.tier_for(Decimal(5_000), "KWD") == "board"
    assert rules.tier_for(Decimal(5_000), "JPY") == "manager"


def test_a_currency_without_tiers_of_its_own_is_approved_by_the_board_only() -> None:
    """No limit set in pounds is applied to yen: without tiers configured for a currency,
    only a role without limit approves (no exchange rate is assumed)."""
    for role in ("manager", "finance", "finance_director"):
        with pytest.raises(ApprovalRequiredError) as refused:
            RULES.require_approval(role, Decimal(1), "JPY")
        assert "no approval tiers are configured for JPY" in refused.value.message
    RULES.require_approval("board", Decimal(10) ** 14, "JPY")
    assert RULES.limit_of("manager", "KWD") == 0 and RULES.tier_for(Decimal(1), "KWD") == "board"


@pytest.mark.parametrize(
    ("day", "fiscal_year", "period"),
    [
        (date(2026, 4, 1), 2026, 1),
        (date(2026, 12, 31), 2026, 9),
        (date(2027, 3, 31), 2026, 12),
        (date(2026, 3, 31), 2025, 12),
    ],
)
def test_an_april_fiscal_year_is_named_by_the_year_it_starts_in(
    day: date, fiscal_year: int, period: int
) -> None:
    assert RULES.fiscal_year_of(day) == fiscal_year
    assert RULES.period_of(fiscal_year, day) == period


def test_days_outside_the_year_fall_in_period_0_or_13() -> None:
    assert RULES.period_of(2026, date(2026, 3, 31)) == 0
    assert RULES.period_of(2026, date(2027, 4, 1)) == 13
    assert RULES.period_start(2026, 1) == date(2026, 4, 1)
    assert RULES.period_start(2026, 10) == date(2027, 1, 1)


def test_a_calendar_fiscal_year_starts_in_january() -> None:
    rules = BudgetRules(fiscal_year_start_month=1)
    assert rules.period_of(2026, date(2026, 1, 1)) == 1
    assert rules.period_of(2026, date(2026, 12, 31)) == 12
    assert rules.period_start(2026, 12) == date(2026, 12, 1)


def test_instants_are_bucketed_in_the_facility_time_zone() -> None:
    # 23:30 UTC on 31 March 2026 is 00:30 on 1 April in London (BST): period 1 of FY 2026.
    late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone.utc)
    assert RULES.period_of(2026, RULES.local_date(late)) == 1
    assert BudgetRules(facility_timezone="UTC").period_of(2026, late.date()) == 0


def test_a_bad_start_month_or_time_zone_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        BudgetRules(fiscal_year_start_month=13)
    with pytest.raises(ZoneInfoNotFoundError):
        BudgetRules(facility_timezone="Mars/Olympus")
