"""Money on the wire: a decimal string with its currency, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.domain.amounts import Money, format_cents
from app.schemas.common import ApiModel

AmountText = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,7}(\.[0-9]{1,2})?$",
        description="A non-negative decimal amount with at most two decimals",
        examples=["123.45"],
    ),
]


class MoneyIn(ApiModel):
    amount: AmountText
    currency: Literal["EUR"] = "EUR"

    def to_money(self) -> Money:
        return Money.of(Decimal(self.amount), self.currency)


class MoneyRead(BaseModel):
    amount: str = Field(examples=["123.45"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, money: Money) -> MoneyRead:
        return cls(amount=money.text(), currency=money.currency)

    @classmethod
    def cents(cls, cents: int, currency: str = "EUR") -> MoneyRead:
        # Plain __init__: pydantic validates in Rust faster than model_construct assigns.
        return cls(amount=format_cents(cents), currency=currency)
