"""Phasing: spreading an amount over the periods of a year, exactly (largest remainder).

Each period gets the floor of its exact share in minor units; the minor units left over go
one each to the periods with the largest fractional remainders (the earlier period first on
a tie). So the parts always sum to the total exactly, and each differs from its exact share
by less than one minor unit. Integer arithmetic throughout: nothing is ever rounded twice.
"""

from __future__ import annotations

from collections.abc import Sequence

PERIODS = 12


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` minor units split in proportion to non-negative integer ``weights``.

    A negative total is split as its magnitude and negated, so a reduction is phased like
    an increase of the same size."""
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("phasing needs non-negative weights that are not all zero")
    if total < 0:
        return [-part for part in largest_remainder(-total, weights)]
    whole = sum(weights)
    shares = [divmod(total * weight, whole) for weight in weights]
    parts = [quotient for quotient, _ in shares]
    left_over = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in by_remainder[:left_over]:
        parts[index] += 1
    return parts


def even_phasing(total: int, first_period: int = 1, periods: int = PERIODS) -> list[int]:
    """``total`` spread evenly over periods ``first_period``..``periods`` (1-based); the
    periods before ``first_period`` get nothing. An amendment made in month 7 is phased over
    months 7 to 12: the months already past cannot be budgeted again."""
    if not 1 <= first_period <= periods:
        raise ValueError("the first period must be within the year")
    weights = [0 if period < first_period else 1 for period in range(1, periods + 1)]
    return largest_remainder(total, weights)
