"""Money (Decimal + ISO 4217, minor units when stored) and largest-remainder phasing
(domain-spec §0, §3)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.budget.phasing import PERIODS, even_phasing, largest_remainder
from domain.shared.errors import DomainValidationError
from domain.shared.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    MAX_TOTAL_MINOR,
    Money,
    minor_to_decimal,
    within_total_bound,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minor_units = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)


# ---- money -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("GBP", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("CHF", 2), ("CAD", 2), ("AUD", 2),
     ("SEK", 2), ("NOK", 2), ("DKK", 2), ("KWD", 3)],
)  # fmt: skip
def test_each_supported_currency_has_its_iso_4217_exponent(currency: str, exponent: int) -> None:
    assert CURRENCY_EXPONENTS[currency] == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("1234.50", "GBP", 123_450, "1234.50"),
        ("5", "GBP", 500, "5.00"),
        ("1.500", "GBP", 150, "1.50"),  # trailing zeros are not extra precision
        ("-0.01", "EUR", -1, "-0.01"),
        ("1500", "JPY", 1500, "1500"),
        ("1.234", "KWD", 1234, "1.234"),
    ],
)
def test_an_amount_is_held_exactly_and_converts_to_minor_units(
    amount: str, currency: str, minor: int, shown: str
) -> None:
    money = Money.of(amount, currency)
    assert money.minor == minor
    assert str(money.amount) == shown
    assert Money.from_minor(minor, currency) == money


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.001", "GBP"), ("1.5", "JPY"), ("0.0001", "KWD"), ("1.011", "USD")]
)
def test_more_decimals_than_the_currency_has_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(DomainValidationError) as refused:
        Money.of(amount, currency)
    assert (refused.value.code, refused.value.field) == ("VALIDATION", "amount")


@pytest.mark.parametrize("amount", [1.5, 0.1, True, "NaN", "Infinity", "1,5", "", None])
def test_floats_and_values_that_are_not_finite_decimals_are_refused(amount: object) -> None:
    with pytest.raises(DomainValidationError) as refused:
        Money.of(amount, "GBP")  # type: ignore[arg-type]
    assert refused.value.field == "amount"


def test_an_amount_too_large_for_64_bit_minor_units_is_refused() -> None:
    with pytest.raises(DomainValidationError):
        Money.of(MAX_AMOUNT, "KWD")
    assert Money.of(MAX_AMOUNT - Decimal("0.001"), "KWD").minor < 2**63


@pytest.mark.parametrize("currency", ["XXX", "gbp", "GB", ""])
def test_an_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(DomainValidationError) as refused:
        Money.of("1", currency)
    assert refused.value.field == "amount.currency"


def test_arithmetic_stays_within_one_currency() -> None:
    assert Money.of("0.10", "GBP") + Money.of("0.20", "GBP") == Money.of("0.30", "GBP")
    assert Money.of("1", "GBP") - Money.of("1.01", "GBP") == Money.of("-0.01", "GBP")
    assert -Money.of("2", "JPY") == Money.of("-2", "JPY")
    assert Money.of("1", "GBP") < Money.of("1.01", "GBP") <= Money.of("1.01", "GBP")
    with pytest.raises(DomainValidationError):
        Money.of("1", "GBP") + Money.of("1", "EUR")


@given(minor=minor_units, currency=currencies)
def test_minor_units_round_trip_exactly(minor: int, currency: str) -> None:
    money = Money.from_minor(minor, currency)
    assert money.minor == minor
    assert Money.of(str(money.amount), currency) == money
    assert minor_to_decimal(minor, currency) == money.amount
    assert money.amount.as_tuple().exponent == -CURRENCY_EXPONENTS[currency]


# ---- phasing ---------------------------------------------------------------------------------
@given(
    total=st.integers(min_value=-(10**18), max_value=10**18),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=24).filter(
        any
    ),
)
def test_phasing_sums_exactly_and_each_part_is_within_one_minor_unit_of_its_share(
    total: int, weights: list[int]
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, sum(weights))
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0


@given(total=minor_units, first=st.integers(min_value=1, max_value=PERIODS))
def test_even_phasing_spreads_over_the_periods_from_the_first_only(total: int, first: int) -> None:
    parts = even_phasing(total, first_period=first)
    assert len(parts) == PERIODS and sum(parts) == total
    assert parts[: first - 1] == [0] * (first - 1)
    assert max(parts[first - 1 :]) - min(parts[first - 1 :]) <= 1


def test_the_left_over_minor_units_go_to_the_earliest_periods_on_a_tie() -> None:
    assert even_phasing(100_000) == [8334] * 4 + [8333] * 8
    assert even_phasing(-100_000) == [-8334] * 4 + [-8333] * 8
    assert even_phasing(7, first_period=10) == [0] * 9 + [3, 2, 2]
    assert largest_remainder(10, [1, 2]) == [3, 7]  # 3.33 and 6.67: the larger remainder wins


def test_phasing_needs_weights() -> None:
    for weights in ([], [0, 0], [1, -1]):
        with pytest.raises(ValueError):
            largest_remainder(10, weights)
    with pytest.raises(ValueError):
        even_phasing(10, first_period=13)


def test_a_stored_total_is_bounded_well_inside_a_64_bit_column() -> None:
    assert MAX_TOTAL_MINOR * 90 < 2**63  # room for the sums a summary makes of them
    assert within_total_bound(MAX_TOTAL_MINOR) and within_total_bound(-MAX_TOTAL_MINOR)
    assert not within_total_bound(MAX_TOTAL_MINOR + 1)
    assert not within_total_bound(-MAX_TOTAL_MINOR - 1)
