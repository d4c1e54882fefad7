"""Money on the wire: a decimal string with its currency, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.domain.amounts import Money
from app.schemas.common import ApiModel

AmountText = Annotated[
    str,
    Field(
        pattern=r"^\d{1,7}(\.\d{1,2})?$",
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
        # Every order representation carries several amounts: integer formatting here, not
        # Decimal arithmetic (the same text as Money.from_cents(cents).text()). Plain __init__:
        # pydantic validates in Rust faster than model_construct assigns in Python.
        sign = "-" if cents < 0 else ""
        whole, cent = divmod(abs(cents), 100)
        return cls(amount=f"{sign}{whole}.{cent:02d}", currency=currency)
