"""What the budget commands accept on the wire: money, currencies, fiscal years, categories.

Money on the wire is ``{"amount": "1234.50", "currency": "GBP"}``: the amount a decimal
string (a JSON number is refused, as are exponents and more decimals than the currency has),
the currency a supported ISO 4217 code. Such input is refused while decoding, so it is a 400
naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from domain.shared.errors import DomainValidationError
from domain.shared.money import CURRENCY_EXPONENTS, Money

Category = Literal[
    "staffing", "supplies", "equipment", "training", "outreach", "contracted_services", "other"
]
FiscalYear = Annotated[int, msgspec.Meta(ge=2000, le=2199)]
#: The enum is for the OpenAPI document only: an unsupported code is refused by Money (400
#: "not a supported ISO 4217 currency code"), whose table lists the codes.
CurrencyCode = Annotated[
    str,
    msgspec.Meta(pattern=r"^[A-Z]{3}$", extra_json_schema={"enum": sorted(CURRENCY_EXPONENTS)}),
]
#: A plain decimal: optional sign, digits, optional fraction. No exponent, no spaces.
_DECIMAL = re.compile(r"^-?[0-9]{1,16}(\.[0-9]{1,6})?$")
#: What an amount can be in some currency: below 10^15, at most 3 decimals (KWD's).
AMOUNT_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,3})?$"


class MoneyAmount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``{"amount": "1234.50", "currency": "GBP"}``."""

    # The pattern is for the document: __post_init__ and Money check it, with messages that
    # say what is wrong.
    #: The amount as a decimal string ("125.00"): under 10^15, with no more decimals
    #: than the currency has (2 for GBP, USD and EUR; at most 3).
    amount: Annotated[
        str,
        msgspec.Meta(
            max_length=24, examples=["1234.50"], extra_json_schema={"pattern": AMOUNT_PATTERN}
        ),
    ]
    currency: CurrencyCode

    def __post_init__(self) -> None:
        if not _DECIMAL.match(self.amount):
            raise ValueError('amount must be a decimal string such as "1234.50"')
        try:
            self.money()
        except DomainValidationError as refused:
            # A ValueError here becomes msgspec's ValidationError, naming the field.
            raise ValueError(refused.message) from None

    def money(self) -> Money:
        return Money.of(self.amount, self.currency)
