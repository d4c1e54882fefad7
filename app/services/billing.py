"""An order's money as its representation writes it, from its column values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.amounts import format_cents
from app.domain.quoting import balance_in_cents

# The columns ``billing`` reads.
BILLING_INPUTS = (
    "currency",
    "deposit_cents",
    "preapproved_ceiling_cents",
    "approved_total_cents",
    "fee_due_cents",
    "free_of_charge",
)


def billing(values: Mapping[Any, Any]) -> dict[str, dict[str, str] | None]:
    """The order's money as its representation writes it, from its column values.

    Plain ``{"amount", "currency"}`` mappings: the response model validates them along with
    the rest of the order in one pass (a list page presents fifty orders)."""
    currency = values["currency"]
    due, refund = balance_in_cents(
        approved_total=values["approved_total_cents"],
        fee_due=values["fee_due_cents"],
        deposit=values["deposit_cents"],
        free_of_charge=values["free_of_charge"],
    )
    ceiling = values["preapproved_ceiling_cents"]
    return {
        "deposit": _money(values["deposit_cents"], currency),
        "preapproved_ceiling": _money(ceiling, currency) if ceiling is not None else None,
        "approved_total": _money(values["approved_total_cents"], currency),
        "fee_due": _money(values["fee_due_cents"], currency),
        "amount_due": _money(due, currency),
        "refund_due": _money(refund, currency),
    }


def _money(cents: int, currency: str) -> dict[str, str]:
    return {"amount": format_cents(cents), "currency": currency}
