"""Quotes: line totals, VAT per rate, optional lines, review threshold, ceiling, amount due.

Rounding follows the French practice the brief fixes: each line's amount excl. VAT is rounded
half-up to the cent, its VAT likewise, and the totals are the sums of the rounded lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from app.domain.amounts import Money, round_cent
from app.domain.errors import BusinessValidationError, Conflict

STANDARD_VAT_RATE = Decimal("0.20")
VAT_EXEMPT_MENTION = "TVA non applicable, art. 293 B du CGI"
MAX_QUANTITY = 1000


class VatRegime(StrEnum):
    STANDARD = "standard"
    EXEMPT = "exempt"


class LineKind(StrEnum):
    SERVICE = "service"
    PART = "part"


class RevisionStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"


class QuoteLocked(Conflict):
    code = "quote-locked"
    title = "A sent quote revision cannot change"


class DraftExists(Conflict):
    code = "quote-draft-exists"
    title = "A draft quote revision already exists"


@dataclass(frozen=True)
class QuoteLine:
    line_id: str
    kind: LineKind
    code: str
    description: str
    quantity: int
    unit_price: Money
    vat_rate: Decimal = STANDARD_VAT_RATE
    mandatory: bool = True
    warranty_months: int = 12


@dataclass(frozen=True)
class LineTotal:
    excl_vat: Money
    vat: Money
    incl_vat: Money


@dataclass(frozen=True)
class VatShare:
    rate: Decimal
    base: Money
    vat: Money


@dataclass(frozen=True)
class Totals:
    excl_vat: Money
    vat: Money
    incl_vat: Money
    vat_breakdown: tuple[VatShare, ...]
    vat_mention: str | None


def validate_lines(lines: Sequence[QuoteLine], pointer: str = "/lines") -> None:
    if not lines:
        raise BusinessValidationError("A quote needs at least one line.", pointer)
    for index, line in enumerate(lines):
        at = f"{pointer}/{index}"
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise BusinessValidationError("Quantity must be 1 to 1000.", f"{at}/quantity")
        if line.unit_price.is_negative():
            raise BusinessValidationError("A price cannot be negative.", f"{at}/unit_price")
        if not Decimal(0) <= line.vat_rate <= Decimal(1):
            raise BusinessValidationError("A VAT rate lies between 0 and 1.", f"{at}/vat_rate")


def line_total(line: QuoteLine, regime: VatRegime) -> LineTotal:
    excl = Money(round_cent(line.unit_price.amount * line.quantity), line.unit_price.currency)
    rate = Decimal(0) if regime is VatRegime.EXEMPT else line.vat_rate
    vat = Money(round_cent(excl.amount * rate), excl.currency)
    return LineTotal(excl, vat, excl + vat)


def totals(
    lines: Iterable[QuoteLine],
    regime: VatRegime,
    currency: str,
    include: Callable[[QuoteLine], bool] = lambda _line: True,
) -> Totals:
    excl, vat = Money.zero(currency), Money.zero(currency)
    per_rate: dict[Decimal, tuple[Money, Money]] = {}
    for line in lines:
        if not include(line):
            continue
        amounts = line_total(line, regime)
        excl, vat = excl + amounts.excl_vat, vat + amounts.vat
        rate = Decimal(0) if regime is VatRegime.EXEMPT else line.vat_rate
        base, tax = per_rate.get(rate, (Money.zero(currency), Money.zero(currency)))
        per_rate[rate] = (base + amounts.excl_vat, tax + amounts.vat)
    breakdown = tuple(VatShare(rate, b, t) for rate, (b, t) in sorted(per_rate.items()))
    mention = VAT_EXEMPT_MENTION if regime is VatRegime.EXEMPT else None
    return Totals(excl, vat, excl + vat, breakdown, mention)


def fee_line(fee_excl_vat: Money) -> QuoteLine:
    """The diagnosis fee owed when a quote is declined: a service like any other, excl. VAT."""
    return QuoteLine(
        line_id="diagnosis-fee",
        kind=LineKind.SERVICE,
        code="diagnosis",
        description="Diagnostic et devis (devis refusé)",
        quantity=1,
        unit_price=fee_excl_vat,
        vat_rate=STANDARD_VAT_RATE,
        mandatory=True,
        warranty_months=0,
    )


def mandatory_only(line: QuoteLine) -> bool:
    return line.mandatory


def accepted(accepted_optional: Iterable[str]) -> Callable[[QuoteLine], bool]:
    chosen = frozenset(accepted_optional)
    return lambda line: line.mandatory or line.line_id in chosen


def check_accepted_optional(lines: Sequence[QuoteLine], accepted_optional: Iterable[str]) -> None:
    optional = {line.line_id for line in lines if not line.mandatory}
    for index, line_id in enumerate(accepted_optional):
        if line_id not in optional:
            raise BusinessValidationError(
                f"Line {line_id} is not an optional line of this quote.",
                f"/accepted_optional_lines/{index}",
            )


def needs_manager_review(total_incl: Money, threshold: Money) -> bool:
    """Quotes strictly above the threshold go to a manager before they are sent."""
    return threshold < total_incl


def within_ceiling(total_incl: Money, ceiling: Money | None) -> bool:
    """The customer said "repair without asking me up to this amount" at intake."""
    return ceiling is not None and total_incl <= ceiling


def default_valid_until(sent_on: date, validity_days: int) -> date:
    return sent_on + timedelta(days=validity_days)


def is_expired(valid_until: date, today: date) -> bool:
    """A quote is valid through its validity date."""
    return today > valid_until


@dataclass(frozen=True)
class AmountDue:
    due: Money
    refund: Money


def amount_due(
    *,
    approved_total: Money,
    fee_due: Money,
    deposit: Money,
    free_of_charge: bool,
) -> AmountDue:
    """What the customer pays at hand-back: work approved (or the diagnosis fee when the quote
    was declined) less the deposit; a deposit larger than that is refunded."""
    due, refund = balance_in_cents(
        approved_total=approved_total.to_cents(),
        fee_due=fee_due.to_cents(),
        deposit=deposit.to_cents(),
        free_of_charge=free_of_charge,
    )
    currency = deposit.currency
    return AmountDue(due=Money.from_cents(due, currency), refund=Money.from_cents(refund, currency))


def balance_in_cents(
    *, approved_total: int, fee_due: int, deposit: int, free_of_charge: bool
) -> tuple[int, int]:
    """``amount_due`` on whole cents, as orders store them: (due, refund), one of them zero.

    Every order representation shows this balance, so it is computed without Decimal."""
    owed = 0 if free_of_charge else approved_total + fee_due
    balance = owed - deposit
    return (0, -balance) if balance < 0 else (balance, 0)
