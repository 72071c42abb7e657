"""Money: an exact ``Decimal`` amount in an ISO 4217 currency (domain-spec §0).

In the domain an amount is a :class:`Money` (``Decimal``, never float); stored, it is an
integer count of the currency's minor units plus the currency code. An amount with more
decimals than its currency has is refused, never rounded: rounding would silently change a
posted figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from domain.shared.errors import DomainValidationError

#: ISO 4217 minor-unit exponents of the currencies this service accepts. Data, not code: a
#: currency is added here (with its exponent from the ISO 4217 table) and nowhere else.
CURRENCY_EXPONENTS: dict[str, int] = {
    "GBP": 2, "USD": 2, "EUR": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "ZAR": 2, "INR": 2, "SGD": 2,
    "HKD": 2, "JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3,
}  # fmt: skip


#: Amounts are below 10^15 major units: in minor units (at most 3 decimals) they fit a 64-bit
#: integer, the type read models store them in.
MAX_AMOUNT = Decimal(10) ** 15

#: The largest magnitude, in minor units, any total a read model stores may reach (a budget
#: line's budget, spend at each stage, estimate to complete, each period's figures): read
#: models keep them in BIGINT (±9.2 × 10^18), with ample room to spare. A value beyond it is
#: not a figure the system can hold, so a command that would reach it is invalid input.
MAX_TOTAL_MINOR = 10**17


def exponent_of(currency: str, *, field: str = "currency") -> int:
    """The currency's number of decimals; an unknown code is refused."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise DomainValidationError("not a supported ISO 4217 currency code", field=field)
    return exponent


def to_decimal(value: Decimal | str | int, *, field: str = "amount") -> Decimal:
    """A finite Decimal from a Decimal, a decimal string or an int. Floats are refused: a
    binary float cannot hold most decimal amounts (0.1) exactly."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise DomainValidationError("an amount must be a decimal string", field=field)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise DomainValidationError("not a decimal amount", field=field) from None
    if not amount.is_finite():
        raise DomainValidationError("an amount must be finite", field=field)
    if abs(amount) >= MAX_AMOUNT:
        raise DomainValidationError("the amount is too large", field=field)
    return amount


@dataclass(frozen=True, order=False)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str, *, field: str = "amount") -> Money:
        """Checked construction: a known currency and no more decimals than it has.
        ``field`` names the input in the error (``limit``, ``estimateToComplete``)."""
        exponent = exponent_of(currency, field=f"{field}.currency")
        value = to_decimal(amount, field=field)
        quantum = Decimal(1).scaleb(-exponent)
        # Trailing zeros are no extra precision ("1.500" GBP is 1.50); any other digit is.
        if value != value.quantize(quantum, rounding=ROUND_DOWN):
            raise DomainValidationError(
                f"{currency} amounts have at most {exponent} decimals", field=field
            )
        # Normalised to the currency's exponent, so equal amounts look alike ("5" → "5.00").
        return cls(value.quantize(quantum), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        exponent = exponent_of(currency)
        return cls(Decimal(minor).scaleb(-exponent), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    @property
    def minor(self) -> int:
        """The amount in minor units (pence, cents, yen, fils): exact by construction."""
        return int(self.amount.scaleb(exponent_of(self.currency)))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    # ---- arithmetic within one currency -------------------------------------------------
    def _same(self, other: object) -> Money:
        """``other``, checked to be Money in this currency. Any other operand is a
        TypeError, as Python's own operators raise for a type they cannot combine."""
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise DomainValidationError(
                f"cannot combine {other.currency} with {self.currency}", field="currency"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money.from_minor(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money.from_minor(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money.from_minor(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor


def within_total_bound(minor: int) -> bool:
    """Whether a stored total of this many minor units is representable (``MAX_TOTAL_MINOR``)."""
    return -MAX_TOTAL_MINOR <= minor <= MAX_TOTAL_MINOR


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    """A stored minor-unit count as the Decimal amount it is (``12345, GBP`` → ``123.45``)."""
    return Money.from_minor(minor, currency).amount
