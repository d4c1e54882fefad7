"""Money: exact decimal amounts in one currency, rounded half-up to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from app.domain.errors import BusinessValidationError

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "EUR"


def round_cent(value: Decimal) -> Decimal:
    """Half-up to the cent, as French invoices round (0.005 → 0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_cents(cents: int) -> str:
    """Whole cents as the API writes amounts (``12345`` → ``"123.45"``), without Decimal:
    every order representation carries several amounts."""
    sign = "-" if cents < 0 else ""
    whole, cent = divmod(abs(cents), 100)
    return f"{sign}{whole}.{cent:02d}"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> Money:
        if isinstance(amount, float):
            raise TypeError("money is never built from a float")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise BusinessValidationError(f"{amount!r} is not an amount.") from None
        if not value.is_finite():
            raise BusinessValidationError(f"{amount!r} is not a finite amount.")
        return cls(round_cent(value), currency)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(Decimal("0.00"), currency)

    @classmethod
    def from_cents(cls, cents: int, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(Decimal(cents).scaleb(-2), currency)

    def to_cents(self) -> int:
        return int(round_cent(self.amount).scaleb(2))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def is_negative(self) -> bool:
        return self.amount < 0

    def text(self) -> str:
        """The amount with exactly two decimals, as the API serialises it."""
        return f"{round_cent(self.amount):.2f}"

    def as_json(self) -> dict[str, str]:
        return {"amount": self.text(), "currency": self.currency}
