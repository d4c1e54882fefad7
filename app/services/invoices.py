"""The invoice ("note") issued when a watch is handed back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.amounts import Money
from app.domain.errors import NotFound
from app.domain.invoicing import WorkshopIdentity, build_invoice, format_invoice_number
from app.domain.quoting import QuoteLine, VatRegime, amount_due, fee_line, totals
from app.models import Customer, Invoice, RepairOrder
from app.repositories import quotes as quote_repository
from app.repositories import repair_orders as order_repository
from app.services.quotes import QuoteState
from app.settings import Settings


def workshop_identity(settings: Settings) -> WorkshopIdentity:
    return WorkshopIdentity(
        name=settings.workshop_name,
        address=settings.workshop_address,
        siret=settings.workshop_siret,
        vat_number=settings.workshop_vat_number,
        vat_regime=VatRegime(settings.vat_regime),
        mediator_name=settings.mediator_name,
        mediator_contact=settings.mediator_contact,
    )


async def issue_at_hand_back(
    session: AsyncSession,
    order: RepairOrder,
    quotes: QuoteState,
    lines: Sequence[QuoteLine],
    now: datetime,
    settings: Settings,
) -> Invoice | None:
    """Issue the note for whatever is charged; nothing is issued when nothing is owed."""
    currency = order.currency
    regime = VatRegime(settings.vat_regime)
    charged_lines = list(lines)
    declined = quotes.latest_issued
    if order.fee_due_cents and declined is not None and declined.diagnosis_fee_cents:
        charged_lines.append(fee_line(Money.from_cents(declined.diagnosis_fee_cents, currency)))
    work = totals(charged_lines, regime, currency)
    charged = Money.zero(currency) if order.free_of_charge else work.incl_vat
    if charged.amount == 0:
        return None
    balance = amount_due(
        approved_total=Money.from_cents(order.approved_total_cents, currency),
        fee_due=Money.from_cents(order.fee_due_cents, currency),
        deposit=Money.from_cents(order.deposit_cents, currency),
        free_of_charge=order.free_of_charge,
    )
    sequence = await quote_repository.next_invoice_sequence(session, now.year)
    number = format_invoice_number(now.year, sequence)
    customer = await session.get(Customer, order.customer_id)
    document = build_invoice(
        number=number,
        issued_on=now.date(),
        workshop=workshop_identity(settings),
        customer_name=customer.name if customer else "",
        order_number=order.number,
        work_started_on=order.deposited_at.date() if order.deposited_at else None,
        work_finished_on=now.date(),
        lines=charged_lines,
        totals=work,
        deposit=Money.from_cents(order.deposit_cents, currency),
        amount_due=balance.due,
        refund=balance.refund,
    )
    invoice = Invoice(
        order_id=order.id,
        number=number,
        issued_at=now,
        total_incl_cents=charged.to_cents(),
        document=document,
        created_at=now,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def invoice_for(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> Invoice:
    order = await order_repository.get(session, actor, order_id)
    invoice = await quote_repository.invoice_of(session, order.id) if order else None
    if invoice is None:
        raise NotFound("No invoice for this order (issued at hand-back when something is owed).")
    return invoice
