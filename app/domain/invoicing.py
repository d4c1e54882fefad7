"""The invoice ("note") handed over with a repaired watch, with the mentions French law requires.

A note is compulsory from 25 € incl. VAT; Atelier issues one for any amount charged. It carries
the date, the workshop's identity, the customer's name, the date and place of work, the itemised
lines with quantities and prices, the totals excl. and incl. VAT per rate, the VAT mention and
the consumer mediator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.domain.amounts import Money
from app.domain.handback import add_months
from app.domain.quoting import QuoteLine, Totals, VatRegime, line_total

COMPULSORY_FROM = Money.of("25.00")


def invoice_required(total_incl: Money) -> bool:
    return total_incl >= COMPULSORY_FROM


def format_invoice_number(year: int, sequence: int) -> str:
    return f"F-{year}-{sequence:06d}"


@dataclass(frozen=True)
class WorkshopIdentity:
    name: str
    address: str
    siret: str
    vat_number: str
    vat_regime: VatRegime
    mediator_name: str
    mediator_contact: str


def _rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def build_invoice(
    *,
    number: str,
    issued_on: date,
    workshop: WorkshopIdentity,
    customer_name: str,
    order_number: str,
    work_started_on: date | None,
    work_finished_on: date,
    lines: Sequence[QuoteLine],
    totals: Totals,
    deposit: Money,
    amount_due: Money,
    refund: Money,
) -> dict[str, Any]:
    """The invoice as a JSON-ready document, frozen when issued."""
    items = []
    for line in lines:
        amounts = line_total(line, workshop.vat_regime)
        items.append(
            {
                "kind": line.kind.value,
                "code": line.code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price_excl_vat": line.unit_price.as_json(),
                "vat_rate": _rate_text(
                    Decimal(0) if workshop.vat_regime is VatRegime.EXEMPT else line.vat_rate
                ),
                "total_excl_vat": amounts.excl_vat.as_json(),
                "total_incl_vat": amounts.incl_vat.as_json(),
                "warranty_months": line.warranty_months,
                "warranty_until": (
                    add_months(work_finished_on, line.warranty_months).isoformat()
                    if line.warranty_months
                    else None
                ),
            }
        )
    return {
        "number": number,
        "issued_on": issued_on.isoformat(),
        "workshop": {
            "name": workshop.name,
            "address": workshop.address,
            "siret": workshop.siret or None,
            "vat_number": workshop.vat_number or None,
        },
        "customer": {"name": customer_name},
        "order_number": order_number,
        "work": {
            "place": workshop.address,
            "started_on": work_started_on.isoformat() if work_started_on else None,
            "finished_on": work_finished_on.isoformat(),
        },
        "lines": items,
        "totals": {
            "excl_vat": totals.excl_vat.as_json(),
            "vat": totals.vat.as_json(),
            "incl_vat": totals.incl_vat.as_json(),
            "vat_breakdown": [
                {"rate": _rate_text(s.rate), "base": s.base.as_json(), "vat": s.vat.as_json()}
                for s in totals.vat_breakdown
            ],
        },
        "deposit": deposit.as_json(),
        "amount_due": amount_due.as_json(),
        "refund": refund.as_json(),
        "vat_mention": totals.vat_mention,
        "mediator": {"name": workshop.mediator_name, "contact": workshop.mediator_contact},
        "compulsory": invoice_required(totals.incl_vat),
    }
